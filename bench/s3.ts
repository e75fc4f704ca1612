/**
 * S3 throughput benchmark against the local Ceph RGW (scripts/s3/rgw.sh): a large file into
 * renderio's S3 driver (curl -F upload, and store-file from a loopback origin) versus the AWS SDK
 * alone (`@aws-sdk/lib-storage` Upload, 8 MiB parts × 4 in flight, streaming the same file from disk),
 * with renderio's peak RSS. renderio restarts for each case so VmHWM is that case's peak.
 *
 *   bun bench/s3.ts                   1 GiB, 3 runs per side per case        (~6–10 min, ~1.1 GiB temp disk)
 *   bun bench/s3.ts --size-mib 256 --runs 1 --no-write                      (smoke check)
 *   bun bench/s3.ts --env S3_PART_SIZE_MB=5 --no-write      (renderio with a setting; SDK unchanged)
 *
 * Prints Markdown and writes bench/results/s3-<date>.md (unless --no-write). Exits 1 when a target
 * is missed: renderio ≥ 0.8× the SDK alone and peak RSS < 200 MB, for both cases. Needs curl.
 */
import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { s3ClientFor } from "../tests/helpers/s3-servers";
import { clearPrefix } from "./lib-s3/bucket";
import { type CaseResult, type Ctx, type Series, storeFileCase, uploadCase } from "./lib-s3/s3-cases";
import { rgw, stopChildren } from "./lib-s3/server";
import { loadAverage, machine, median, writeReport } from "./lib-s3/stats";
import { MiB, makeRandom } from "./payloads";
import { runBench, tempDir } from "./support";

const MIN_RATIO = 0.8;
const MAX_RSS_MB = 200;
const { values: opt } = parseArgs({
  options: {
    "size-mib": { type: "string", default: "1024" },
    runs: { type: "string", default: "3" },
    env: { type: "string", multiple: true, default: [] },
    "no-write": { type: "boolean", default: false },
  },
});
const extraEnv = Object.fromEntries(
  opt.env.map((kv) => [kv.split("=")[0], kv.split("=").slice(1).join("=")]),
);

interface Row {
  name: string;
  result: CaseResult;
}

const med = (s: Series) => median(s.mibs);
const ratioOf = (r: CaseResult) => med(r.renderio) / med(r.sdk);
/** Two decimals rounded down, so a printed ratio never looks better than the verdict. */
const ratioText = (x: number) => `${(Math.floor(x * 100) / 100).toFixed(2)}×`;
const pass = (r: CaseResult) => ratioOf(r) >= MIN_RATIO && r.renderio.hwm < MAX_RSS_MB;

function table(rows: Row[]): string {
  const lines = [
    "| case | renderio | SDK alone (disk) | ratio | renderio peak RSS | SDK peak RSS | target | pass/fail |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const { name, result: r } of rows) {
    lines.push(
      `| ${name} | ${med(r.renderio).toFixed(0)} MiB/s | ${med(r.sdk).toFixed(0)} MiB/s | ` +
        `${ratioText(ratioOf(r))} | ${r.renderio.hwm.toFixed(0)} MB | ${r.sdk.hwm.toFixed(0)} MB | ` +
        `≥ ${MIN_RATIO}× SDK, RSS < ${MAX_RSS_MB} MB | ${pass(r) ? "pass" : "**FAIL**"} |`,
    );
  }
  return lines.join("\n");
}

function details(rows: Row[]): string[] {
  const runs = (s: Series) => s.mibs.map((x) => x.toFixed(0)).join(", ");
  const cpu = (s: Series) => median(s.cpu).toFixed(2);
  return rows.flatMap(({ name, result: r }) => [
    `${name}: renderio runs ${runs(r.renderio)} MiB/s, SDK-alone runs ${runs(r.sdk)} MiB/s; CPU renderio ` +
      `${cpu(r.renderio)} vs SDK ${cpu(r.sdk)} s/GiB (per process, median).`,
    ...(r.serverMibs
      ? [
          `${name}: renderio's own "file downloaded" time (download + multipart put, after queue pickup) ` +
            `${r.serverMibs.map((x) => x.toFixed(0)).join(", ")} MiB/s.`,
        ]
      : []),
    ...(r.sdkFromOrigin
      ? [
          `${name}: SDK alone with the body fetched from the same origin: ${runs(r.sdkFromOrigin)} MiB/s ` +
            `(median ${med(r.sdkFromOrigin).toFixed(0)}; renderio / this = ` +
            `${ratioText(med(r.renderio) / med(r.sdkFromOrigin))}), peak RSS ${r.sdkFromOrigin.hwm.toFixed(0)} MB.`,
        ]
      : []),
    ...r.notes,
  ]);
}

async function main(): Promise<number> {
  const load0 = loadAverage();
  if (load0 > 1) console.error(`warning: load average ${load0} before start; expect noisy numbers`);
  const size = Number(opt["size-mib"]) * MiB;
  const root = tempDir("renderio-bench-s3-");
  const dir = join(root, "payloads");
  await mkdir(dir);
  console.error(`generating payloads in ${dir} …`);
  const payload = join(dir, "payload.bin");
  await rename(await makeRandom(dir, size), payload);
  const warmup = join(dir, "warmup.bin");
  await rename(await makeRandom(dir, 32 * MiB), warmup);

  const prefix = `bench-s3-${crypto.randomUUID()}/`;
  const { s3, env } = await rgw(prefix);
  const ctx: Ctx = {
    payload,
    warmup,
    runs: Number(opt.runs),
    s3,
    env,
    serverEnv: extraEnv,
    prefix,
    client: s3ClientFor(s3),
  };
  const started = new Date();
  const label = `${opt["size-mib"]} MiB`;
  const rows: Row[] = [];
  try {
    console.error(`running: ${label} upload (curl -F) vs SDK alone …`);
    rows.push({ name: `${label} upload (curl -F), median of ${ctx.runs}`, result: await uploadCase(ctx) });
    console.error(`running: ${label} store-file vs SDK alone …`);
    rows.push({ name: `${label} store-file, median of ${ctx.runs}`, result: await storeFileCase(ctx, dir) });
  } finally {
    await clearPrefix(ctx.client, s3.bucket, prefix);
  }

  const report = [
    `# S3 benchmark (local Ceph RGW), ${started.toISOString()}`,
    "",
    `Machine: ${await machine()}; load average ${load0} before, ${loadAverage()} after. ` +
      `RGW ${s3.endpoint} (same machine: it competes for the same 2 CPUs and disk).` +
      (opt.env.length ? ` renderio env: ${opt.env.join(" ")}.` : ""),
    "renderio: S3 driver defaults (8 MiB parts, 4 in flight), restarted per case; upload client curl " +
      "`-F file=@…` over loopback (MiB/s from curl's time_total, i.e. until renderio answered); store-file " +
      "timed from POST to the first 100 ms poll showing `size_mbytes`. SDK alone: " +
      "bench/lib-s3/sdk-upload.ts in its own process, `Upload` 8 MiB × 4 from `Bun.file(p).stream()`, " +
      "timed from stream open to `done()`. Runs alternate renderio/SDK; every object's size is checked " +
      "in the bucket. Peak RSS is VmHWM in MB (10^6 B).",
    "",
    table(rows),
    "",
    ...details(rows).map((x) => `- ${x}`),
    "",
  ].join("\n");
  if (opt["no-write"]) console.log(report);
  else await writeReport("s3", started, report);
  return rows.every((r) => pass(r.result)) ? 0 : 1;
}

await runBench(main, stopChildren);
