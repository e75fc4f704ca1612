import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { and, count, eq, gt, inArray, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import type { CommandRow } from "../db/schema";
import type { Tables } from "../db/tables";
import { DURATION, DURATION_HELP, JOBS_HELP, JOBS_TOTAL, type Metrics } from "../http/metrics";
import type { Logger } from "../log";
import {
  type CommandRunnerDeps,
  discardOutputs,
  executeCommand,
  type OutputRef,
  removeJobDir,
} from "./command-runner";
import { JobFailure } from "./inputs";
import type { LeaseKind, Leases } from "./leases";
import { createWorker, type JobRemote } from "./worker";

export interface CommandQueueDeps extends CommandRunnerDeps {
  log: Logger;
  concurrency: number;
  /** Starts of one command (crash recoveries included) before it is failed for good. */
  maxAttempts: number;
  leases: Leases;
  /** How often other nodes' commands and lapsed leases are looked for. */
  pollMs: number;
  /** HTTP worker processes hand their submits to the primary instead of running jobs. */
  remote?: JobRemote;
  metrics?: Metrics;
  /** Called once a command reaches SUCCESS or FAILED (webhooks hook in here). */
  onFinished?: (commandId: string) => void;
}

/**
 * The durable command queue. The row is the job: QUEUED rows wait, PROCESSING rows are running — or
 * were, when their node died: then their lease lapses and any node re-runs them from the start
 * (commands are idempotent: a fresh job directory, and outputs of the interrupted attempt are
 * discarded). Status only moves forward, and the result is written only while holding the lease, so a
 * command taken over by another node never completes twice (the loser removes the outputs it stored).
 */
export function createCommandQueue(deps: CommandQueueDeps) {
  const { db, log, leases } = deps;
  const { commands } = db.t;
  const now = deps.now ?? Date.now;
  const open = inArray(commands.status, ["QUEUED", "PROCESSING"]);
  const kind: LeaseKind = { name: "command", table: commands, claimable: () => open, order: sql`created_at` };
  const mine = (id: string) => and(eq(commands.id, id), open, eq(commands.leaseOwner, leases.owner));

  /** Puts a command interrupted by shutdown back to QUEUED, lease released; the attempt does not count. */
  async function requeue(id: string): Promise<void> {
    await db
      .update(commands)
      .set({
        status: "QUEUED",
        attempts: sql`${commands.attempts} - 1`,
        progress: null,
        leaseOwner: null,
        leaseUntil: null,
        updatedAt: new Date(now()),
      })
      .where(mine(id));
  }

  /** Writes the result if this node still holds the lease; true when it did. */
  async function finish(
    row: CommandRow,
    values: Partial<Tables["commands"]["$inferInsert"]>,
    where = mine(row.id),
  ): Promise<boolean> {
    const t = now();
    const done = await db
      .update(commands)
      .set({
        ...values,
        leaseUntil: null,
        finishedAt: new Date(t),
        updatedAt: new Date(t),
        totalProcessingSeconds: (t - row.createdAt.getTime()) / 1000,
      })
      .where(where)
      .returning({ id: commands.id });
    if (done.length) deps.onFinished?.(row.id);
    return done.length > 0;
  }

  async function run(id: string, signal: AbortSignal): Promise<void> {
    const [row] = await db.select().from(commands).where(mine(id));
    if (!row) return;
    if (row.cancelRequested) {
      await finish(row, {
        status: "FAILED",
        errorStatus: "CANCELLED",
        errorMessage: "the command was cancelled",
      });
      return;
    }
    if (row.attempts >= deps.maxAttempts) {
      log.warn("command given up", { commandId: id, attempts: row.attempts });
      await finish(row, {
        status: "FAILED",
        errorStatus: "INTERNAL_ERROR",
        errorMessage: "the command was interrupted too often",
      });
      return;
    }
    const started = await db
      .update(commands)
      .set({
        status: "PROCESSING",
        attempts: sql`${commands.attempts} + 1`,
        startedAt: row.startedAt ?? new Date(now()),
        updatedAt: new Date(now()),
        progress: null,
      })
      .where(mine(id))
      .returning({ id: commands.id });
    if (started.length === 0) return;

    const t0 = performance.now();
    const produced: OutputRef[] = [];
    let outcome: { values: Partial<Tables["commands"]["$inferInsert"]>; label: string };
    try {
      const { ffmpegSeconds } = await executeCommand(deps, row, signal, produced);
      outcome = {
        values: {
          status: "SUCCESS",
          ffmpegRunSeconds: ffmpegSeconds === null ? null : round(ffmpegSeconds),
          progress: null,
        },
        label: "success",
      };
    } catch (e) {
      if (signal.aborted && signal.reason instanceof ShuttingDown) {
        await requeue(id);
        log.info("command put back on the queue (shutdown)", { commandId: id });
        return; // the job directory is still removed (finally)
      }
      const failure =
        e instanceof JobFailure
          ? e
          : signal.aborted
            ? new JobFailure("CANCELLED", "the command was cancelled")
            : new JobFailure("INTERNAL_ERROR", "the command failed unexpectedly; retrying is safe");
      if (!(e instanceof JobFailure) && !signal.aborted)
        log.error("command crashed", { commandId: id, err: e });
      outcome = {
        values: {
          status: "FAILED",
          errorStatus: failure.errorStatus,
          errorMessage: failure.message,
          progress: null,
        },
        label: failure.errorStatus.toLowerCase(),
      };
    } finally {
      await removeJobDir(deps, id).catch((err) =>
        log.warn("could not remove a job directory", { commandId: id, err }),
      );
    }
    const ms = Math.round(performance.now() - t0);
    if (!(await finish(row, outcome.values))) {
      // Another node holds the command now (this one stalled past its lease): its run is the one.
      await discardOutputs(deps, produced);
      log.warn("command result discarded: the lease was lost", { commandId: id, ms });
      return;
    }
    deps.metrics?.inc(JOBS_TOTAL, JOBS_HELP, { kind: "command", outcome: outcome.label });
    deps.metrics?.observe(DURATION, DURATION_HELP, { kind: "command" }, ms / 1000);
    if (outcome.values.status === "SUCCESS")
      log.info("command succeeded", { commandId: id, type: row.commandType, ms, node: leases.owner });
    else log.info("command failed", { commandId: id, errorStatus: outcome.values.errorStatus, ms });
  }

  /** QUEUED commands in the database (every node's backlog), refreshed on each poll. */
  let backlog = 0;
  const countBacklog = async () => {
    const [r] = await db.select({ n: count() }).from(commands).where(eq(commands.status, "QUEUED"));
    backlog = r?.n ?? 0;
  };

  const worker = createWorker({
    kind,
    onPoll: countBacklog,
    leases,
    log,
    concurrency: deps.concurrency,
    pollMs: deps.pollMs,
    remote: deps.remote,
    run,
    // A cancel sent to another node: seen here at the next renewal.
    async afterRenew(held) {
      if (held.length === 0) return;
      const cancelled = await db
        .select({ id: commands.id })
        .from(commands)
        .where(and(inArray(commands.id, held), eq(commands.cancelRequested, true)));
      for (const c of cancelled) worker.abort(c.id, new Error("cancelled"));
    },
  });

  return {
    enqueue: (id: string) => worker.enqueue(id),
    /** Kills the command's ffmpeg if it runs in this process (a cancel that reached an HTTP worker). */
    abort: (id: string) => worker.abort(id, new Error("cancelled")),

    /**
     * Marks a command cancelled: running here, its ffmpeg is killed; running on another node, that node
     * sees the request at its next lease renewal; not running anywhere, it fails at once.
     */
    async cancel(id: string): Promise<void> {
      await db.update(commands).set({ cancelRequested: true }).where(eq(commands.id, id));
      if (worker.abort(id, new Error("cancelled"))) return;
      const [row] = await db.select().from(commands).where(eq(commands.id, id));
      const free = or(isNull(commands.leaseUntil), lt(commands.leaseUntil, db.clock()));
      if (row)
        await finish(
          row,
          { status: "FAILED", errorStatus: "CANCELLED", errorMessage: "the command was cancelled" },
          and(eq(commands.id, id), open, free),
        );
    },

    /**
     * Starts running: sweeps job directories left by earlier runs of this node (SQLite: all of them and
     * all leases; PostgreSQL: those of nodes holding no live lease), then claims. Returns how many
     * commands were waiting.
     */
    async recover(): Promise<number> {
      await leases.resetAll(kind);
      await sweepJobDirs(deps);
      const [waiting] = await db.select({ n: count() }).from(commands).where(open);
      await countBacklog();
      worker.start();
      return waiting?.n ?? 0;
    },

    /** `queued`: commands waiting in the database (all nodes, as of the last poll); `running`: here. */
    get depth() {
      return { queued: backlog, running: worker.depth.running };
    },

    /** Stops starting commands; waits for running ones (they re-run after a restart if cut short). */
    drain: () => worker.drain(),

    /**
     * For the end of the shutdown grace period: kills the ffmpeg of every command running here and puts
     * it back to QUEUED with its lease released, so any node (or the next start) runs it from scratch
     * without spending an attempt. A command already storing its outputs finishes. Returns how many ran.
     */
    async requeueRunning(): Promise<number> {
      const n = worker.abortAll(new ShuttingDown());
      await worker.onIdle();
      return n;
    },
  };
}

/** Job directories live under `jobsRoot/<node id>`; a root whose node holds no live lease is garbage. */
async function sweepJobDirs(deps: CommandQueueDeps): Promise<void> {
  const { db } = deps;
  const { commands } = db.t;
  const root = dirname(deps.jobsDir);
  let live = new Set<string>();
  if (db.engine === "pg") {
    const rows = await db
      .selectDistinct({ owner: commands.leaseOwner })
      .from(commands)
      .where(and(isNotNull(commands.leaseOwner), gt(commands.leaseUntil, db.clock())));
    live = new Set(rows.map((r) => r.owner as string));
  }
  let entries: string[] = [];
  try {
    entries = readdirSync(root);
  } catch {
    return;
  }
  for (const e of entries) {
    if (e !== deps.leases.owner && !live.has(e)) rmSync(join(root, e), { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** The abort reason of commands interrupted by the end of the shutdown grace period. */
class ShuttingDown extends Error {
  constructor() {
    super("shutting down");
  }
}

export type CommandQueue = ReturnType<typeof createCommandQueue>;
