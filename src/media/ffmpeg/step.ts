/**
 * Parses one user command into checked parts: global options, inputs and outputs, each with its own
 * options. Decides nothing about aliases (the planner does); guarantees that every option is on the
 * allow-list in a position it may take, every value passes its grammar, every filtergraph is checked,
 * and every `-i` value and output is a placeholder or a plain intermediate file name.
 */
import { CommandError } from "./errors";
import { type Graph, parseGraph } from "./filtergraph";
import type { Role } from "./grammar";
import { checkGraph, type FilterFileUse } from "./graph-check";
import { lookupOption, type ParsedOption } from "./options";
import {
  isIntermediateName,
  looksLikePlaceholder,
  normalisePlaceholders,
  wholePlaceholder,
} from "./placeholders";
import { tokenize } from "./tokenize";

/** One argv element: a literal word or a checked filtergraph (written out when argv is built). */
export type Piece = { word: string } | { graph: Graph };

/** What an `-i` reads or an output writes. `word` is the text as the user wrote it. */
export type Target = { alias: string; word: string } | { file: string; word: string };

export interface FileSpec {
  options: Piece[];
  target: Target;
}

export interface ParsedStep {
  globals: Piece[];
  inputs: FileSpec[];
  outputs: FileSpec[];
  filterFiles: FilterFileUse[];
}

interface Pending {
  word: string;
  opt: ParsedOption;
  value: string | undefined;
}

/** Parses and checks one command (a leading `ffmpeg` word is ignored). Throws CommandError. */
export function parseStep(command: string): ParsedStep {
  const words = tokenize(normalisePlaceholders(command));
  if (words[0] === "ffmpeg") words.shift();
  if (words.length === 0) throw new CommandError("The command is empty");
  const step: ParsedStep = { globals: [], inputs: [], outputs: [], filterFiles: [] };
  let pending: Pending[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? "";
    if (word === "-i") {
      const value = words[++i];
      if (value === undefined) throw new CommandError("-i needs an input placeholder after it", word);
      const options = pending.flatMap((p) => attach(p, "input", step));
      step.inputs.push({ options, target: target(value, "input") });
      pending = [];
    } else if (word.startsWith("-") && word.length > 1) {
      const opt = lookupOption(word);
      let value: string | undefined;
      if (opt.spec.value !== undefined) {
        value = words[++i];
        if (value === undefined) throw new CommandError(`Option "${word}" needs a value`, word);
      }
      if (opt.spec.scope === "global") step.globals.push(...attach({ word, opt, value }, "global", step));
      else pending.push({ word, opt, value });
    } else {
      const options = pending.flatMap((p) => attach(p, "output", step));
      step.outputs.push({ options, target: target(word, "output") });
      pending = [];
    }
  }
  const trailing = pending[0];
  if (trailing !== undefined) {
    throw new CommandError(
      `Option "${trailing.word}" is not followed by an input or an output`,
      trailing.word,
    );
  }
  if (step.outputs.length === 0) throw new CommandError("The command has no output placeholder");
  return step;
}

/** Checks an option in its final position and returns its argv pieces (none for dropped options). */
function attach(p: Pending, role: Role, step: ParsedStep): Piece[] {
  const { scope, value: grammar, drop } = p.opt.spec;
  if (scope !== role && !(scope === "io" && role !== "global")) {
    const where =
      scope === "io" ? "before an -i or an output" : scope === "input" ? "before an -i" : "before an output";
    throw new CommandError(`Option "${p.word}" is only allowed ${where}`, p.word);
  }
  if (drop) return [];
  if (p.value === undefined || grammar === undefined) return [{ word: p.word }];
  if (grammar === "graph") {
    const graph = parseGraph(p.value);
    step.filterFiles.push(...checkGraph(graph));
    return [{ word: p.word }, { graph }];
  }
  if (looksLikePlaceholder(p.value)) {
    throw new CommandError(`Placeholders are not allowed in the value of "${p.word}": "${p.value}"`, p.value);
  }
  const problem = grammar(p.value, role);
  if (problem !== null) {
    throw new CommandError(`Invalid value "${p.value}" for "${p.word}": ${problem}`, p.value);
  }
  return [{ word: p.word }, { word: p.value }];
}

/** An `-i` value or an output word: a whole placeholder or a plain intermediate file name. */
function target(word: string, role: "input" | "output"): Target {
  const alias = wholePlaceholder(word);
  if (alias !== null) return { alias, word };
  if (looksLikePlaceholder(word)) {
    throw new CommandError(
      `"${word}" is not a valid placeholder (use {{alias}} or <<alias>> as a whole word)`,
      word,
    );
  }
  if (isIntermediateName(word)) return { file: word, word };
  if (role === "input") {
    throw new CommandError(
      `-i must be followed by an input placeholder such as {{in_video}}, not "${word}"`,
      word,
    );
  }
  throw new CommandError(
    `"${word}" is not allowed here: outputs must be placeholders such as {{out_video}}`,
    word,
  );
}
