import { AppError, type ValidationDetail, validationError } from "../../errors";
import {
  type AliasDecl,
  CommandError,
  type PlannedStep,
  planChain,
  planCommand,
  validateAlias,
  validateOutputFilename,
} from "../../media/ffmpeg";
import { type UrlPolicy, validateUrlStatic } from "../../net/safe-fetch";

export const MAX_STEPS = 10;
export const MAX_METADATA_KEYS = 10;

export interface CommandInput {
  input_files: Record<string, string>;
  output_files: Record<string, string>;
  metadata?: Record<string, string | number | boolean> | undefined;
  webhook_url?: string | undefined;
}

const invalid = (loc: (string | number)[], msg: string) =>
  new AppError("INVALID_REQUEST", msg, [{ loc: ["body", ...loc], msg, type: "value_error" }]);

/**
 * Checks everything about a submission that does not need the network, in the order a person would
 * fix it: aliases and names (400), metadata (400), URLs (422), then the command itself (400, naming
 * the offending token). Returns the planned steps, so a valid command is parsed exactly once.
 */
export function validateSubmission(
  body: CommandInput,
  commands: string[],
  chained: boolean,
  policy: UrlPolicy,
  isOwnUrl: (url: string) => boolean,
  at: (string | number)[] = [],
): PlannedStep[] {
  const inputs = Object.keys(body.input_files);
  const outputs = Object.keys(body.output_files);
  if (inputs.length === 0)
    throw invalid([...at, "input_files"], "input_files is required and must be a non-empty object");
  if (outputs.length === 0)
    throw invalid([...at, "output_files"], "output_files is required and must be a non-empty object");
  for (const a of inputs) {
    const problem = validateAlias(a, "in");
    if (problem) throw invalid([...at, "input_files", a], problem);
  }
  for (const a of outputs) {
    const problem = validateAlias(a, "out");
    if (problem) throw invalid([...at, "output_files", a], problem);
    const name = body.output_files[a] as string;
    const bad = validateOutputFilename(name);
    if (bad) throw invalid([...at, "output_files", a], bad);
  }
  validateMetadata(body.metadata, at);
  const urlProblems: ValidationDetail[] = [];
  for (const [alias, url] of Object.entries(body.input_files)) {
    // Our own storage_urls are read straight from storage at run time, never fetched.
    if (isOwnUrl(url)) continue;
    const check = validateUrlStatic(url, policy);
    if (!check.ok)
      urlProblems.push({
        loc: ["body", ...at, "input_files", alias],
        msg: check.reason,
        type: "value_error",
      });
  }
  if (body.webhook_url !== undefined) {
    const check = validateUrlStatic(body.webhook_url, policy);
    if (!check.ok)
      urlProblems.push({ loc: ["body", ...at, "webhook_url"], msg: check.reason, type: "value_error" });
  }
  const [first] = urlProblems;
  if (first)
    throw new AppError("VALIDATION_ERROR", `${first.loc.slice(1).join(".")}: ${first.msg}`, urlProblems);

  if (chained && commands.length > MAX_STEPS) {
    throw invalid([...at, "ffmpeg_commands"], `at most ${MAX_STEPS} commands are allowed in a chain`);
  }
  if (chained && commands.length === 0)
    throw invalid([...at, "ffmpeg_commands"], "ffmpeg_commands must not be empty");
  const decl: AliasDecl = { inputs, outputs };
  try {
    return chained ? planChain(commands, decl) : [planCommand(commands[0] as string, decl)];
  } catch (e) {
    if (e instanceof CommandError) {
      const field = chained ? "ffmpeg_commands" : "ffmpeg_command";
      throw invalid([...at, field], e.token ? `${e.message} (at "${e.token}")` : e.message);
    }
    throw e;
  }
}

export function validateMetadata(
  metadata: Record<string, unknown> | undefined,
  at: (string | number)[] = [],
): void {
  if (metadata && Object.keys(metadata).length > MAX_METADATA_KEYS) {
    throw invalid([...at, "metadata"], `metadata may have at most ${MAX_METADATA_KEYS} keys`);
  }
}

/** The webhook URL check alone, for endpoints without inputs (422 like the hosted API). */
export function validateWebhookUrl(url: string | undefined, policy: UrlPolicy): void {
  if (url === undefined) return;
  const check = validateUrlStatic(url, policy);
  if (!check.ok) throw validationError(["body", "webhook_url"], check.reason);
}
