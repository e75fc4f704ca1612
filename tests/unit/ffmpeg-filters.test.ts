/**
 * The filter allow-list checked against the installed ffmpeg (`ffmpeg -h filter=<name>`): every allowed
 * filter exists, every option that can name a file is declared (read via an input placeholder, or
 * refused), and the positional order used to map shorthand values to file options is ffmpeg's own.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { ALLOWED_FILTERS, FILE_KEYS, FILE_OPTIONS, FORBIDDEN_FILTERS } from "../../src/media/ffmpeg/filters";
import { runProcess } from "../../src/media/runner";

interface HelpOption {
  name: string;
  type: string;
  desc: string;
}

/** Option lines are indented by 3 spaces; named constants (5 spaces, no `<type>`) are skipped. */
const OPTION_LINE = /^ {3}-?(\S+)\s+<([\w ]+)>\s+\S+\s?(.*)$/;
const ffmpegOut = async (...args: string[]) =>
  (await runProcess({ argv: ["ffmpeg", "-hide_banner", ...args], timeoutMs: 20_000 })).stdout;

/** "<class> AVOptions:" sections of a help text, by class name, options in declaration order. */
function sections(text: string): Map<string, HelpOption[]> {
  const out = new Map<string, HelpOption[]>();
  const parts = text.split(/^(\S.*) AVOptions:$/m);
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const options = parts[i + 1]!.split("\n").flatMap((line) => {
      const m = OPTION_LINE.exec(line);
      return m === null ? [] : [{ name: m[1]!, type: m[2]!, desc: m[3]! }];
    });
    out.set(parts[i]!, [...(out.get(parts[i]!) ?? []), ...options]);
  }
  return out;
}

/** Shorthand order as libavfilter computes it: aliases (same type and description, adjacent) collapsed. */
function shorthandOrder(options: HelpOption[]): string[] {
  const order: string[] = [];
  let prev: HelpOption | undefined;
  for (const o of options) {
    if (prev === undefined || prev.type !== o.type || prev.desc !== o.desc) order.push(o.name);
    prev = o;
  }
  return order;
}

let known: Set<string>;
/** Every option a filter can take (its own class and child classes), and its own class alone. */
const options = new Map<string, { all: HelpOption[]; own: HelpOption[] }>();

beforeAll(async () => {
  // `-h full` lists most filter classes at once; filters whose class is named differently (shared or
  // option-less classes) and the file-option filters are asked one by one (each spawn costs ~0.2 s).
  const [list, full] = await Promise.all([ffmpegOut("-filters"), ffmpegOut("-h", "full")]);
  known = new Set([...list.matchAll(/^ [T.][S.][C.] (\S+)/gm)].map((m) => m[1]!));
  const byClass = sections(full);
  const children = [...(byClass.get("SWResampler") ?? []), ...(byClass.get("SWScaler") ?? [])];
  const slow: string[] = [];
  for (const name of ALLOWED_FILTERS) {
    const own = [...byClass].filter(
      ([c]) => c === name || c.startsWith(`${name}(`) || c.includes(`(${name})`),
    );
    if (own.length === 0 || Object.hasOwn(FILE_OPTIONS, name)) slow.push(name);
    else options.set(name, { all: [...own.flatMap(([, o]) => o), ...children], own: [] });
  }
  for (let i = 0; i < slow.length; i += 8) {
    const chunk = slow.slice(i, i + 8);
    const helps = await Promise.all(chunk.map((n) => ffmpegOut("-h", `filter=${n}`)));
    chunk.forEach((n, j) => {
      const secs = [...sections(helps[j]!).values()];
      options.set(n, { all: secs.flat(), own: secs[0] ?? [] });
    });
  }
}, 60_000);

/** String options whose name or description suggests a path; all must be declared in FILE_OPTIONS. */
const FILEISH =
  /file|path|\bdir(ectory)?\b|font|save|dump|plot|kdtree|write|load|librar|url|model|script|program/i;
/** Matches FILEISH but takes no path: drawtext colour/size expressions, and `font` (checked by FONT_NAME). */
const NOT_PATHS = new Set(["drawtext.fontcolor_expr", "drawtext.fontsize", "drawtext.font"]);

describe("filter allow-list vs ffmpeg -h filter=<name>", () => {
  test("there are 100+ allowed filters, all known to this ffmpeg, none forbidden", () => {
    expect(ALLOWED_FILTERS.size).toBeGreaterThan(100);
    for (const name of ALLOWED_FILTERS) {
      expect({ name, known: known.has(name) }).toEqual({ name, known: true });
      expect(Object.hasOwn(FORBIDDEN_FILTERS, name)).toBe(false);
    }
  });

  test("every option that can name a file is declared (read from an input, or refused)", () => {
    for (const name of ALLOWED_FILTERS) {
      const declared = new Set([
        ...(FILE_OPTIONS[name]?.read ?? []),
        ...(FILE_OPTIONS[name]?.forbidden ?? []),
      ]);
      for (const o of options.get(name)?.all ?? []) {
        const fileish = o.type === "string" && (FILEISH.test(o.name) || FILEISH.test(o.desc));
        if ((fileish && !NOT_PATHS.has(`${name}.${o.name}`)) || FILE_KEYS.has(o.name)) {
          expect({ filter: name, option: o.name, declared: declared.has(o.name) }).toMatchObject({
            declared: true,
          });
        }
      }
    }
  });

  test("the declared positional order is ffmpeg's own", () => {
    for (const [name, spec] of Object.entries(FILE_OPTIONS)) {
      const order = shorthandOrder(options.get(name)?.own ?? []);
      expect({ name, order: order.slice(0, spec.order.length) }).toEqual({ name, order: spec.order });
      for (const opt of [...spec.read, ...spec.forbidden]) {
        expect(options.get(name)?.own.map((o) => o.name)).toContain(opt);
      }
    }
  });
});
