import { existsSync, statSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import type { CommandRow } from "../db/schema";
import { extensionOf } from "../lib/filename";
import type { Logger } from "../log";
import { type PlannedStep, planChain, planCommand, SUBTITLE_DEMUXER_WHITELIST } from "../media/ffmpeg";
import { isSubtitleFile, probeFile } from "../media/ffprobe";
import { runProcess } from "../media/runner";
import type { Sandbox } from "../media/sandbox";
import { objectKey, type StorageDriver } from "../storage/driver";
import { progressReader, redactor } from "./ffmpeg-output";
import { type InputDeps, JobFailure, type PreparedInputs, prepareInputs } from "./inputs";
import { probeColumns } from "./probe-queue";
import { downloadOutputs, downloadWithYtdlp, selectorOf, type YtdlpDeps } from "./ytdlp";

export interface CommandRunnerDeps {
  db: Db;
  storage: StorageDriver;
  sandbox: Sandbox;
  log: Logger;
  inputs: InputDeps;
  jobsDir: string;
  /** ffprobe time limit for outputs (they are probed before the command reports SUCCESS). */
  probeTimeoutMs: number;
  /** Largest file ffmpeg may write (RLIMIT_FSIZE) and largest total of all outputs. */
  maxOutputBytes: number;
  /** CPU niceness of ffmpeg (0 = same priority as the API). */
  nice: number;
  /** Set when yt-dlp is installed; YTDLP_COMMAND rows need it. */
  ytdlp?: YtdlpDeps | null;
  now?: () => number;
}

export interface OutputRef {
  id: string;
  storageKey: string | null;
}

export interface RunOutcome {
  /** Null when no ffmpeg step ran (yt-dlp download only). */
  ffmpegSeconds: number | null;
}

/** Options the server puts before the user's: no prompts, overwrite in the job dir, progress on stdout. */
const SERVER_GLOBALS = ["-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats"];

/**
 * Executes one command in its own job directory: inputs in `in/`, outputs in `out/`, intermediates
 * (chains) in the directory itself. Each ffmpeg step runs in the sandbox (only the job directory
 * writable, inputs read-only, no network, empty environment) under RLIMIT_FSIZE and the command's
 * remaining wall-clock budget. Outputs are stored and probed before this resolves. Throws JobFailure
 * with an `error_status`; the job directory is always removed.
 */
export async function executeCommand(
  deps: CommandRunnerDeps,
  row: CommandRow,
  signal: AbortSignal,
  /** Collects the output rows written, so a run whose result is not taken can remove them. */
  produced: OutputRef[] = [],
): Promise<RunOutcome> {
  const jobDir = join(deps.jobsDir, row.id);
  if (existsSync(jobDir)) await rm(jobDir, { recursive: true, force: true }); // left by a crashed attempt
  await mkdir(join(jobDir, "in"), { recursive: true });
  await mkdir(join(jobDir, "out"), { recursive: true });
  try {
    await discardPartialOutputs(deps, row.id);
    const decl = { inputs: Object.keys(row.inputFiles), outputs: Object.keys(row.outputFiles) };
    const steps =
      row.commandType === "CHAINED_COMMAND"
        ? planChain(row.ffmpegCommands, decl)
        : row.ffmpegCommands.length === 0
          ? []
          : [planCommand(row.ffmpegCommands[0] as string, decl)];

    const isYtdlp = row.commandType === "YTDLP_COMMAND";
    // yt-dlp downloads count against max_command_run_seconds; plain input downloads do not.
    const ytdlpDeadline = performance.now() + row.maxRunSeconds * 1000;
    const prepared = isYtdlp
      ? await ytdlpInputs(deps, row, jobDir, ytdlpDeadline, signal)
      : await prepareInputs(deps.inputs, row.accountId, row.inputFiles, jobDir, signal);
    if (signal.aborted) throw new JobFailure("CANCELLED", "the command was cancelled");
    if (steps.length === 0) {
      const { names, paths } = downloadOutputs(prepared.paths);
      const total = Object.values(paths).reduce((n, p) => n + statSync(p).size, 0);
      if (total > deps.maxOutputBytes)
        throw new JobFailure("OUTPUT_TOO_LARGE", "the outputs together exceed the limit");
      await storeOutputs(deps, row, names, paths, produced);
      return { ffmpegSeconds: null };
    }
    const paths: Record<string, string> = { ...prepared.paths };
    for (const [alias, name] of Object.entries(row.outputFiles)) {
      const ext = extensionOf(name);
      paths[alias] = join(jobDir, "out", ext ? `${alias}.${ext}` : alias);
    }
    await checkSubtitleInputs(deps, steps, paths, [jobDir, ...prepared.readOnly]);
    const redact = redactor(jobDir, paths, prepared.readOnly);
    const duration = await knownDuration(deps, row);

    const deadline = isYtdlp ? ytdlpDeadline : performance.now() + row.maxRunSeconds * 1000;
    let ffmpegMs = 0;
    for (const [i, step] of steps.entries()) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw timeout(row);
      // argv[0] of a plan is "ffmpeg"; the configured binary (FFMPEG_PATH) runs instead.
      const [, ...args] = step.argv(paths, SERVER_GLOBALS);
      const argv = ["prlimit", `--fsize=${deps.maxOutputBytes}`, "--", deps.sandbox.tools.ffmpeg, ...args];
      const wrapped = deps.sandbox.wrap(argv, {
        readOnly: prepared.readOnly,
        writable: [jobDir],
        chdir: jobDir,
      });
      const t0 = performance.now();
      const res = await runProcess({
        argv: wrapped,
        cwd: jobDir,
        timeoutMs: Math.ceil(remaining),
        signal,
        stderrTailBytes: 16 * 1024,
        maxStdoutBytes: 64 * 1024,
        onStdout: progressReader(deps, row.id, duration, i, steps.length),
        nice: deps.nice,
      });
      ffmpegMs += performance.now() - t0;
      if (res.aborted) throw new JobFailure("CANCELLED", "the command was cancelled");
      if (res.timedOut) throw timeout(row);
      if (res.signalCode === "SIGXFSZ" || res.exitCode === 153) {
        throw new JobFailure(
          "OUTPUT_TOO_LARGE",
          `an output exceeded the limit of ${deps.maxOutputBytes} bytes`,
        );
      }
      if (res.exitCode !== 0) {
        const step = steps.length > 1 ? ` (step ${i + 1} of ${steps.length})` : "";
        throw new JobFailure(
          "FFMPEG_FAILED",
          `ffmpeg exited with code ${res.exitCode}${step}: ${redact(res.stderrTail)}`,
        );
      }
    }

    let total = 0;
    for (const alias of Object.keys(row.outputFiles)) {
      const p = paths[alias] as string;
      const size = existsSync(p) ? statSync(p).size : 0;
      if (size === 0) throw new JobFailure("OUTPUT_MISSING", `ffmpeg did not write {{${alias}}}`);
      total += size;
    }
    if (total > deps.maxOutputBytes)
      throw new JobFailure("OUTPUT_TOO_LARGE", "the outputs together exceed the limit");
    await storeOutputs(deps, row, row.outputFiles, paths, produced);
    return { ffmpegSeconds: ffmpegMs / 1000 };
  } catch (e) {
    await removeJobDir(deps, row.id);
    throw e;
  }
}

