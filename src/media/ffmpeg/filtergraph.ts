/**
 * Filtergraph syntax, exactly as libavfilter 5.1 reads it, and a canonical writer.
 *
 * Two levels of quoting (doc "Notes on filtergraph escaping"): the graph level splits chains (`;`),
 * filters (`,`), labels (`[…]`) and `name=args` with `av_get_token` (backslash escapes one character,
 * `'…'` is literal, leading/trailing unescaped whitespace dropped); the option level splits args into
 * `key=value` or positional values on `:` with the same token rules. {@link parseGraph} mirrors both;
 * the planner checks the parsed structure and {@link emitGraph} writes it back with its own escaping,
 * so ffmpeg runs exactly the graph that was checked — a quoting trick cannot hide a second filter.
 */
import { CommandError } from "./errors";

export interface FilterArg {
  /** Option name, or null for a positional (shorthand) value. */
  key: string | null;
  /** Value after both levels of unescaping. */
  value: string;
}

export interface FilterNode {
  inputs: string[];
  name: string;
  /** null when the filter has no `=args`. */
  args: FilterArg[] | null;
  outputs: string[];
}

/** Chains (split on `;`) of filters (split on `,`). */
export type Graph = FilterNode[][];

const WS = " \n\t\r";
/** `is_key_char` in libavutil/opt.c. */
const KEY_CHAR = /[A-Za-z0-9_./-]/;

/** libavutil `av_get_token`: reads up to an unescaped, unquoted terminator. Returns [token, next index]. */
export function getToken(s: string, from: number, term: string): [string, number] {
  let p = from;
  while (p < s.length && WS.includes(s.charAt(p))) p++;
  let out = "";
  let end = 0;
  while (p < s.length && !term.includes(s.charAt(p))) {
    const c = s.charAt(p++);
    if (c === "\\" && p < s.length) {
      out += s.charAt(p++);
      end = out.length;
    } else if (c === "'") {
      while (p < s.length && s.charAt(p) !== "'") out += s.charAt(p++);
      if (p < s.length) {
        p++;
        end = out.length;
      }
    } else {
      out += c;
    }
  }
  let len = out.length;
  while (len > end && WS.includes(out.charAt(len - 1))) len--;
  return [out.slice(0, len), p];
}

const skipWs = (s: string, p: number): number => {
  let i = p;
  while (i < s.length && WS.includes(s.charAt(i))) i++;
  return i;
};

/** `parse_inputs`/`parse_outputs`: zero or more `[label]`. */
function parseLabels(s: string, from: number): [string[], number] {
  const labels: string[] = [];
  let p = from;
  while (s.charAt(p) === "[") {
    const [name, q] = getToken(s, p + 1, "]");
    if (name === "" || s.charAt(q) !== "]") {
      throw new CommandError("Bad or unterminated [label] in filtergraph", s.slice(p, q + 1));
    }
    labels.push(name);
    p = skipWs(s, q + 1);
  }
  return [labels, p];
}

/** Option level: `process_options` + `av_opt_get_key_value` (`=` between key and value, `:` between pairs). */
export function parseArgs(args: string): FilterArg[] {
  const out: FilterArg[] = [];
  let p = 0;
  while (p < args.length) {
    let key: string | null = null;
    let k = skipWs(args, p);
    const keyStart = k;
    while (k < args.length && KEY_CHAR.test(args.charAt(k))) k++;
    const keyEnd = k;
    k = skipWs(args, k);
    if (args.charAt(k) === "=") {
      key = args.slice(keyStart, keyEnd);
      p = k + 1;
    }
    const [value, q] = getToken(args, p, ":");
    out.push({ key, value });
    p = q < args.length ? q + 1 : q;
  }
  return out;
}

/** Graph level: `avfilter_graph_parse2`. Throws CommandError on syntax ffmpeg would reject. */
export function parseGraph(text: string): Graph {
  const graph: Graph = [];
  let chain: FilterNode[] = [];
  let p = skipWs(text, 0);
  for (;;) {
    p = skipWs(text, p);
    const [inputs, afterIn] = parseLabels(text, p);
    const [name, afterName] = getToken(text, afterIn, "=,;[");
    if (name === "")
      throw new CommandError("Missing filter name in filtergraph", text.slice(afterIn) || text);
    p = afterName;
    let args: FilterArg[] | null = null;
    if (text.charAt(p) === "=") {
      const [raw, afterArgs] = getToken(text, p + 1, "[],;");
      args = parseArgs(raw);
      p = afterArgs;
    }
    const [outputs, afterOut] = parseLabels(text, p);
    chain.push({ inputs, name, args, outputs });
    p = skipWs(text, afterOut);
    const sep = text.charAt(p);
    p++;
    if (sep === ";") {
      graph.push(chain);
      chain = [];
    } else if (sep !== ",") {
      graph.push(chain);
      if (sep !== "") throw new CommandError("Unexpected text in filtergraph", text.slice(p - 1));
      return graph;
    }
  }
}

/** Backslash-escapes every character of `s` that is in `special`, plus edge whitespace. */
function escapeChars(s: string, special: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    const edgeWs = WS.includes(c) && (i === 0 || i === s.length - 1);
    out += special.includes(c) || edgeWs ? `\\${c}` : c;
  }
  return out;
}

/**
 * Escapes an option value (level 2): `\`, `'`, `:` and edge whitespace; `=` too in a positional value,
 * where `key=` at its start would otherwise be read as an option name.
 */
export const escapeOptionValue = (v: string, positional = true): string =>
  escapeChars(v, positional ? "\\':=" : "\\':");
/** Escapes an args string (level 1): `\`, `'`, `[`, `]`, `,`, `;` and edge whitespace. */
export const escapeGraphArgs = (a: string): string => escapeChars(a, "\\'[],;");

/** Writes a graph back; `value(node, arg)` may replace a value (placeholders become paths). */
export function emitGraph(graph: Graph, value: (node: FilterNode, arg: FilterArg) => string): string {
  return graph
    .map((chain) =>
      chain
        .map((node) => {
          const ins = node.inputs.map((l) => `[${l}]`).join("");
          const outs = node.outputs.map((l) => `[${l}]`).join("");
          if (node.args === null || node.args.length === 0) return `${ins}${node.name}${outs}`;
          const args = node.args
            .map((a) => {
              const v = escapeOptionValue(value(node, a), a.key === null);
              return a.key === null ? v : `${a.key}=${v}`;
            })
            .join(":");
          return `${ins}${node.name}=${escapeGraphArgs(args)}${outs}`;
        })
        .join(","),
    )
    .join(";");
}
