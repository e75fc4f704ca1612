/**
 * Command overhead benchmark: what renderio adds around a small ffmpeg command whose input is already
 * stored. One 1 s 160×120 mp4 is uploaded once, then `--runs` thumbnail commands run one after the
 * other (`-i {{in_v}} -frames:v 1 {{out_thumb}}` → jpg), each timed from submit to the first 10 ms
 * poll that sees SUCCESS, next to the server's own `total_processing_seconds` and
 * `ffmpeg_command_run_seconds`.
 *
 *   bun bench/commands.ts                          local disk, then S3 (the local RGW), 30 runs each,
 *                                                  each with the system ffprobe and with a static one
 *   bun bench/commands.ts --storage local --runs 10 --ffprobe system
 *   bun bench/commands.ts --root /tmp/copy --env SANDBOX=off --no-write   (another tree / a setting)
 *
 * Prints Markdown and writes bench/results/commands-<date>.md (unless --no-write). Exits 1 when the
 * median overhead (server or client view) is 150 ms or more. Needs ffmpeg; S3 mode needs the RGW
 * (scripts/s3/rgw.sh start, run here when it is not up).
 */
import { parseArgs } from "node:util";
import { s3ClientFor } from "../tests/helpers/s3-servers";
import { clearPrefix } from "./lib-s3/bucket";
import { referenceTimings } from "./lib-s3/command-refs";
import { type CommandRun, runOne, storeInput } from "./lib-s3/command-runs";
import { rgw, startRenderio, stopChildren } from "./lib-s3/server";
import { staticFfprobe } from "./lib-s3/static-ffprobe";
import { loadAverage, machine, median, ms, percentile, writeReport } from "./lib-s3/stats";
import { run, runBench, tempDir } from "./support";

const TARGET_MS = 150;
const { values: opt } = parseArgs({
  options: {
    runs: { type: "string", default: "30" },
    warmup: { type: "string", default: "3" },
    storage: { type: "string", default: "both" },
    /** system = ffprobe on PATH (Debian's); static = FFPROBE_PATH set to a static build (npm, cached). */
    ffprobe: { type: "string", default: "both" },
    root: { type: "string" },
    env: { type: "string", multiple: true, default: [] },
    "no-write": { type: "boolean", default: false },
  },
});
const runs = Number(opt.runs);
const extraEnv = Object.fromEntries(
  opt.env.map((kv) => [kv.split("=")[0], kv.split("=").slice(1).join("=")]),
);

interface Side {
  storage: "local" | "s3";
  /** Which ffprobe probed the outputs ("system" or "static"). */
  ffprobe: string;
  runs: CommandRun[];
  peakMB: number;
}

async function makeInput(dir: string): Promise<string> {
  const path = `${dir}/small.mp4`;
  // biome-ignore format: argv reads best as flag/value pairs
  await run([
    "ffmpeg", "-nostdin", "-v", "error", "-y",
    "-f", "lavfi", "-i", "testsrc=d=1:s=160x120", "-f", "lavfi", "-i", "sine=d=1",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path,
  ]);
  return path;
}

async function measure(
  storage: "local" | "s3",
  ffprobe: { label: string; path?: string },
  mp4: string,
  root: string | undefined,
): Promise<Side> {
  const prefix = `bench-commands-${crypto.randomUUID()}/`;
  const s3 = storage === "s3" ? await rgw(prefix) : undefined;
  const env = {
    ...s3?.env,
    ...(ffprobe.path ? { FFPROBE_PATH: ffprobe.path } : {}),
    ...extraEnv,
  };
  const r = await startRenderio(tempDir(`renderio-cmd-${storage}-`), env, root);
  try {
    const input = await storeInput(r, mp4);
    for (let i = 0; i < Number(opt.warmup); i++) await runOne(r, input);
    const out: CommandRun[] = [];
    for (let i = 0; i < runs; i++) out.push(await runOne(r, input));
    return { storage, ffprobe: ffprobe.label, runs: out, peakMB: r.peaks().hwm };
  } finally {
    await r.stop();
    if (s3) await clearPrefix(s3ClientFor(s3.s3), s3.s3.bucket, prefix);
  }
}

const METRICS: [string, (r: CommandRun) => number][] = [
  ["client wall (submit → SUCCESS seen)", (r) => r.wall],
  ["server total_processing_seconds", (r) => r.total],
  ["server ffmpeg_command_run_seconds", (r) => r.ffmpeg],
  ["**overhead, server view** (total − ffmpeg)", (r) => r.serverOverhead],
  ["**overhead, client view** (wall − ffmpeg)", (r) => r.clientOverhead],
  ["submit round trip (POST)", (r) => r.submit],
  ["poll round trip (GET, mean per run)", (r) => r.pollRtt],
];

const side = (s: Side) => `${s.storage}, ${s.ffprobe}`;

