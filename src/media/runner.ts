/**
 * Process runner: the ONLY place in renderio that calls `Bun.spawn`.
 *
 * Invariants:
 * - argv arrays only, never a shell string.
 * - The child gets an EMPTY environment unless the caller passes one: server secrets (API keys, S3
 *   credentials) must never reach ffmpeg, ffprobe or anything they could leak them through.
 * - A hard timeout always applies; on timeout or abort the whole process group gets SIGKILL (the child is
 *   spawned `detached`, i.e. in its own session/group, so grandchildren die too and cannot hold our pipes).
 * - Memory is bounded: stdout is kept up to a cap (then drained and dropped), stderr keeps only its tail.
 */

import { writeFileSync } from "node:fs";

/** Options for {@link runProcess}. */
export interface RunOptions {
  /** Program and arguments; `argv[0]` is resolved on the server's PATH, not the child's (empty) env. */
  argv: string[];
  /** Hard wall-clock limit in milliseconds; the process group is SIGKILLed when it is reached. */
  timeoutMs: number;
  cwd?: string;
  /** Child environment. Defaults to `{}` — never the server's environment. */
  env?: Record<string, string>;
  /** Bytes of stdout kept (default 8 MiB); the rest is read and discarded so the child never blocks. */
  maxStdoutBytes?: number;
  /** Bytes of stderr kept from the END of the stream (default 8 KiB). */
  stderrTailBytes?: number;
  /** Aborting kills the process group like a timeout does. */
  signal?: AbortSignal;
  stdin?: "ignore";
  /**
   * CPU niceness (0–19) for the process and everything it starts: media work yields the CPU to the
   * API (uploads, polls) instead of competing with it.
   */
  nice?: number;
  /**
   * Linux SCHED_IDLE (through util-linux `chrt`, when installed): the process gets only CPU time that
   * nothing else wants, and a woken API thread preempts it at once — for work nobody is waiting on.
   */
  idle?: boolean;
  /** Called with each decoded stdout chunk as it arrives (e.g. ffmpeg `-progress pipe:1` lines). */
  onStdout?: (text: string) => void;
}

/** What happened to the process. `exitCode` is null when it was killed by a signal. */
export interface RunResult {
  exitCode: number | null;
  signalCode: string | null;
  timedOut: boolean;
  aborted: boolean;
  stdout: string;
  stderrTail: string;
  stdoutTruncated: boolean;
}

/** Default stdout cap: ffprobe JSON for any sane file is far below this. */
export const DEFAULT_MAX_STDOUT_BYTES = 8 * 1024 * 1024;
/** Default stderr tail: enough for the last few ffmpeg error lines. */
export const DEFAULT_STDERR_TAIL_BYTES = 8 * 1024;

/**
 * Runs `argv` to completion (or until killed) and returns its exit status and bounded output.
 * Resolves only when the process has exited and both pipes are drained. Throws only when the process
 * cannot be spawned at all (e.g. the executable does not exist) — that is a server misconfiguration.
 */
export async function runProcess(opts: RunOptions): Promise<RunResult> {
  const maxStdout = opts.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES;
  const tailBytes = opts.stderrTailBytes ?? DEFAULT_STDERR_TAIL_BYTES;
  if (opts.signal?.aborted) {
    return {
      exitCode: null,
      signalCode: null,
      timedOut: false,
      aborted: true,
      stdout: "",
      stderrTail: "",
      stdoutTruncated: false,
    };
  }

  const niced = opts.nice ? ["nice", "-n", String(opts.nice), ...opts.argv] : opts.argv;
  const chrt = opts.idle ? chrtPath() : null;
  const argv = chrt ? [chrt, "--idle", "0", ...niced] : niced;
  const proc = Bun.spawn(argv, {
    cwd: opts.cwd,
    env: opts.env ?? {},
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    // setsid(): the child leads its own process group, so one kill(-pid) reaches all its descendants.
    detached: true,
    // Backstop in case our own timer cannot fire (e.g. blocked event loop); ours kills the whole group.
    timeout: opts.timeoutMs + 1000,
    killSignal: "SIGKILL",
  });

  if (opts.nice) lowerSessionPriority(proc.pid, opts.nice);

  let timedOut = false;
  let aborted = false;
  const killGroup = (): void => {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {
      // The group is already gone; make sure the leader is too.
      proc.kill("SIGKILL");
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, opts.timeoutMs);
  const onAbort = (): void => {
    aborted = true;
    killGroup();
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  try {
    const [out, err] = await Promise.all([
      readCapped(proc.stdout, maxStdout, opts.onStdout),
      readTail(proc.stderr, tailBytes),
      proc.exited,
    ]);
    return {
      exitCode: proc.exitCode,
      signalCode: proc.signalCode === null ? null : String(proc.signalCode),
      timedOut,
      aborted,
      stdout: out.text,
      stderrTail: err,
      stdoutTruncated: out.truncated,
    };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

let chrt: string | null | undefined;
/** util-linux `chrt` (Essential on Debian), looked up once; null where it is missing (no idle policy). */
export function chrtPath(): string | null {
  if (chrt === undefined) chrt = Bun.which("chrt", { PATH: process.env.PATH ?? "/usr/bin:/bin" });
  return chrt;
}

/**
 * Gives the child's session the child's niceness. Under autogroup scheduling (Linux's default on most
 * distributions, `kernel.sched_autogroup_enabled`) the CPU is shared between sessions first, and
 * niceness only orders processes within a session; the child leads a session of its own (`detached`),
 * so without this a niced ffprobe still competed with the whole server as an equal (bench/upload.ts:
 * two background probes took a third of the CPU from 16 concurrent uploads). Raising the session's
 * niceness needs no privilege. Nothing to do where the kernel has no autogroups.
 */
function lowerSessionPriority(pid: number, nice: number): void {
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  } catch {
    // No autogroup support, or the child is already gone.
  }
}

/** Reads a stream fully, keeping at most `cap` bytes. */
async function readCapped(
  stream: ReadableStream<Uint8Array>,
  cap: number,
  onText?: (text: string) => void,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let truncated = false;
  const live = onText ? new TextDecoder() : undefined;
  for await (const chunk of stream) {
    if (live && onText) onText(live.decode(chunk, { stream: true }));
    if (kept >= cap) {
      truncated = true;
      continue;
    }
    const room = cap - kept;
    const part = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
    if (part.byteLength < chunk.byteLength) truncated = true;
    chunks.push(part);
    kept += part.byteLength;
  }
  return { text: new TextDecoder().decode(concat(chunks, kept)), truncated };
}

/** Reads a stream fully, keeping only its last `tail` bytes. */
async function readTail(stream: ReadableStream<Uint8Array>, tail: number): Promise<string> {
  let buf: Uint8Array = new Uint8Array(0);
  for await (const chunk of stream) {
    if (tail <= 0) continue;
    const joined = concat([buf, chunk], buf.byteLength + chunk.byteLength);
    buf = joined.byteLength > tail ? joined.slice(joined.byteLength - tail) : joined;
  }
  return new TextDecoder().decode(buf);
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
