import { and, asc, eq, lt, ne } from "drizzle-orm";
import type { Db } from "../db/client";
import { AppError } from "../errors";
import type { Logger } from "../log";

export interface RetentionDeps {
  db: Db;
  log: Logger;
  /** Deletes one file the way DELETE /files/:id does (bytes gone, row kept with is_deleted). */
  deleteFile(accountId: string, fileId: string): Promise<unknown>;
  /** Files older than this many days are deleted; 0 turns retention off. */
  days: number;
  intervalMs?: number;
  now?: () => number;
}

const BATCH = 200;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Data retention (RETENTION_DAYS): at start and then every hour, deletes every file created more than
 * N days ago, oldest first, through the same path as the API's delete, so the row stays with
 * `is_deleted: true` and commands keep pointing at their (deleted) outputs. Files still PROCESSING
 * are left for the next sweep.
 */
export function createRetention(deps: RetentionDeps) {
  const now = deps.now ?? Date.now;
  let timer: ReturnType<typeof setInterval> | undefined;
  let current: Promise<number> | undefined;

  async function sweepOnce(): Promise<number> {
    const { files } = deps.db.t;
    const cutoff = new Date(now() - deps.days * DAY_MS);
    let deleted = 0;
    for (;;) {
      const rows = await deps.db
        .select({ id: files.id, accountId: files.accountId })
        .from(files)
        .where(and(eq(files.isDeleted, false), ne(files.status, "PROCESSING"), lt(files.createdAt, cutoff)))
        .orderBy(asc(files.createdAt))
        .limit(BATCH);
      for (const r of rows) {
        try {
          await deps.deleteFile(r.accountId, r.id);
          deleted++;
        } catch (err) {
          // Deleted concurrently through the API: nothing left to do. Anything else stops this sweep.
          if (!(err instanceof AppError && err.code === "NOT_FOUND")) throw err;
        }
      }
      if (rows.length < BATCH) return deleted;
    }
  }

  function sweep(): Promise<number> {
    current ??= sweepOnce()
      .then((n) => {
        if (n) deps.log.info("retention: deleted old files", { count: n, olderThanDays: deps.days });
        return n;
      })
      .catch((err) => {
        deps.log.error("retention sweep failed", { err });
        return 0;
      })
      .finally(() => {
        current = undefined;
      });
    return current;
  }

  return {
    enabled: deps.days > 0,
    sweep,
    start(): void {
      if (deps.days <= 0 || timer) return;
      void sweep();
      timer = setInterval(() => void sweep(), deps.intervalMs ?? 3600 * 1000);
      timer.unref();
    },
    /** Stops the timer and waits for a sweep in progress. */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await current;
    },
  };
}

export type Retention = ReturnType<typeof createRetention>;
