/**
 * Turns checked commands into planned steps: resolves every placeholder against the declared aliases,
 * enforces the alias and chain rules (spec §1.6, §4.1, §4.2, Decision 8) and builds the final argv with
 * server-chosen paths and the server's input policy right before every `-i`.
 */
import { CommandError } from "./errors";
import { emitGraph } from "./filtergraph";
import { validateAlias, wholePlaceholder } from "./placeholders";
import { assertSafePath, inputPolicy } from "./policy";
import { type ParsedStep, type Piece, parseStep, type Target } from "./step";

/** Declared aliases of a request: `input_files` keys and `output_files` keys. */
export interface AliasDecl {
  inputs: string[];
  outputs: string[];
}

/** alias (or intermediate name) → absolute path inside the job dir, `[A-Za-z0-9/._-]` only. */
export type PathMap = Record<string, string>;

export interface PlannedStep {
  /** `in_*` aliases this step reads (after `-i` or as a filter file option). */
  inputsUsed: string[];
  /** `out_*` aliases written by an earlier step of the chain and read here. */
  outputsRead: string[];
  outputsWritten: string[];
  intermediatesRead: string[];
  intermediatesWritten: string[];
  /**
   * Inputs opened by a filter rather than by `-i` (subtitles, fonts, LUTs). ffmpeg opens these without
   * the input policy; the server should check their format (e.g. ffprobe with
   * SUBTITLE_DEMUXER_WHITELIST for `subtitles`) before running.
   */
  filterInputs: { alias: string; filter: string; option: string }[];
  /**
   * Builds the final argv: ["ffmpeg", ...serverGlobals, ...user global opts, per input: user input opts +
   * input policy + "-i" path, ..., per output: user output opts + path]. Intermediates are relative
   * names (run ffmpeg in the job dir) unless `paths` maps them. Throws Error when a path is missing/unsafe.
   */
  argv(paths: PathMap, serverGlobals: string[]): string[];
}

/** One command (run-ffmpeg-command). Throws CommandError naming the offending token. */
export function planCommand(command: string, decl: AliasDecl): PlannedStep {
  const [step] = plan([command], decl, false);
  if (step === undefined) throw new CommandError("The command is empty");
  return step;
}

/** A chain (run-chained-ffmpeg-commands): ≤10 steps in one working directory. */
export function planChain(commands: string[], decl: AliasDecl): PlannedStep[] {
  if (commands.length === 0) throw new CommandError("ffmpeg_commands must contain at least one command");
  if (commands.length > 10) throw new CommandError("ffmpeg_commands may contain at most 10 commands");
  return plan(commands, decl, true);
}

const keyOf = (t: Target): string => ("alias" in t ? t.alias : t.file);
const isAlias = (t: Target): t is Extract<Target, { alias: string }> => "alias" in t;

/** What the planner knows while walking the steps in order. */
interface State {
  declared: Set<string>;
  used: Set<string>;
  /** out_* alias or intermediate → index of the step that writes it. */
  written: Map<string, number>;
  chain: boolean;
  /** " (command N)" in chains, for messages. */
  where: string;
}
type Reads = { in: Set<string>; out: Set<string>; files: Set<string> };
type Writes = { out: Set<string>; files: Set<string> };

function plan(commands: string[], decl: AliasDecl, chain: boolean): PlannedStep[] {
  for (const a of decl.inputs) fail(validateAlias(a, "in"), a);
  for (const a of decl.outputs) fail(validateAlias(a, "out"), a);
  const state: State = {
    declared: new Set([...decl.inputs, ...decl.outputs]),
    used: new Set(),
    written: new Map(),
    chain,
    where: "",
  };
  const steps = commands.map((command, index) => {
    const parsed = parseStep(command);
    state.where = chain ? ` (command ${index + 1})` : "";
    const reads = checkReads(parsed, state);
    const writes = checkWrites(parsed, state);
    for (const key of [...writes.out, ...writes.files]) state.written.set(key, index);
    return makeStep(parsed, reads, writes);
  });
  for (const alias of state.declared) {
    if (!state.used.has(alias)) {
      throw new CommandError(`Declared alias "${alias}" is not used in the command`, alias);
    }
  }
  for (const alias of decl.outputs) {
    if (!state.written.has(alias)) throw new CommandError(`Output "${alias}" is never written`, alias);
  }
  return steps;
}