/**
 * Removes a command's working directory. On success the queue calls this after recording the result,
 * so cleanup is not part of the command's latency; start-up sweeps directories a crash left behind.
 */
export async function removeJobDir(
  deps: Pick<CommandRunnerDeps, "jobsDir">,
  commandId: string,
): Promise<void> {
  await rm(join(deps.jobsDir, commandId), { recursive: true, force: true });
}

async function ytdlpInputs(
  deps: CommandRunnerDeps,
  row: CommandRow,
  jobDir: string,
  deadline: number,
  signal: AbortSignal,
): Promise<PreparedInputs> {
  if (!deps.ytdlp) throw new JobFailure("INTERNAL_ERROR", "yt-dlp is no longer installed on this server");
  const selector = selectorOf(row.originalRequest);
  const paths = await downloadWithYtdlp(
    deps.ytdlp,
    row.inputFiles,
    selector,
    jobDir,
    deadline,
    signal,
    row.maxRunSeconds,
  );
  return { paths, readOnly: [] };
}

/** Inputs the `subtitles`/`ass` filters open (without our input policy) must really be subtitle files. */
async function checkSubtitleInputs(
  deps: CommandRunnerDeps,
  steps: PlannedStep[],
  paths: Record<string, string>,
  readOnly: string[],
) {
  const checked = new Set<string>();
  for (const { alias, filter } of steps.flatMap((s) => s.filterInputs)) {
    if ((filter !== "subtitles" && filter !== "ass") || checked.has(alias)) continue;
    checked.add(alias);
    const ok = await isSubtitleFile(paths[alias] as string, {
      sandbox: deps.sandbox,
      readOnly,
      timeoutMs: 30_000,
      formats: SUBTITLE_DEMUXER_WHITELIST,
    });
    if (!ok)
      throw new JobFailure(
        "UNSUPPORTED_MEDIA",
        `input {{${alias}}} is not a subtitle file (srt, ass or webvtt)`,
      );
  }
}

