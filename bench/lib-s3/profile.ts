/**
 * `bench/commands.ts --profile`: where a command's time goes, phase by phase. The server runs from a
 * throw-away COPY of this checkout with bench/lib-s3/profile.patch applied (performance.now() marks
 * in the command queue, runner and probe queue, logged as one `"prof"` line per command); the
 * checkout itself is never touched. The patch is against src/ as of this bench; if src/ has moved
 * on and it no longer applies, `git apply` says where.
 */
import { cpSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { ROOT, run, tempDir } from "../support";
import { median, percentile } from "./stats";

/** A copy of src/ (+ what it needs to start) with the profiling patch applied; returns its root. */
export async function profiledCopy(): Promise<string> {
  const root = tempDir("renderio-prof-");
  for (const p of ["src", "drizzle", "package.json", "tsconfig.json"]) {
    cpSync(join(ROOT, p), join(root, p), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
  await run(["git", "-C", root, "apply", join(ROOT, "bench/lib-s3/profile.patch")]);
  return root;
}

/** Phase durations (ms) of every command the server logged, in order. */
export function phasesOf(serverOutput: string): Record<string, number>[] {
  const out: Record<string, number>[] = [];
  for (const line of serverOutput.split("\n")) {
    if (!line.includes('"msg":"prof"')) continue;
    const { time: _t, level: _l, msg: _m, component: _c, commandId: _i, ...phases } = JSON.parse(line);
    out.push(phases);
  }
  return out;
}

/** Median / p90 per phase and storage, in pipeline order; phases sum to ≈ total − client overheads. */
export function phaseTable(sides: { storage: string; phases: Record<string, number>[] }[]): string {
  const lines = ["| storage | phase (ms) | median | p90 |", "|---|---|---|---|"];
  for (const { storage, phases } of sides) {
    const names = [...new Set(phases.flatMap((p) => Object.keys(p)))];
    let sum = 0;
    for (const name of names) {
      const xs = phases.map((p) => p[name] ?? 0);
      sum += median(xs);
      const label = name === "pickupMs" ? "queue pickup (created_at → worker starts)" : name;
      lines.push(`| ${storage} | ${label} | ${median(xs).toFixed(1)} | ${percentile(xs, 90).toFixed(1)} |`);
    }
    lines.push(`| ${storage} | *sum of medians* | ${sum.toFixed(1)} | |`);
  }
  return lines.join("\n");
}
