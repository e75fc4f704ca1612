/**
 * Process plumbing for bench/upload.ts: start renderio and the raw sink as children, watch their
 * memory and CPU through /proc, drive curl, and make sure nothing outlives the bench (children are
 * killed and temp dirs removed on normal exit, on an error and on Ctrl-C).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { workerPids } from "../tests/helpers/server";

export const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
/** USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

const children = new Set<Subprocess>();
const dirs = new Set<string>();

/** Kills every child still running and removes every temp dir; safe to call more than once. */
export function cleanup(): void {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  children.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping children and removing temp dirs`);
    cleanup();
    process.exit(130);
  });
}

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

/** Registers a child so that cleanup() (on exit, an error or Ctrl-C) kills it if it still runs. */
export function track<T extends Subprocess>(p: T): T {
  children.add(p);
  void p.exited.then(() => children.delete(p));
  return p;
}

/** Peak memory of a child, in MB (10^6 bytes). */
export interface MemoryPeaks {
  /**
   * VmHWM: the kernel's high-water mark of the whole RSS (anonymous + file-backed + shmem), of the one
   * process that peaked highest (with HTTP workers, the one that received the upload).
   */
  hwm: number;
  /** The VmHWM of every process of the server (primary + HTTP workers) added up. */
  hwmAll: number;
  /** Processes the server ran (1 + its HTTP workers). */
  processes: number;
  /** Highest RssAnon seen in one process by sampling every 50 ms: private memory (heap, buffers). */
  anon: number;
  /** Highest RssFile seen in one process: mapped files, mostly the pages of the bun executable in use. */
  file: number;
}

/** A watched child: CPU time so far and memory peaks, read from /proc while it is alive. */
export interface Watched {
  pid: number;
  /** CPU time of the child and its HTTP worker processes (not of its ffprobe/ffmpeg children). */
  cpuSeconds(): number;
  peaks(): MemoryPeaks;
  /** SIGTERM, then SIGKILL after 5 s; stops the sampling. */
  stop(): Promise<void>;
}

/** A started server: a watched child and its base URL. */
export interface Child extends Watched {
  url: string;
}

const kB = (status: string, field: string) =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
const MB = (kb: number) => (kb * 1024) / 1e6;

function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3 (state)
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime + stime
  } catch {
    return 0; // gone
  }
}

/** The process and its HTTP worker children (not ffprobe, nor a child caught between fork and exec). */
const serverPids = (pid: number): number[] => [pid, ...workerPids(pid)];

/** Samples a child's memory every 50 ms (the last reading stays once it is gone). */
export function watchProcess(proc: Subprocess): Watched {
  let anon = 0;
  let file = 0;
  const hwm = new Map<number, number>();
  const sample = () => {
    for (const pid of serverPids(proc.pid)) {
      try {
        const s = readFileSync(`/proc/${pid}/status`, "utf8");
        anon = Math.max(anon, kB(s, "RssAnon"));
        file = Math.max(file, kB(s, "RssFile"));
        hwm.set(pid, kB(s, "VmHWM"));
      } catch {
        // the process is gone; keep the last readings
      }
    }
  };
  const timer = setInterval(sample, 50);
  void proc.exited.then(() => clearInterval(timer));
  return {
    pid: proc.pid,
    cpuSeconds: () => serverPids(proc.pid).reduce((sum, pid) => sum + cpuSeconds(pid), 0),
    peaks() {
      sample();
      const all = [...hwm.values()];
      return {
        hwm: MB(Math.max(0, ...all)),
        hwmAll: MB(all.reduce((a, b) => a + b, 0)),
        processes: all.length,
        anon: MB(anon),
        file: MB(file),
      };
    },
    async stop() {
      clearInterval(timer);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await proc.exited;
      clearTimeout(t);
    },
  };
}

function collect(stream: ReadableStream<Uint8Array>): () => string {
  let out = "";
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of stream) out += dec.decode(chunk, { stream: true });
  })();
  return () => out;
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await Bun.sleep(25);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port as number;
  s.stop(true);
  return port;
}

/** The environment every benchmark gives renderio: loopback, its own data dir, no rate limit, quiet logs. */
export function serverEnv(dataDir: string, port: number): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: "127.0.0.1",
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    RATE_LIMIT_PER_MINUTE: "0",
    LOG_LEVEL: "warn",
    SHUTDOWN_GRACE_SECONDS: "2",
    ...extraServerEnv(),
  };
}

/** `BENCH_BUN_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` adds runtime flags to the benchmarked renderio. */
function benchBunArgs(): string[] {
  return (process.env.BENCH_BUN_ARGS ?? "").split(/\s+/).filter(Boolean);
}

/** `BENCH_SERVER_ENV="K=V K2=V2"` adds settings to the benchmarked renderio (e.g. MEDIA_NICE=0 to compare). */
function extraServerEnv(): Record<string, string> {
  const pairs = (process.env.BENCH_SERVER_ENV ?? "").split(/\s+/).filter(Boolean);
  return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
}

/** `bun src/index.ts serve` on a free loopback port with a fresh data dir; resolves with its first key. */
export async function startRenderio(dataDir: string): Promise<Child & { key: string }> {
  const port = freePort();
  const proc = track(
    Bun.spawn([BUN, ...benchBunArgs(), join(ROOT, "src/index.ts"), "serve"], {
      cwd: ROOT,
      env: serverEnv(dataDir, port),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  const out = collect(proc.stdout);
  const err = collect(proc.stderr);
  const url = `http://127.0.0.1:${port}`;
  const key = await until("renderio /health and its first key", 20_000, async () => {
    if (proc.exitCode !== null) throw new Error(`renderio exited ${proc.exitCode}: ${out()}${err()}`);
    const ok = (await fetch(`${url}/health`)).ok;
    return ok ? /ffsk_[0-9a-f]{64}/.exec(out())?.[0] : undefined;
  });
  return { ...watchProcess(proc), url, key };
}

