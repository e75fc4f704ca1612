import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSpareCpu, pressureSource, stalledMicros } from "../../src/lib/cpu-pressure";
import { probeFile } from "../../src/media/ffprobe";
import { unsandboxed } from "../../src/media/sandbox";

const dir = mkdtempSync(join(tmpdir(), "renderio-pressure-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const psiText = (total: number) =>
  `some avg10=0.00 avg60=0.00 avg300=0.00 total=${total}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`;

/**
 * A pressure file whose `some total` grows by `share` of wall time, as the kernel's does while tasks
 * wait for a CPU that share of the time. `set` changes the share from now on.
 */
function simulatedPressure(name: string, share: number) {
  const path = join(dir, name);
  let total = 0;
  let last = performance.now();
  let current = share;
  const tick = () => {
    const now = performance.now();
    total += Math.round((now - last) * 1000 * current);
    last = now;
    writeFileSync(path, psiText(total));
  };
  tick();
  const timer = setInterval(tick, 10);
  return {
    path,
    set(s: number) {
      tick();
      current = s;
    },
    stop: () => clearInterval(timer),
  };
}

describe("PSI parsing and source", () => {
  test("reads `some total` from the system and the cgroup v2 formats, nothing from anything else", () => {
    expect(stalledMicros(psiText(8040520148))).toBe(8040520148);
    expect(stalledMicros("some avg10=1.5 avg60=0.2 avg300=0.0 total=42\n")).toBe(42);
    expect(stalledMicros("full avg10=0.00 total=9\n")).toBeNull();
    expect(stalledMicros("")).toBeNull();
  });

  test("prefers the process's cgroup v2 file, then the system's, and is null when PSI is off", () => {
    const files: Record<string, string> = {
      "/proc/self/cgroup": "0::/system.slice/renderio.service\n",
      "/sys/fs/cgroup/system.slice/renderio.service/cpu.pressure": psiText(1),
      "/proc/pressure/cpu": psiText(2),
    };
    const reader = (f: Record<string, string>) => (p: string) => {
      const text = f[p];
      if (text === undefined) throw new Error(`ENOENT ${p}`);
      return text;
    };
    expect(pressureSource(reader(files))).toBe("/sys/fs/cgroup/system.slice/renderio.service/cpu.pressure");
    // cgroup v1 (no `0::` line) or no such file in the cgroup: the system-wide file.
    expect(pressureSource(reader({ ...files, "/proc/self/cgroup": "4:memory:/x\n1:cpu:/\n" }))).toBe(
      "/proc/pressure/cpu",
    );
    // The root cgroup's path ends in "/": no double slash.
    expect(
      pressureSource(reader({ "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/cpu.pressure": psiText(3) })),
    ).toBe("/sys/fs/cgroup/cpu.pressure");
    // PSI compiled in but disabled: the kernel refuses the read.
    const refusing = (p: string): string => {
      if (p === "/proc/self/cgroup") return "0::/\n";
      throw new Error("EOPNOTSUPP");
    };
    expect(pressureSource(refusing)).toBeNull();
  });

  test("this machine's kernel: the source found is a readable PSI file", () => {
    const source = pressureSource();
    if (source === null) {
      // Only acceptable where the kernel really has no PSI.
      expect(existsSync("/proc/pressure/cpu")).toBe(false);
      return;
    }
    expect(stalledMicros(readFileSync(source, "utf8"))).toBeGreaterThanOrEqual(0);
  });
});

describe("waiting for spare CPU", () => {
  test("waits while the CPU is contended, up to the limit of the wait", async () => {
    const p = simulatedPressure("busy", 0.9);
    try {
      const spare = createSpareCpu({ limit: 0.5, source: p.path, pollMs: 50 });
      const t0 = performance.now();
      const waited = await spare.wait(400);
      expect(waited).toBeGreaterThanOrEqual(400);
      expect(waited).toBeLessThan(400 + 250);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
    } finally {
      p.stop();
    }
  });

  test("returns after the first quiet window, and as soon as contention ends", async () => {
    const p = simulatedPressure("quiet", 0.05);
    try {
      const spare = createSpareCpu({ limit: 0.5, source: p.path, pollMs: 50 });
      expect(await spare.wait(5000)).toBeLessThan(200);
      p.set(0.95);
      await Bun.sleep(60);
      setTimeout(() => p.set(0.1), 300);
      const waited = await spare.wait(5000);
      expect(waited).toBeGreaterThanOrEqual(300);
      expect(waited).toBeLessThan(300 + 300);
    } finally {
      p.stop();
    }
  });

  test("never waits when turned off (limit 100 %) or when there is no PSI", async () => {
    const off = createSpareCpu({ limit: 1 });
    expect(off.source).toBeNull();
    expect(await off.wait(1000)).toBeLessThan(20);
    const none = createSpareCpu({ limit: 0.5, source: null });
    expect(await none.wait(1000)).toBeLessThan(20);
    // A source that disappears midway ends the wait instead of spinning to the limit.
    const p = simulatedPressure("vanishing", 0.99);
    const gone = createSpareCpu({ limit: 0.5, source: p.path, pollMs: 50 });
    p.stop();
    setTimeout(() => rmSync(p.path), 120);
    expect(await gone.wait(3000)).toBeLessThan(500);
  });

  test("real kernel pressure: busy loops on every CPU hold a wait to its limit (no PSI: no wait)", async () => {
    const spare = createSpareCpu({ limit: 0.5, pollMs: 100 });
    const hogs = Array.from({ length: navigator.hardwareConcurrency + 2 }, () =>
      Bun.spawn(["sh", "-c", "while :; do :; done"], { stdout: "ignore", stderr: "ignore" }),
    );
    try {
      await Bun.sleep(300);
      const waited = await spare.wait(800);
      if (spare.source === null) {
        // A kernel without PSI (none here: CI boots with it): nothing to read, so nothing waits.
        expect(existsSync("/proc/pressure/cpu")).toBe(false);
        expect(waited).toBeLessThan(50);
      } else {
        expect(waited).toBeGreaterThanOrEqual(800);
      }
    } finally {
      for (const h of hogs) h.kill("SIGKILL");
      await Promise.all(hogs.map((h) => h.exited));
    }
  });
});

describe("background probes wait for spare CPU", () => {
  const sample = join(dir, "clip.mp4");
  const make = async () => {
    if (existsSync(sample)) return;
    const proc = Bun.spawn(
      ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "1", sample],
      { stdout: "ignore", stderr: "pipe" },
    );
    if ((await proc.exited) !== 0) throw new Error(await new Response(proc.stderr).text());
  };
  /** Probes the clip under a simulated CPU pressure `share` (`during` may change it); returns outcome and ms. */
  async function probeUnder(
    idle: boolean,
    share: number,
    during?: (p: ReturnType<typeof simulatedPressure>) => void,
  ) {
    await make();
    const p = simulatedPressure(`probe-${crypto.randomUUID()}`, share);
    try {
      during?.(p);
      const t0 = performance.now();
      const out = await probeFile(sample, {
        timeoutMs: 30_000,
        sandbox: unsandboxed("test"),
        fileName: "clip.mp4",
        idle,
        idleGraceMs: 1500,
        spareCpu: createSpareCpu({ limit: 0.5, source: p.path, pollMs: 50 }),
      });
      return { kind: out.kind, ms: performance.now() - t0, waitedMs: out.waitedMs };
    } finally {
      p.stop();
    }
  }

  test("an idle-priority probe starts only once the CPU is no longer contended", async () => {
    const { kind, ms, waitedMs } = await probeUnder(true, 0.95, (p) => setTimeout(() => p.set(0.05), 600));
    expect(kind).toBe("media");
    expect(ms).toBeGreaterThanOrEqual(600);
    // The outcome says how long it waited (the probe log line shows it).
    expect(waitedMs).toBeGreaterThanOrEqual(550);
    expect(waitedMs).toBeLessThanOrEqual(ms);
  });

  test("contended for the whole grace: it still runs (at MEDIA_NICE), delayed by at most the grace", async () => {
    const { kind, ms, waitedMs } = await probeUnder(true, 0.99);
    expect(kind).toBe("media");
    expect(waitedMs).toBeGreaterThanOrEqual(1500 - 500);
    expect(ms).toBeGreaterThanOrEqual(1500 - 500);
    expect(ms).toBeLessThan(1500 + 5000);
  });

  test("a probe somebody waits for (not idle priority) never waits for spare CPU", async () => {
    const { kind, ms, waitedMs } = await probeUnder(false, 0.99);
    expect(kind).toBe("media");
    expect(waitedMs).toBeUndefined();
    expect(ms).toBeLessThan(1000);
  });
});
