import { readFileSync } from "node:fs";

/**
 * Waiting for spare CPU, measured by Linux pressure stall information (PSI): `some total=` in a
 * `cpu.pressure` file is the time, in µs, during which at least one runnable task waited for a CPU.
 * Its growth over a short window is the share of that window the CPU was contended.
 *
 * Why: background probes run under SCHED_IDLE, yet during a burst of uploads they still took 15–30 %
 * of the CPU (perf, 1 MiB uploads from 16 clients; two `chrt --idle` busy loops cost the raw sink 10–20 %
 * the same way). The scheduler hands an idle-policy task the CPU whenever the busy tasks block for a
 * moment and lets it finish its slice, and a burst of small requests blocks thousands of times a
 * second. Not starting a background probe while the CPU is contended keeps that time for requests.
 */
export interface SpareCpu {
  /** Where the pressure is read from; null when the kernel offers none (then nothing waits). */
  readonly source: string | null;
  /**
   * Resolves once a window of `pollMs` had CPU pressure below the limit, or after about `maxMs`;
   * returns the milliseconds it waited.
   */
  wait(maxMs: number): Promise<number>;
}

/** The cgroup (v2) this process is in, else the whole system; null where PSI is off or missing. */
export function pressureSource(
  read: (path: string) => string = (p) => readFileSync(p, "utf8"),
): string | null {
  const candidates: string[] = [];
  try {
    const unified = read("/proc/self/cgroup")
      .split("\n")
      .find((l) => l.startsWith("0::"));
    if (unified) candidates.push(`/sys/fs/cgroup${unified.slice(3).replace(/\/$/, "")}/cpu.pressure`);
  } catch {
    // no cgroup information: the system-wide file below
  }
  candidates.push("/proc/pressure/cpu");
  for (const path of candidates) {
    try {
      if (stalledMicros(read(path)) !== null) return path;
    } catch {
      // missing, or PSI disabled (the kernel answers EOPNOTSUPP)
    }
  }
  return null;
}

/** The `some … total=` counter of a pressure file, in µs. */
export function stalledMicros(text: string): number | null {
  const m = /^some .*\btotal=(\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * `limit` is the share (0–1) of a window in which tasks may wait for a CPU and the CPU still counts as
 * spare; 1 or more turns waiting off.
 */
export function createSpareCpu(opts: { limit: number; source?: string | null; pollMs?: number }): SpareCpu {
  const source = opts.limit >= 1 ? null : opts.source === undefined ? pressureSource() : opts.source;
  const pollMs = opts.pollMs ?? 100;
  const sample = (): number | null => {
    try {
      return source ? stalledMicros(readFileSync(source, "utf8")) : null;
    } catch {
      return null;
    }
  };
  return {
    source,
    async wait(maxMs: number): Promise<number> {
      const started = performance.now();
      let before = sample();
      let at = performance.now();
      while (before !== null && performance.now() - started < maxMs) {
        await Bun.sleep(pollMs);
        const now = sample();
        const t = performance.now();
        if (now === null) break;
        const share = (now - before) / ((t - at) * 1000);
        if (share < opts.limit) break;
        before = now;
        at = t;
      }
      return Math.round(performance.now() - started);
    },
  };
}
