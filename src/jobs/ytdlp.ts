import { lstatSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../log";
import { runProcess } from "../media/runner";
import type { Sandbox } from "../media/sandbox";
import { downloadArgv, FORMAT_SELECTORS, type FormatSelector, type Ytdlp } from "../media/ytdlp";
import { type EgressEvent, startEgressProxy } from "../net/egress-proxy";
import type { UrlPolicy } from "../net/safe-fetch";
import { JobFailure } from "./inputs";

export interface YtdlpDeps {
  ytdlp: Ytdlp;
  sandbox: Sandbox;
  log: Logger;
  /** The outbound URL policy the egress proxy enforces (same as safeFetch's). */
  policy: UrlPolicy;
  /** Largest downloaded file (yt-dlp's --max-filesize, the proxy's per-connection cap, RLIMIT_FSIZE). */
  maxBytes: number;
  socketTimeoutSeconds: number;
  connectTimeoutMs: number;
  nice: number;
}

/** Unix socket paths are limited to 108 bytes; longer job directories use a short temp dir instead. */
const MAX_SOCKET_PATH = 100;

/**
 * Downloads each URL with yt-dlp into `<jobDir>/in/<alias>.<ext>`, one after the other, within the
 * command's deadline. Each run gets its own egress proxy, so a refusal is attributed to its alias.
 * Returns alias → downloaded file. Throws JobFailure (UNREACHABLE_INPUT_FILE, INPUT_TOO_LARGE,
 * UNSUPPORTED_MEDIA, TIMEOUT, CANCELLED) with messages that carry no server path.
 */
export async function downloadWithYtdlp(
  deps: YtdlpDeps,
  urls: Record<string, string>,
  selector: FormatSelector,
  jobDir: string,
  deadline: number,
  signal: AbortSignal,
  maxRunSeconds: number,
): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  for (const [alias, url] of Object.entries(urls)) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) throw timeout(maxRunSeconds);
    paths[alias] = await downloadOne(deps, alias, url, selector, jobDir, remaining, signal, maxRunSeconds);
  }
  return paths;
}

async function downloadOne(
  deps: YtdlpDeps,
  alias: string,
  url: string,
  selector: FormatSelector,
  jobDir: string,
  remainingMs: number,
  signal: AbortSignal,
  maxRunSeconds: number,
): Promise<string> {
  const inDir = join(jobDir, "in");
  const shortDir =
    join(jobDir, "egress.sock").length > MAX_SOCKET_PATH ? await mkdtemp(join(tmpdir(), "rio-yt-")) : null;
  const socketPath = join(shortDir ?? jobDir, "egress.sock");
  const proxy = await startEgressProxy({
    ...deps.policy,
    listen: { unix: socketPath },
    maxBytes: deps.maxBytes,
    connectTimeoutMs: deps.connectTimeoutMs,
    idleTimeoutMs: deps.socketTimeoutSeconds * 1000,
  });
  try {
    const argv = downloadArgv(deps.ytdlp, {
      socketPath,
      dir: inDir,
      alias,
      url,
      selector,
      maxBytes: deps.maxBytes,
      socketTimeoutSeconds: deps.socketTimeoutSeconds,
      ffmpeg: deps.sandbox.tools.ffmpeg,
    });
    const readOnly = ["/etc/ssl/certs", ...(shortDir ? [shortDir] : [])];
    // Not under /usr (e.g. a standalone binary): make the executable itself visible in the sandbox.
    if (!deps.ytdlp.executable.startsWith("/usr/")) readOnly.push(deps.ytdlp.executable);
    const wrapped = deps.sandbox.wrap(["prlimit", `--fsize=${deps.maxBytes}`, "--", ...argv], {
      readOnly: readOnly.filter(exists),
      writable: [jobDir],
      chdir: jobDir,
    });
    const res = await runProcess({
      argv: wrapped,
      cwd: jobDir,
      timeoutMs: Math.ceil(remainingMs),
      signal,
      stderrTailBytes: 16 * 1024,
      maxStdoutBytes: 64 * 1024,
      nice: deps.nice,
    });
    if (res.aborted) throw new JobFailure("CANCELLED", "the command was cancelled");
    if (res.timedOut) throw timeout(maxRunSeconds);
    const output = `${res.stdout}\n${res.stderrTail}`;
    const file = findDownload(inDir, alias);
    const tooLarge = proxy.events.some((e) => e.kind === "too-large") || res.signalCode === "SIGXFSZ";
    if (tooLarge || (!file && /larger than max-filesize/.test(output))) {
      throw new JobFailure("INPUT_TOO_LARGE", `input {{${alias}}} is larger than ${deps.maxBytes} bytes`);
    }
    if (res.exitCode === 0 && file) return file;
    deps.log.info("yt-dlp download failed", {
      alias,
      exitCode: res.exitCode,
      stderr: res.stderrTail.slice(-2000),
    });
    throw failure(alias, proxy.events, output, [jobDir, socketPath]);
  } finally {
    await proxy.close();
    if (shortDir) await rm(shortDir, { recursive: true, force: true });
  }
}

