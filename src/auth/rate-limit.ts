import { sql } from "drizzle-orm";
import type { Db } from "../db/client";
import type { Logger } from "../log";

/**
 * Per-key token bucket: `burst` tokens, refilled at `perMinute / 60` per second. Answers how long to
 * wait when empty, for the `Retry-After` header. In memory on one node (SQLite); in PostgreSQL when
 * several nodes share the limits.
 */
export interface RateLimiter {
  /** Takes one token; returns 0 when allowed, else the seconds to wait. */
  take(key: string): number | Promise<number>;
}

export function createRateLimiter(
  perMinute: number,
  burst: number,
  now: () => number = Date.now,
): RateLimiter {
  if (perMinute <= 0) return { take: () => 0 };
  const ratePerMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key) {
      const t = now();
      const b = buckets.get(key) ?? { tokens: burst, at: t };
      b.tokens = Math.min(burst, b.tokens + (t - b.at) * ratePerMs);
      b.at = t;
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / ratePerMs / 1000));
    },
  };
}

/**
 * The same bucket kept in PostgreSQL, shared by every node: one atomic upsert per request refills by the
 * time elapsed on the database's clock and takes a token if there is one (rows lock per key, so
 * concurrent takes on any node serialise). ~0.2 ms per request on loopback.
 */
export function createSharedRateLimiter(db: Db, perMinute: number, burst: number): RateLimiter {
  if (perMinute <= 0) return { take: () => 0 };
  const { rateLimits } = db.t;
  const perSecond = perMinute / 60;
  const refilled = sql`least(${burst}::double precision, ${rateLimits.tokens} + extract(epoch from (now() - ${rateLimits.updatedAt})) * ${perSecond}::double precision)`;
  return {
    async take(key) {
      const [row] = await db
        .insert(rateLimits)
        .values({ keyId: key, tokens: burst - 1, granted: true, updatedAt: sql`now()` })
        .onConflictDoUpdate({
          target: rateLimits.keyId,
          set: {
            tokens: sql`case when ${refilled} >= 1 then ${refilled} - 1 else ${refilled} end`,
            granted: sql`${refilled} >= 1`,
            updatedAt: sql`now()`,
          },
        })
        .returning({ tokens: rateLimits.tokens, granted: rateLimits.granted });
      if (!row || row.granted) return 0;
      return Math.max(1, Math.ceil((1 - row.tokens) / perSecond));
    },
  };
}

/**
 * In an HTTP worker process (SQLite): the buckets live in the primary process, which every worker asks
 * over IPC, so a key has one bucket whichever process its connections land on. Should the primary not
 * answer, this process's own bucket decides (never a 500 for a rate-limit lookup).
 */
export function createRemoteRateLimiter(
  ask: (key: string) => Promise<number>,
  fallback: RateLimiter,
  log: Logger,
): RateLimiter {
  return {
    take: (key) =>
      ask(key).catch((err: unknown) => {
        log.warn("rate limit: no answer from the primary process; using this process's bucket", { err });
        return fallback.take(key);
      }),
  };
}