function timeout(row: CommandRow): JobFailure {
  return new JobFailure(
    "TIMEOUT",
    `ffmpeg did not finish within max_command_run_seconds (${row.maxRunSeconds} s)`,
  );
}

/** Stores each output (alias → file name) as an OUTPUT file and probes it. */
async function storeOutputs(
  deps: CommandRunnerDeps,
  row: CommandRow,
  outputs: Record<string, string>,
  paths: Record<string, string>,
  produced: OutputRef[],
) {
  const now = deps.now ?? Date.now;
  const { files } = deps.db.t;
  // Each output is probed where ffmpeg wrote it, while it is being stored (no second read from
  // storage, no presigned URL on S3), and its row is written once, already STORED or FAILED.
  await Promise.all(
    Object.entries(outputs).map(async ([alias, filename]) => {
      const fileId = crypto.randomUUID();
      const key = objectKey(row.accountId, fileId, filename);
      const path = paths[alias] as string;
      // Not niced: this short probe sits on the command's critical path (ffmpeg itself is niced).
      const probe = probeFile(path, {
        timeoutMs: deps.probeTimeoutMs,
        sandbox: deps.sandbox,
        fileName: filename,
      });
      let size: number;
      try {
        ({ size } = await deps.storage.put(key, Bun.file(path).stream()));
      } catch (err) {
        await probe.catch(() => {});
        deps.log.error("storing an output failed", { commandId: row.id, alias, err });
        throw new JobFailure("STORAGE_ERROR", `output {{${alias}}} could not be stored`);
      }
      const t = new Date(now());
      await deps.db.insert(files).values({
        id: fileId,
        accountId: row.accountId,
        storeType: "OUTPUT",
        filename,
        storageKey: key,
        sizeBytes: size,
        commandId: row.id,
        outputAlias: alias,
        createdAt: t,
        updatedAt: t,
        ...probeColumns(await probe),
      });
      produced.push({ id: fileId, storageKey: key });
    }),
  );
}

/** A re-run starts from scratch: outputs stored by an interrupted attempt are removed first. */
async function discardPartialOutputs(deps: CommandRunnerDeps, commandId: string) {
  const { files } = deps.db.t;
  await discardOutputs(deps, await deps.db.select().from(files).where(eq(files.commandId, commandId)));
}

/** Removes output rows and their bytes (also used by a run whose result was not taken). */
export async function discardOutputs(
  deps: Pick<CommandRunnerDeps, "db" | "storage">,
  old: OutputRef[],
): Promise<void> {
  const { files } = deps.db.t;
  for (const f of old) {
    if (f.storageKey) await deps.storage.delete(f.storageKey);
    await deps.db.delete(files).where(eq(files.id, f.id));
  }
}

/** Duration of the first input when we know it (a stored file), for progress percentages. */
async function knownDuration(deps: CommandRunnerDeps, row: CommandRow): Promise<number | null> {
  const firstUrl = Object.values(row.inputFiles)[0];
  const id = firstUrl ? /\/([0-9a-f-]{36})\/[^/]+(?:\?|$)/.exec(firstUrl)?.[1] : undefined;
  if (!id) return null;
  const { files } = deps.db.t;
  const [f] = await deps.db
    .select({ duration: files.duration })
    .from(files)
    .where(and(eq(files.id, id), eq(files.accountId, row.accountId)));
  return f?.duration ?? null;
}
