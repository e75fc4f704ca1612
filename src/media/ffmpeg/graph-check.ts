/**
 * Checks a parsed filtergraph against the filter allow-list. Positional values are mapped to option
 * names the way libavfilter 5.1 does (declaration order, aliases collapsed); a positional value after a
 * named one is refused because ffmpeg then restarts that mapping in a non-obvious way.
 */
import { CommandError } from "./errors";
import type { Graph } from "./filtergraph";
import { ALLOWED_FILTERS, FILE_KEYS, FILE_OPTIONS, FONT_NAME, FORBIDDEN_FILTERS } from "./filters";
import { looksLikePlaceholder, wholePlaceholder } from "./placeholders";

/** A file a filter reads, given as an input placeholder. */
export interface FilterFileUse {
  alias: string;
  /** The placeholder as written, for error messages. */
  text: string;
  filter: string;
  option: string;
}

const LABEL = /^[A-Za-z0-9_:.-]{1,64}$/;
const KEY = /^[A-Za-z0-9_]{1,64}$/;
/** Loader/opener filter names followed by `=` inside a value: a filter smuggled into an argument. */
const SMUGGLED = new RegExp(
  `(?:^|[^A-Za-z0-9_])(?:${["movie", "amovie", "sendcmd", "asendcmd", "zmq", "azmq", "ladspa", "lv2", "frei0r"].join("|")})(?:_src)?\\s*=`,
);

function checkName(name: string): void {
  const why = Object.hasOwn(FORBIDDEN_FILTERS, name) ? FORBIDDEN_FILTERS[name] : undefined;
  if (why !== undefined) throw new CommandError(`Filter "${name}" is not allowed: ${why}`, name);
  if (!ALLOWED_FILTERS.has(name)) {
    throw new CommandError(`Filter "${name}" is not on the filter allow-list`, name);
  }
}

/** Validates every filter, label and option of `graph`; returns the files its filters read. */
export function checkGraph(graph: Graph): FilterFileUse[] {
  const uses: FilterFileUse[] = [];
  for (const node of graph.flat()) {
    checkName(node.name);
    for (const label of [...node.inputs, ...node.outputs]) {
      if (!LABEL.test(label)) throw new CommandError(`Bad filtergraph label "[${label}]"`, label);
    }
    const files = FILE_OPTIONS[node.name];
    let named = false;
    let position = 0;
    for (const arg of node.args ?? []) {
      let option: string | undefined;
      if (arg.key !== null) {
        if (!KEY.test(arg.key))
          throw new CommandError(`Bad option name "${arg.key}" in "${node.name}"`, arg.key);
        named = true;
        option = arg.key;
      } else {
        if (named) {
          throw new CommandError(
            `Filter "${node.name}": a positional value cannot follow a named option ("${arg.value}")`,
            arg.value,
          );
        }
        option = files?.order[position];
        position++;
      }
      checkValue(node.name, option, arg.value, uses);
    }
  }
  return uses;
}

function checkValue(filter: string, option: string | undefined, value: string, uses: FilterFileUse[]): void {
  const files = FILE_OPTIONS[filter];
  const reads = option !== undefined && files?.read.includes(option) === true;
  const forbidden =
    option !== undefined && (files?.forbidden.includes(option) === true || (FILE_KEYS.has(option) && !reads));
  const shown = option ?? "positional value";
  if (forbidden) {
    throw new CommandError(
      `Filter option "${shown}" of "${filter}" is not allowed (it writes a file or names a path): "${value}"`,
      value,
    );
  }
  if (reads) {
    const alias = wholePlaceholder(value);
    if (alias === null) {
      throw new CommandError(
        `Filter option "${shown}" of "${filter}" must be an input placeholder such as {{in_file}}, not "${value}"`,
        value,
      );
    }
    uses.push({ alias, text: value, filter, option });
    return;
  }
  if (looksLikePlaceholder(value)) {
    throw new CommandError(
      `Placeholder "${value}" in "${filter}" is only allowed as the whole value of a file option`,
      value,
    );
  }
  if (filter === "drawtext" && option === "font" && !FONT_NAME.test(value)) {
    throw new CommandError(`drawtext font must be a plain family name, not "${value}"`, value);
  }
  if (SMUGGLED.test(value)) {
    throw new CommandError(`Value "${value}" of "${filter}" looks like a hidden filter`, value);
  }
}
