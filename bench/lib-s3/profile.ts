/**
 * `bench/commands.ts --profile`: where a command's time goes, phase by phase. The server runs from a
 * throw-away COPY of the committed tree (`git archive HEAD`, so uncommitted edits in progress cannot
 * break it) with bench/lib-s3/profile.patch applied: performance.now() marks in the command queue,
 * runner and probe queue, logged as one `"prof"` line per command. The checkout is never touched.
 * When HEAD has moved on so far that the patch no longer applies, `git apply` says where.
 */
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { ROOT, run, tempDir } from "../support";
import { median, percentile } from "./stats";

/** HEAD's src/ (+ what it needs to start) with the profiling patch applied; returns its root. */
export async function profiledCopy(): Promise<string> {
  const root = tempDir("renderio-prof-");
  await Bun.$`git -C ${ROOT} archive HEAD src drizzle package.json tsconfig.json | tar -x -C ${root}`.quiet();
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
  // -C1: tolerate edits near the marks (they only time things; a wrong spot shows as an odd phase).
  await run(["git", "-C", root, "apply", "-C1", join(ROOT, "bench/lib-s3/profile.patch")]);
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
