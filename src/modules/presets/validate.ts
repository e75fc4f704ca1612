import { AppError, type ValidationDetail, validationError } from "../../errors";
import {
  CommandError,
  planChain,
  planCommand,
  validateAlias,
  validateOutputFilename,
} from "../../media/ffmpeg";
import { normalisePlaceholders, placeholdersIn } from "../../media/ffmpeg/placeholders";
import { MAX_METADATA_KEYS, MAX_STEPS } from "../commands/validate";
import type { PresetCommandType } from "./model";

/** What a preset runs: the part of a preset that must always validate as a whole. */
export interface PresetDefinition {
  command_type: PresetCommandType;
  ffmpeg_command: string | null;
  ffmpeg_commands: string[] | null;
  input_file_keys: string[];
  output_file_definitions: Record<string, string>;
  metadata: Record<string, string | number | boolean> | null;
}

/** One independent command of a MULTIPLE_COMMAND preset and the declared aliases it names. */
export interface PresetEntry {
  ffmpeg_command: string;
  inputs: string[];
  outputs: string[];
}

type Metadata = NonNullable<PresetDefinition["metadata"]>;

const invalid = (loc: (string | number)[], msg: string) => validationError(["body", ...loc], msg);

/** A command the ffmpeg layer refused: 400 naming the token, exactly like the run endpoints. */
function refused(e: CommandError, loc: (string | number)[]): AppError {
  const msg = e.token ? `${e.message} (at "${e.token}")` : e.message;
  return new AppError("INVALID_REQUEST", msg, [{ loc: ["body", ...loc], msg, type: "value_error" }]);
}

/**
 * Checks a whole preset definition (create, and the result of every update). Field problems —
 * missing command for the type, bad aliases or file names, too many metadata keys — are 422
 * VALIDATION_ERROR like any body that fails validation; a command the ffmpeg layer refuses is
 * 400 INVALID_REQUEST naming the offending token, the same answer the run endpoints give.
 */
export function validateDefinition(def: PresetDefinition): void {
  const single = def.command_type === "FFMPEG_COMMAND";
  if (single) {
    if (!def.ffmpeg_command?.trim())
      throw invalid(["ffmpeg_command"], "ffmpeg_command is required for FFMPEG_COMMAND presets");
    if (def.ffmpeg_commands !== null)
      throw invalid(["ffmpeg_commands"], "ffmpeg_commands is only for CHAINED_COMMAND and MULTIPLE_COMMAND");
  } else {
    const n = def.ffmpeg_commands?.length ?? 0;
    if (n === 0) throw invalid(["ffmpeg_commands"], `ffmpeg_commands is required for ${def.command_type}`);
    if (n > MAX_STEPS) throw invalid(["ffmpeg_commands"], `at most ${MAX_STEPS} commands are allowed`);
    if (def.ffmpeg_command !== null)
      throw invalid(["ffmpeg_command"], "ffmpeg_command is only for FFMPEG_COMMAND presets");
  }
  if (def.input_file_keys.length === 0)
    throw invalid(["input_file_keys"], "input_file_keys must not be empty");
  for (const [i, key] of def.input_file_keys.entries()) {
    const problem = validateAlias(key, "in");
    if (problem) throw invalid(["input_file_keys", i], problem);
    if (def.input_file_keys.indexOf(key) !== i) throw invalid(["input_file_keys", i], `"${key}" is repeated`);
  }
  const outputs = Object.entries(def.output_file_definitions);
  if (outputs.length === 0)
    throw invalid(["output_file_definitions"], "output_file_definitions must not be empty");
  for (const [alias, name] of outputs) {
    const problem = validateAlias(alias, "out") ?? validateOutputFilename(name);
    if (problem) throw invalid(["output_file_definitions", alias], problem);
  }
  if (def.metadata && Object.keys(def.metadata).length > MAX_METADATA_KEYS)
    throw invalid(["metadata"], `metadata may have at most ${MAX_METADATA_KEYS} keys`);

  const decl = { inputs: def.input_file_keys, outputs: outputs.map(([a]) => a) };
  if (single) {
    try {
      planCommand(def.ffmpeg_command as string, decl);
    } catch (e) {
      throw e instanceof CommandError ? refused(e, ["ffmpeg_command"]) : e;
    }
  } else if (def.command_type === "CHAINED_COMMAND") {
    try {
      planChain(def.ffmpeg_commands as string[], decl);
    } catch (e) {
      throw e instanceof CommandError ? refused(e, ["ffmpeg_commands"]) : e;
    }
  } else {
    multipleEntries(def);
  }
}

/**
 * Splits a MULTIPLE_COMMAND preset into independent commands. The preset declares the union of the
 * aliases; each command gets exactly the declared aliases its placeholders name, so it can run on
 * its own. Every declared alias must be used by some command and every output written by exactly one
 * (two commands writing one alias would race for the same output). Throws 400 like validateDefinition.
 */
export function multipleEntries(def: PresetDefinition): PresetEntry[] {
  const outputs = Object.keys(def.output_file_definitions);
  const used = new Set<string>();
  const writer = new Map<string, number>();
  const entries = (def.ffmpeg_commands ?? []).map((command, i) => {
    const names = new Set(placeholdersIn(normalisePlaceholders(command)));
    const entry: PresetEntry = {
      ffmpeg_command: command,
      inputs: def.input_file_keys.filter((a) => names.has(a)),
      outputs: outputs.filter((a) => names.has(a)),
    };
    try {
      planCommand(command, entry);
    } catch (e) {
      throw e instanceof CommandError ? refused(e, ["ffmpeg_commands", i]) : e;
    }
    for (const a of [...entry.inputs, ...entry.outputs]) used.add(a);
    for (const a of entry.outputs) {
      if (writer.has(a)) {
        const e = new CommandError(`Output "${a}" is written by more than one command`, a);
        throw refused(e, ["ffmpeg_commands", i]);
      }
      writer.set(a, i);
    }
    return entry;
  });
  for (const a of [...def.input_file_keys, ...outputs]) {
    if (!used.has(a))
      throw refused(new CommandError(`Declared alias "${a}" is not used by any command`, a), [
        "ffmpeg_commands",
      ]);
  }
  return entries;
}

/** Execute: the request's `input_files` keys must be exactly the preset's (spec §7.6), else 422 per key. */
export function checkInputKeys(expected: string[], given: Record<string, string>): void {
  const takes = `this preset takes exactly: ${expected.join(", ")}`;
  const detail: ValidationDetail[] = [
    ...expected
      .filter((k) => !Object.hasOwn(given, k))
      .map((k) => ({ loc: ["body", "input_files", k], msg: `missing input "${k}"; ${takes}` })),
    ...Object.keys(given)
      .filter((k) => !expected.includes(k))
      .map((k) => ({ loc: ["body", "input_files", k], msg: `unexpected input "${k}"; ${takes}` })),
  ].map((d) => ({ ...d, type: "value_error" as const }));
  if (detail[0]) throw new AppError("VALIDATION_ERROR", detail[0].msg, detail);
}

/** Preset metadata overlaid with the request's (request wins); the result obeys the 10-key limit. */
export function mergeMetadata(preset: Metadata | null, request: Metadata | undefined): Metadata | undefined {
  if (!preset && !request) return undefined;
  const merged = { ...preset, ...request };
  const n = Object.keys(merged).length;
  if (n > MAX_METADATA_KEYS) {
    throw validationError(
      ["body", "metadata"],
      `metadata merged with the preset's has ${n} keys; at most ${MAX_METADATA_KEYS} are allowed`,
    );
  }
  return merged;
}
