/** Small statistics and report helpers shared by bench/commands.ts and bench/s3.ts. */
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ROOT } from "../support";

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export const ms = (seconds: number) => (seconds * 1000).toFixed(0);

/** The 1-minute load average: well above 0 before a run means noisy numbers. */
export const loadAverage = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

export async function machine(): Promise<string> {
  const kernel = (await Bun.$`uname -r`.quiet().text()).trim();
  const ffmpeg = (await Bun.$`ffmpeg -version`.quiet().text())
    .split("\n")[0]
    ?.split(" ")
    .slice(0, 3)
    .join(" ");
  return `${navigator.hardwareConcurrency} CPUs, Bun ${Bun.version}, ${ffmpeg}, Linux ${kernel}`;
}

/** Writes `report` to bench/results/<name>-<yyyy-mm-dd>.md and prints it; returns the path. */
export async function writeReport(name: string, started: Date, report: string): Promise<string> {
  const dir = join(ROOT, "bench/results");
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}-${started.toISOString().slice(0, 10)}.md`);
  await Bun.write(file, report);
  console.log(report);
  console.log(`written to ${file}`);
  return file;
}
