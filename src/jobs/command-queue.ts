import { rmSync } from "node:fs";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import PQueue from "p-queue";
import { type CommandRow, commands } from "../db/schema";
import { DURATION, DURATION_HELP, JOBS_HELP, JOBS_TOTAL, type Metrics } from "../http/metrics";
import type { Logger } from "../log";
import { type CommandRunnerDeps, executeCommand, removeJobDir } from "./command-runner";
import { JobFailure } from "./inputs";

export interface CommandQueueDeps extends CommandRunnerDeps {
  log: Logger;
  concurrency: number;
  /** Starts of one command (crash recoveries included) before it is failed for good. */
  maxAttempts: number;
  metrics?: Metrics;
  /** Called once a command reaches SUCCESS or FAILED (webhooks hook in here). */
  onFinished?: (commandId: string) => void;
}

/**
 * The durable command queue. The row is the job: QUEUED rows wait, PROCESSING rows are running — or
 * were, when the server died, and `recover()` re-runs them from the start (commands are idempotent:
 * a fresh job directory, and outputs of the interrupted attempt are discarded). Status only moves
 * forward: every transition is a conditional update from the state it leaves.
 */
export function createCommandQueue(deps: CommandQueueDeps) {
  const { db, log } = deps;
  const now = deps.now ?? Date.now;
  const queue = new PQueue({ concurrency: deps.concurrency });
  const running = new Map<string, AbortController>();
  const queued = new Set<string>();
  /** Set by requeueRunning(): an abort now means "shutting down", not "cancelled". */
  let stopping = false;

  /** Puts an interrupted command back to QUEUED; the attempt it was on does not count. */
  function requeue(row: CommandRow) {
    db.update(commands)
      .set({
        status: "QUEUED",
        attempts: sql`${commands.attempts} - 1`,
        progress: null,
        updatedAt: new Date(now()),
      })
      .where(and(eq(commands.id, row.id), eq(commands.status, "PROCESSING")))
      .run();
  }

  function finish(row: CommandRow, values: Partial<typeof commands.$inferInsert>) {
    const t = now();
    const done = db
      .update(commands)
      .set({
        ...values,
        finishedAt: new Date(t),
        updatedAt: new Date(t),
        totalProcessingSeconds: (t - row.createdAt.getTime()) / 1000,
      })
      .where(and(eq(commands.id, row.id), inArray(commands.status, ["QUEUED", "PROCESSING"])))
      .returning({ id: commands.id })
      .all();
    if (done.length) deps.onFinished?.(row.id);
  }

  async function run(id: string): Promise<void> {
    queued.delete(id);
    const row = db
      .select()
      .from(commands)
      .where(and(eq(commands.id, id), inArray(commands.status, ["QUEUED", "PROCESSING"])))
      .get();
    if (!row) return;
    if (row.cancelRequested)
      return finish(row, {
        status: "FAILED",
        errorStatus: "CANCELLED",
        errorMessage: "the command was cancelled",
      });
    if (row.attempts >= deps.maxAttempts) {
      log.warn("command given up", { commandId: id, attempts: row.attempts });
      return finish(row, {
        status: "FAILED",
        errorStatus: "INTERNAL_ERROR",
        errorMessage: "the command was interrupted too often",
      });
    }
    db.update(commands)
      .set({
        status: "PROCESSING",
        attempts: sql`${commands.attempts} + 1`,
        startedAt: row.startedAt ?? new Date(now()),
        updatedAt: new Date(now()),
        progress: null,
      })
      .where(eq(commands.id, id))
      .run();

    const ac = new AbortController();
    running.set(id, ac);
    const t0 = performance.now();
    try {
      const { ffmpegSeconds } = await executeCommand(deps, row, ac.signal);
      finish(row, {
        status: "SUCCESS",
        ffmpegRunSeconds: ffmpegSeconds === null ? null : round(ffmpegSeconds),
        progress: null,
      });
      deps.metrics?.inc(JOBS_TOTAL, JOBS_HELP, { kind: "command", outcome: "success" });
      deps.metrics?.observe(DURATION, DURATION_HELP, { kind: "command" }, (performance.now() - t0) / 1000);
      log.info("command succeeded", {
        commandId: id,
        type: row.commandType,
        ms: Math.round(performance.now() - t0),
      });
    } catch (e) {
      if (stopping && ac.signal.aborted) {
        requeue(row);
        log.info("command put back on the queue (shutdown)", { commandId: id });
        return;
      }
      const failure =
        e instanceof JobFailure
          ? e
          : ac.signal.aborted
            ? new JobFailure("CANCELLED", "the command was cancelled")
            : new JobFailure("INTERNAL_ERROR", "the command failed unexpectedly; retrying is safe");
      if (!(e instanceof JobFailure)) log.error("command crashed", { commandId: id, err: e });
      finish(row, {
        status: "FAILED",
        errorStatus: failure.errorStatus,
        errorMessage: failure.message,
        progress: null,
      });
      deps.metrics?.inc(JOBS_TOTAL, JOBS_HELP, {
        kind: "command",
        outcome: failure.errorStatus.toLowerCase(),
      });
      deps.metrics?.observe(DURATION, DURATION_HELP, { kind: "command" }, (performance.now() - t0) / 1000);
      log.info("command failed", {
        commandId: id,
        errorStatus: failure.errorStatus,
        ms: Math.round(performance.now() - t0),
      });
    } finally {
      running.delete(id);
      await removeJobDir(deps, id).catch((err) =>
        log.warn("could not remove a job directory", { commandId: id, err }),
      );
    }
  }

  return {
    enqueue(id: string): void {
      if (queued.has(id) || running.has(id)) return;
      queued.add(id);
      queue.add(() => run(id)).catch((err) => log.error("command job crashed", { commandId: id, err }));
    },

    /** Marks a command cancelled: a queued one fails at once, a running one has its ffmpeg killed. */
    cancel(id: string): void {
      db.update(commands).set({ cancelRequested: true }).where(eq(commands.id, id)).run();
      const ac = running.get(id);
      if (ac) ac.abort(new Error("cancelled"));
      else {
        const row = db.select().from(commands).where(eq(commands.id, id)).get();
        if (row)
          finish(row, {
            status: "FAILED",
            errorStatus: "CANCELLED",
            errorMessage: "the command was cancelled",
          });
      }
    },

    /** Re-queues QUEUED and interrupted PROCESSING commands, oldest first (after sweeping job dirs). */
    recover(): number {
      // Nothing runs yet: every job directory is a leftover of a previous process.
      rmSync(deps.jobsDir, { recursive: true, force: true });
      const rows = db
        .select({ id: commands.id })
        .from(commands)
        .where(inArray(commands.status, ["QUEUED", "PROCESSING"]))
        .orderBy(asc(commands.createdAt))
        .all();
      for (const r of rows) this.enqueue(r.id);
      return rows.length;
    },

    get depth() {
      return { queued: queue.size, running: queue.pending };
    },

    /** Stops starting commands; waits for running ones (they re-run after a restart if cut short). */
    async drain(): Promise<void> {
      queue.pause();
      queue.clear();
      await queue.onIdle();
    },

    /**
     * For the end of the shutdown grace period: kills the ffmpeg of every running command and puts
     * the command back to QUEUED, so the next start runs it from scratch without spending an attempt.
     * A command already storing its outputs is not interrupted. Returns how many were running.
     */
    async requeueRunning(): Promise<number> {
      stopping = true;
      queue.pause();
      queue.clear();
      const n = running.size;
      for (const ac of running.values()) ac.abort(new Error("shutting down"));
      await queue.onIdle();
      return n;
    },
  };
}

const round = (n: number) => Math.round(n * 1000) / 1000;

export type CommandQueue = ReturnType<typeof createCommandQueue>;