/** bench/raw-sink.ts writing into `dir`; `BENCH_SINK=blocks` makes it use renderio's file writer. */
export async function startSink(dir: string): Promise<Child> {
  const blocks = process.env.BENCH_SINK === "blocks" ? ["--blocks"] : [];
  const proc = track(
    Bun.spawn([BUN, join(ROOT, "bench/raw-sink.ts"), dir, ...blocks], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  const out = collect(proc.stdout);
  const url = await until("raw sink to listen", 10_000, async () => /^listening (\S+)/m.exec(out())?.[1]);
  return { ...watchProcess(proc), url };
}

/** One transfer as curl reported it. */
export interface Transfer {
  status: number;
  body: string;
  /** Seconds from curl's start of the transfer to its end (excludes process start-up). */
  seconds: number;
}

/**
 * Runs one curl process that uploads `path` as the multipart `file` part `count` times in a row over
 * one kept-alive connection (`--next`). curl streams the file from disk, so the client holds no copy.
 */
export async function curlUploads(
  url: string,
  path: string,
  count: number,
  key?: string,
): Promise<Transfer[]> {
  const one = ["-sS", "-F", `file=@${path}`, "-w", "\t%{http_code}\t%{time_total}\n"];
  if (key) one.push("-H", `X-API-KEY: ${key}`);
  const argv = ["curl"];
  for (let i = 0; i < count; i++) argv.push(...(i ? ["--next"] : []), ...one, url);
  const proc = track(Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`curl exited ${code}: ${err.trim()}`);
  const lines = out.split("\n").filter(Boolean);
  if (lines.length !== count) throw new Error(`curl reported ${lines.length} transfers, expected ${count}`);
  return lines.map((line) => {
    const [seconds, status, ...body] = line.split("\t").reverse();
    return { status: Number(status), body: body.reverse().join("\t"), seconds: Number(seconds) };
  });
}

/** Runs a command to completion; throws with its stderr on a non-zero exit. */
export async function run(argv: string[]): Promise<void> {
  const proc = track(Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" }));
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${err.trim()}`);
}

/** 1-minute load average: anything well above 0 before a run means the numbers will be noisy. */
export function loadAverage(): number {
  return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

/** Runs a benchmark's main(): exit code from main (1 on a throw), children and temp dirs always cleaned up. */
export async function runBench(main: () => Promise<number>, stopExtra?: () => void): Promise<never> {
  let code = 1;
  try {
    code = await main();
  } catch (e) {
    console.error(e);
  } finally {
    stopExtra?.();
    cleanup();
  }
  process.exit(code);
}
