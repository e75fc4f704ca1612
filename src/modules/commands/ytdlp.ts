import { AppError, type ValidationDetail } from "../../errors";
import { validateAlias } from "../../media/ffmpeg";
import type { FormatSelector } from "../../media/ytdlp";
import { type UrlPolicy, validateUrlStatic } from "../../net/safe-fetch";
import { type CommandInput, MAX_STEPS, validateMetadata, validateSubmission } from "./validate";

/** Body of `ytdlp-download` and `run-ytdlp-command` (the latter may add an ffmpeg step). */
export interface YtdlpBody {
  input_urls: Record<string, string>;
  format_selector?: FormatSelector | undefined;
  ffmpeg_command?: string | undefined;
  output_files?: Record<string, string> | undefined;
  metadata?: CommandInput["metadata"];
  webhook_url?: string | undefined;
  max_command_run_seconds?: number | undefined;
}

const invalid = (loc: (string | number)[], msg: string) =>
  new AppError("INVALID_REQUEST", msg, [{ loc: ["body", ...loc], msg, type: "value_error" }]);

/**
 * Checks a yt-dlp submission in the order of `validateSubmission`: aliases and metadata (400), URLs
 * (422, the same static SSRF rules as `input_files`), then — with `ffmpeg_command` — the outputs and
 * the command exactly as run-ffmpeg-command checks them, with the `input_urls` keys as its inputs.
 * Our own storage_urls get no exemption: yt-dlp fetches every URL through the egress proxy.
 */
export function validateYtdlp(body: YtdlpBody, policy: UrlPolicy): void {
  const aliases = Object.keys(body.input_urls);
  if (aliases.length === 0)
    throw invalid(["input_urls"], "input_urls is required and must be a non-empty object");
  if (aliases.length > MAX_STEPS) throw invalid(["input_urls"], `at most ${MAX_STEPS} URLs are allowed`);
  for (const a of aliases) {
    const problem = validateAlias(a, "in");
    if (problem) throw invalid(["input_urls", a], problem);
  }
  validateMetadata(body.metadata);
  const problems: ValidationDetail[] = [];
  for (const [alias, url] of Object.entries(body.input_urls)) {
    const check = validateUrlStatic(url, policy);
    if (!check.ok)
      problems.push({ loc: ["body", "input_urls", alias], msg: check.reason, type: "value_error" });
  }
  if (body.webhook_url !== undefined) {
    const check = validateUrlStatic(body.webhook_url, policy);
    if (!check.ok) problems.push({ loc: ["body", "webhook_url"], msg: check.reason, type: "value_error" });
  }
  const [first] = problems;
  if (first)
    throw new AppError("VALIDATION_ERROR", `${first.loc.slice(1).join(".")}: ${first.msg}`, problems);

  if (body.ffmpeg_command === undefined) {
    if (Object.keys(body.output_files ?? {}).length > 0)
      throw invalid(["output_files"], "output_files needs an ffmpeg_command");
    return;
  }
  const input: CommandInput = { input_files: body.input_urls, output_files: body.output_files ?? {} };
  validateSubmission(input, [body.ffmpeg_command], false, policy, () => false);
}

/** `original_request` of a yt-dlp command: what was submitted, with the selector made explicit. */
export function ytdlpOriginal(body: YtdlpBody): Record<string, unknown> {
  return {
    input_urls: body.input_urls,
    format_selector: body.format_selector ?? "best",
    ...(body.ffmpeg_command === undefined
      ? {}
      : { ffmpeg_command: body.ffmpeg_command, output_files: body.output_files ?? {} }),
  };
}