const exists = (p: string) => {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

/** `<alias>.<ext>` as a regular file (never a symlink: we read it outside the sandbox). */
function findDownload(dir: string, alias: string): string | null {
  const re = new RegExp(`^${alias}\\.[a-z0-9]{1,8}$`);
  for (const name of readdirSync(dir)) {
    if (!re.test(name)) continue;
    const st = lstatSync(join(dir, name));
    if (st.isFile() && st.size > 0) return join(dir, name);
  }
  return null;
}

function failure(alias: string, events: EgressEvent[], output: string, hide: string[]): JobFailure {
  const blocked = events.find((e) => e.kind === "refused" || e.kind === "failed");
  if (blocked && "reason" in blocked) {
    return new JobFailure(
      "UNREACHABLE_INPUT_FILE",
      `input {{${alias}}} could not be downloaded: ${blocked.reason}`,
    );
  }
  const error = output
    .split("\n")
    .filter((l) => l.startsWith("ERROR:"))
    .at(-1);
  const text = error ? redact(error.replace(/^ERROR:\s*/, ""), hide) : "yt-dlp did not produce a file";
  const unsupported = /Unsupported URL|No video formats|Requested format is not available/i.test(text);
  return new JobFailure(
    unsupported ? "UNSUPPORTED_MEDIA" : "UNREACHABLE_INPUT_FILE",
    `input {{${alias}}} could not be downloaded: ${text}`,
  );
}

/** Drops yt-dlp's bug-report boilerplate, our proxy address and every absolute path. */
function redact(line: string, hide: string[]): string {
  let text = line
    .replace(/;\s*please report this issue.*$/i, "")
    .replace(/\s*\(caused by .*\)\s*$/, "")
    .replace(/^\[[\w:]+\]\s+[^\s:]*:\s*/, "")
    .replace(/http:\/\/127\.0\.0\.1:\d+/g, "<proxy>");
  for (const p of hide) text = text.split(p).join("<job>");
  text = text.replace(/(^|[\s'"(=])\/[^\s'"]*/g, "$1<path>").trim();
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

function timeout(seconds: number): JobFailure {
  return new JobFailure("TIMEOUT", `yt-dlp did not finish within max_command_run_seconds (${seconds} s)`);
}

/**
 * Download-only commands: each `in_<suffix>` becomes output `out_<suffix>` named `<suffix>.<ext>`
 * after what yt-dlp wrote. Returns the output names and their files, keyed by output alias.
 */
export function downloadOutputs(downloads: Record<string, string>): {
  names: Record<string, string>;
  paths: Record<string, string>;
} {
  const names: Record<string, string> = {};
  const paths: Record<string, string> = {};
  for (const [alias, path] of Object.entries(downloads)) {
    const suffix = alias.slice("in_".length);
    const ext = /\.([a-z0-9]{1,8})$/.exec(path)?.[1] ?? "bin";
    names[`out_${suffix}`] = `${suffix}.${ext}`;
    paths[`out_${suffix}`] = path;
  }
  return { names, paths };
}

/** The preset a YTDLP_COMMAND row was submitted with (`best` when absent). */
export function selectorOf(original: Record<string, unknown>): FormatSelector {
  const s = original.format_selector;
  return typeof s === "string" && (FORMAT_SELECTORS as readonly string[]).includes(s)
    ? (s as FormatSelector)
    : "best";
}