function fail(problem: string | null, token: string): void {
  if (problem !== null) throw new CommandError(problem, token);
}

/** Marks a placeholder's alias as used; refuses an undeclared one. */
function use(state: State, alias: string, word: string): void {
  if (!state.declared.has(alias)) {
    throw new CommandError(`Placeholder "${word}" is not a declared alias${state.where}`, word);
  }
  state.used.add(alias);
}

/** `-i` targets and filter files: inputs anywhere; outputs and intermediates only once written. */
function checkReads(parsed: ParsedStep, state: State): Reads {
  const reads: Reads = { in: new Set(), out: new Set(), files: new Set() };
  for (const { target } of parsed.inputs) {
    if (isAlias(target)) use(state, target.alias, target.word);
    const key = keyOf(target);
    if (isAlias(target) && key.startsWith("in_")) {
      reads.in.add(key);
      continue;
    }
    if (!state.chain) {
      const what = isAlias(target) ? "an output placeholder" : "an intermediate file";
      throw new CommandError(`-i cannot read ${what} in a single command: "${target.word}"`, target.word);
    }
    if (!state.written.has(key)) {
      const msg = `"${target.word}" is read${state.where} before a previous command writes it`;
      throw new CommandError(msg, target.word);
    }
    (isAlias(target) ? reads.out : reads.files).add(key);
  }
  for (const f of parsed.filterFiles) {
    use(state, f.alias, f.text);
    if (!f.alias.startsWith("in_")) {
      const msg = `Filter option "${f.option}" needs an input placeholder, not "${f.text}"`;
      throw new CommandError(msg, f.text);
    }
    reads.in.add(f.alias);
  }
  return reads;
}

/** Outputs: declared out_* aliases (or intermediates in chains), each written once in the whole plan. */
function checkWrites(parsed: ParsedStep, state: State): Writes {
  const writes: Writes = { out: new Set(), files: new Set() };
  for (const { target } of parsed.outputs) {
    const key = keyOf(target);
    if (isAlias(target)) {
      use(state, target.alias, target.word);
      if (key.startsWith("in_")) {
        throw new CommandError(`Input placeholder "${target.word}" cannot be an output`, target.word);
      }
    } else if (!state.chain) {
      const msg = `"${target.word}" is not allowed here: outputs must be placeholders such as {{out_video}}`;
      throw new CommandError(msg, target.word);
    }
    if (writes.out.has(key) || writes.files.has(key) || state.written.has(key)) {
      throw new CommandError(`"${target.word}" is written more than once`, target.word);
    }
    (isAlias(target) ? writes.out : writes.files).add(key);
  }
  return writes;
}

function makeStep(parsed: ParsedStep, reads: Reads, writes: Writes): PlannedStep {
  return {
    inputsUsed: [...reads.in],
    outputsRead: [...reads.out],
    outputsWritten: [...writes.out],
    intermediatesRead: [...reads.files],
    intermediatesWritten: [...writes.files],
    filterInputs: parsed.filterFiles.map(({ alias, filter, option }) => ({ alias, filter, option })),
    argv(paths: PathMap, serverGlobals: string[]): string[] {
      const pathOf = (key: string, isFile: boolean): string =>
        isFile && paths[key] === undefined ? key : assertSafePath(key, paths[key]);
      const resolve = (t: Target): string => ("alias" in t ? pathOf(t.alias, false) : pathOf(t.file, true));
      const piece = (p: Piece): string =>
        "word" in p
          ? p.word
          : emitGraph(p.graph, (_node, arg) => {
              const alias = wholePlaceholder(arg.value);
              return alias === null ? arg.value : pathOf(alias, false);
            });
      return [
        "ffmpeg",
        ...serverGlobals,
        ...parsed.globals.map(piece),
        ...parsed.inputs.flatMap((i) => [...i.options.map(piece), ...inputPolicy(), "-i", resolve(i.target)]),
        ...parsed.outputs.flatMap((o) => [...o.options.map(piece), resolve(o.target)]),
      ];
    },
  };
}