function summary(sides: Side[]): string {
  const lines = ["| storage, ffprobe | metric (ms) | median | p90 | max |", "|---|---|---|---|---|"];
  for (const s of sides) {
    for (const [name, f] of METRICS) {
      const xs = s.runs.map(f);
      lines.push(
        `| ${side(s)} | ${name} | ${ms(median(xs))} | ${ms(percentile(xs, 90))} | ${ms(Math.max(...xs))} |`,
      );
    }
  }
  return lines.join("\n");
}

function verdicts(sides: Side[]): { text: string; ok: boolean } {
  const lines = [
    "| storage, ffprobe | median overhead, server view | client view | target | pass/fail |",
    "|---|---|---|---|---|",
  ];
  let ok = true;
  for (const s of sides) {
    const sv = median(s.runs.map((r) => r.serverOverhead)) * 1000;
    const cv = median(s.runs.map((r) => r.clientOverhead)) * 1000;
    const pass = sv < TARGET_MS && cv < TARGET_MS;
    ok &&= pass;
    lines.push(
      `| ${side(s)} | ${sv.toFixed(0)} ms | ${cv.toFixed(0)} ms | < ${TARGET_MS} ms (both) | ${pass ? "pass" : "**FAIL**"} |`,
    );
  }
  return { text: lines.join("\n"), ok };
}

function perRun(sides: Side[]): string {
  const lines = [
    "| storage, ffprobe | run | client wall | server total | ffmpeg run | overhead (server) | overhead (client) | polls |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const s of sides) {
    for (const [i, r] of s.runs.entries()) {
      const cells = [r.wall, r.total, r.ffmpeg, r.serverOverhead, r.clientOverhead].map(ms).join(" | ");
      lines.push(`| ${side(s)} | ${i + 1} | ${cells} | ${r.polls} |`);
    }
  }
  return lines.join("\n");
}

async function main(): Promise<number> {
  const load0 = loadAverage();
  if (load0 > 1) console.error(`warning: load average ${load0} before start; expect noisy numbers`);
  const dir = tempDir("renderio-bench-cmd-");
  const mp4 = await makeInput(dir);
  const root = opt.root;
  const started = new Date();
  const sides: Side[] = [];
  const probes: { label: string; path?: string }[] = [];
  if (opt.ffprobe !== "static") probes.push({ label: "system" });
  if (opt.ffprobe !== "system") probes.push({ label: "static", path: await staticFfprobe() });
  for (const storage of opt.storage === "both"
    ? (["local", "s3"] as const)
    : [opt.storage as "local" | "s3"]) {
    for (const ffprobe of probes) {
      console.error(
        `running: ${storage}, ${ffprobe.label} ffprobe, ${opt.warmup} warm-up + ${runs} commands …`,
      );
      sides.push(await measure(storage, ffprobe, mp4, root));
    }
  }
  console.error("running: reference timings (bare / sandboxed ffmpeg, sandboxed ffprobe of the jpg) …");
  const refs = await referenceTimings(dir, mp4, 10);
  const v = verdicts(sides);
  const report = [
    `# Command overhead benchmark, ${started.toISOString()}`,
    "",
    `Machine: ${await machine()}; load average ${load0} before, ${loadAverage()} after.`,
    `Server: ${root ?? "this checkout"}${opt.env.length ? `, env ${opt.env.join(" ")}` : ""}; ` +
      `peak RSS ${sides.map((s) => `${side(s)} ${s.peakMB.toFixed(0)} MB`).join(", ")}.`,
    `ffprobe: system = \`${Bun.which("ffprobe")}\` (Debian's, ~215 shared libraries bound at start); ` +
      "static = `FFPROBE_PATH` set to the statically linked build from npm `@ffprobe-installer/linux-x64` 5.2.0.",
    `Command: \`-i {{in_v}} -frames:v 1 {{out_thumb}}\` (jpg) on a stored 1 s 160×120 H.264+AAC mp4; ` +
      `${opt.warmup} warm-up runs, then ${runs} sequential runs per storage.`,
    "Client wall = POST submit → first GET that sees SUCCESS, polling every 10 ms: it overstates the " +
      "true end by up to 10 ms + one poll round trip (granularity ≈ 10 ms + the poll RTT below).",
    "",
    v.text,
    "",
    summary(sides),
    "",
    `Reference (bench process, medians of 10, sandbox ${refs.sandboxed ? "bwrap" : "unavailable"}): bare ffmpeg ` +
      `${ms(refs.bareFfmpeg)} ms; the same argv in bwrap + prlimit ${ms(refs.sandboxFfmpeg)} ms ` +
      `(sandbox start ≈ ${ms(refs.sandboxFfmpeg - refs.bareFfmpeg)} ms, inside ffmpeg_command_run_seconds); ` +
      `sandboxed ffprobe of the jpg (local path) ${ms(refs.probeJpg)} ms (inside the overhead).`,
    "",
    "<details><summary>Per run (ms)</summary>",
    "",
    perRun(sides),
    "",
    "</details>",
    "",
  ].join("\n");
  if (opt["no-write"]) console.log(report);
  else await writeReport("commands", started, report);
  return v.ok ? 0 : 1;
}

await runBench(main, stopChildren);
