import { and, count, eq, isNotNull, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import type { FileRow } from "../db/schema";
import type { Tables } from "../db/tables";
import { DURATION, DURATION_HELP, JOBS_HELP, JOBS_TOTAL, type Metrics } from "../http/metrics";
import type { SpareCpu } from "../lib/cpu-pressure";
import type { Logger } from "../log";
import { probeFile, probeUrl } from "../media/ffprobe";
import type { Sandbox } from "../media/sandbox";
import type { ProbeOutcome } from "../media/types";
import type { StorageDriver } from "../storage/driver";
import type { LeaseKind, Leases } from "./leases";
import { createWorker, type JobRemote } from "./worker";

export interface ProbeQueueDeps {
  db: Db;
  storage: StorageDriver;
  sandbox: Sandbox;
  log: Logger;
  concurrency: number;
  timeoutMs: number;
  maxAttempts: number;
  metrics?: Metrics;
  /** CPU niceness of ffprobe (0 = same priority as the API). */
  nice: number;
  /** Run ffprobe under SCHED_IDLE (background probes: nobody waits on them). */
  idle?: boolean;
  /** With `idle`: a probe first waits (within the idle grace) until the CPU is not contended. */
  spareCpu?: SpareCpu;
  leases: Leases;
  /** How often files waiting for a probe (other nodes' uploads, lapsed leases) are looked for. */
  pollMs: number;
  /** HTTP worker processes hand their submits to the primary instead of running jobs. */
  remote?: JobRemote;
  now?: () => number;
}

type FileValues = Partial<Tables["files"]["$inferInsert"]>;

/** The file columns a probe outcome sets: STORED with metadata, or FAILED with PROBE_FAILED. */
export function probeColumns(outcome: ProbeOutcome): FileValues & Pick<FileRow, "status"> {
  if (outcome.kind === "failed")
    return { status: "FAILED", errorStatus: "PROBE_FAILED", errorMessage: outcome.message };
  const i = outcome.info;
  return {
    status: "STORED",
    duration: i.duration,
    fileType: i.file_type,
    fileFormat: i.file_format,
    codec: i.codec,
    pixelFormat: i.pixel_format,
    mimeType: i.mime_type,
    width: i.width,
    height: i.height,
    frameRate: i.frame_rate,
    bitrateVideoKb: i.bitrate_video_kb,
    bitrateAudioKb: i.bitrate_audio_kb,
    sampleRate: i.sample_rate,
    channels: i.channels,
  };
}

/**
 * Background probing of stored files. The durable state is the row (`status = PROCESSING`); a job
 * carries only the file id and re-reads the row, so `recover()` after a crash simply re-queues every
 * PROCESSING row. Each start counts an attempt; past `maxAttempts` the file is FAILED instead of
 * being retried forever. Updates are conditional on the row still being PROCESSING and undeleted,
 * so a delete during a probe wins.
 */
export function createProbeQueue(deps: ProbeQueueDeps) {
  const { db, storage, sandbox, log, leases, now = Date.now } = deps;
  const { files } = db.t;
  const processing = and(eq(files.status, "PROCESSING"), eq(files.isDeleted, false));
  const kind: LeaseKind = {
    name: "probe",
    table: files,
    claimable: () => and(processing, isNotNull(files.storageKey)) as SQL,
    order: sql`created_at`,
  };
  /** Still PROCESSING, undeleted, and this node's to probe. */
  const stillProcessing = (id: string) =>
    and(eq(files.id, id), processing, eq(files.leaseOwner, leases.owner));

  /** Local files are probed in place; remote objects through a presigned URL (ranged reads only). */
  async function probe(key: string, fileName: string) {
    const opts = {
      timeoutMs: deps.timeoutMs,
      sandbox,
      fileName,
      nice: deps.nice,
      idle: deps.idle ?? false,
      spareCpu: deps.spareCpu,
    };
    const path = storage.localPath(key);
    if (path) return probeFile(path, opts);
    if (!storage.presignedGet)
      throw new Error(`storage driver ${storage.kind} offers no way to read objects`);
    const url = await storage.presignedGet(key, Math.ceil(deps.timeoutMs / 1000) + 60);
    const head = async () => {
      const obj = await storage.get(key, { start: 0, end: 188 });
      return obj ? new Uint8Array(await new Response(obj.body).arrayBuffer()) : new Uint8Array(0);
    };
    return probeUrl(url, { ...opts, head });
  }

  async function run(fileId: string): Promise<void> {
    const [row] = await db.select().from(files).where(stillProcessing(fileId));
    if (!row?.storageKey) return;
    const started = performance.now();
    if (row.probeAttempts >= deps.maxAttempts) {
      await finish(fileId, {
        status: "FAILED",
        errorStatus: "PROBE_FAILED",
        errorMessage: "probing was interrupted too often",
      });
      log.warn("probe given up", { fileId, attempts: row.probeAttempts });
      return;
    }
    await db
      .update(files)
      .set({ probeAttempts: sql`${files.probeAttempts} + 1` })
      .where(stillProcessing(fileId));

    const outcome = await probe(row.storageKey, row.filename);
    const ms = Math.round(performance.now() - started);
    await finish(fileId, probeColumns(outcome));
    deps.metrics?.inc(JOBS_TOTAL, JOBS_HELP, { kind: "probe", outcome: outcome.kind });
    deps.metrics?.observe(DURATION, DURATION_HELP, { kind: "probe" }, ms / 1000);
    log.info(outcome.kind === "failed" ? "probe failed" : "probe done", {
      fileId,
      ms,
      ...(outcome.waitedMs ? { waitedForCpuMs: outcome.waitedMs } : {}),
      ...(outcome.kind === "failed" ? { reason: outcome.message } : { fileType: outcome.info.file_type }),
    });
  }

  /** Writes the outcome (and drops the lease) if the file is still this node's to probe. */
  async function finish(fileId: string, values: FileValues): Promise<void> {
    await db
      .update(files)
      .set({ ...values, leaseUntil: null, updatedAt: new Date(now()) })
      .where(stillProcessing(fileId));
  }

  const worker = createWorker({
    kind,
    leases,
    log,
    concurrency: deps.concurrency,
    pollMs: deps.pollMs,
    remote: deps.remote,
    run: (fileId) =>
      run(fileId).catch(async (err) => {
        log.error("probe job crashed", { fileId, err });
        await finish(fileId, {
          status: "FAILED",
          errorStatus: "INTERNAL_ERROR",
          errorMessage: "metadata extraction failed unexpectedly",
        }).catch((e: unknown) => log.error("could not record a probe failure", { fileId, err: e }));
      }),
  });

  return {
    enqueue: (fileId: string) => worker.enqueue(fileId),
    /** Starts probing: files left PROCESSING (by a crash, or by a dead node once its lease lapses). */
    async recover(): Promise<number> {
      await leases.resetAll(kind);
      const [waiting] = await db.select({ n: count() }).from(files).where(kind.claimable());
      worker.start();
      return waiting?.n ?? 0;
    },
    get size() {
      return worker.depth.queued + worker.depth.running;
    },
    /** Stops starting new probes; resolves when running ones end (the rest stay PROCESSING in the DB). */
    drain: () => worker.drain(),
    onIdle: () => worker.onIdle(),
  };
}

export type ProbeQueue = ReturnType<typeof createProbeQueue>;
