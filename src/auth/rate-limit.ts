/**
 * Per-key token bucket held in memory: `burst` tokens, refilled at `perMinute / 60` per second.
 * Answers how long to wait when empty, for the `Retry-After` header.
 */
export interface RateLimiter {
  /** Takes one token; returns 0 when allowed, else the seconds to wait. */
  take(key: string): number;
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
