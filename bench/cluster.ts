/**
 * Scale-out benchmark: throughput of many small commands (`-i {{in_v}} -frames:v 1 {{out_thumb}}` on a
 * stored 1 s 160×120 mp4) on one node versus two nodes sharing one PostgreSQL database and one bucket
 * (the local Ceph RGW). All `--commands` are submitted at once (round-robin over the nodes), then the
 * list endpoint is polled until every one is SUCCESS; throughput = commands / (first submit → all done).
 *
 *   bun bench/cluster.ts                      60 commands per case
 *   bun bench/cluster.ts --commands 30 --no-write
 *
 * Cases: one node on SQLite (the reference), one node on PostgreSQL, one node on PostgreSQL with twice
 * the command slots, two nodes on PostgreSQL (default slots each). Needs ffmpeg, scripts/pg/pg.sh and
 * scripts/s3/rgw.sh (started when not running). Prints Markdown and writes bench/results/cluster-<date>.md.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createPgDatabase } from "../tests/helpers/db";
import { storeInput } from "./lib-s3/command-runs";
import { call, freePort, type Renderio, rgw, spawnChild, stopChildren, until } from "./lib-s3/server";
import { loadAverage, machine, writeReport } from "./lib-s3/stats";
import { ROOT, run, runBench, serverEnv, tempDir } from "./support";

const { values: opt } = parseArgs({
  options: {
    commands: { type: "string", default: "60" },
    /** Rounds over all cases, every other one in reverse order (load on a shared machine drifts). */
    rounds: { type: "string", default: "2" },
    "no-write": { type: "boolean", default: false },
  },
});
const N = Number(opt.commands);
const defaultSlots = Math.max(1, Math.floor(availableParallelism() / 2));

interface Case {
  name: string;
  nodes: number;
  pg: boolean;
  slots: number;
}

const CASES: Case[] = [
  { name: "1 node, SQLite", nodes: 1, pg: false, slots: defaultSlots },
  { name: "1 node, PostgreSQL", nodes: 1, pg: true, slots: defaultSlots },
  { name: "1 node, PostgreSQL, 2× slots", nodes: 1, pg: true, slots: defaultSlots * 2 },
  { name: "2 nodes, PostgreSQL", nodes: 2, pg: true, slots: defaultSlots },
];

/** Starts one node; the first prints the key, later ones share the database and reuse it. */
async function startNode(env: Record<string, string>, key?: string): Promise<Renderio> {
  const port = freePort();
  const p = spawnChild([process.execPath, join(ROOT, "src/index.ts"), "serve"], {
    ...serverEnv(tempDir("renderio-cluster-"), port),
    LOG_LEVEL: "info",
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  const found = await until("renderio /health", 30_000, async () => {
    if (p.output().includes("Invalid configuration")) throw new Error(p.output());
    if (!(await fetch(`${url}/health`)).ok) return undefined;
    return key ?? /ffsk_[0-9a-f]{64}/.exec(p.output())?.[0];
  });
  return { ...p, url, key: found };
}

async function measure(c: Case, mp4: string): Promise<{ seconds: number; perNode: number[] }> {
  const prefix = `bench-cluster-${crypto.randomUUID()}/`;
  const { env: s3 } = await rgw(prefix);
  const env: Record<string, string> = {
    ...s3,
    COMMAND_CONCURRENCY: String(c.slots),
    COMMAND_MAX_QUEUED_PER_ACCOUNT: String(N + 10),
    WORK_POLL_MS: "200",
  };
  if (c.pg) env.DATABASE_URL = await createPgDatabase();
  const first = await startNode(env);
  const nodes = [first];
  for (let i = 1; i < c.nodes; i++) nodes.push(await startNode(env, first.key));
  try {
    const input = await storeInput(first, mp4);
    const t0 = performance.now();
    const ids = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const node = nodes[i % nodes.length] as Renderio;
        const r = await call(node, "POST", "/api/v1/run-ffmpeg-command", {
          input_files: { in_v: input },
          output_files: { out_thumb: "thumb.jpg" },
          ffmpeg_command: "-i {{in_v}} -frames:v 1 {{out_thumb}}",
        });
        return r.command_id as string;
      }),
    );
    await until("all commands SUCCESS", 600_000, async () => {
      const page = await call(first, "GET", `/api/v1/commands?limit=100&status=SUCCESS`);
      const done = new Set(page.commands.map((x: { command_id: string }) => x.command_id));
      const failed = await call(first, "GET", `/api/v1/commands?limit=1&status=FAILED`);
      if (failed.commands.length) throw new Error(`a command failed: ${JSON.stringify(failed.commands[0])}`);
      if (ids.every((id) => done.has(id))) return true;
      await Bun.sleep(50);
      return undefined;
    });
    const seconds = (performance.now() - t0) / 1000;
    const perNode = nodes.map((n) => n.output().split('"msg":"command succeeded"').length - 1);
    return { seconds, perNode };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

await runBench(async () => {
  if (N > 100) throw new Error("--commands at most 100 (one list page)");
  const started = new Date();
  const dir = tempDir("renderio-cluster-input-");
  const mp4 = `${dir}/small.mp4`;
  // biome-ignore format: argv reads best as flag/value pairs
  await run([
    "ffmpeg", "-nostdin", "-v", "error", "-y",
    "-f", "lavfi", "-i", "testsrc=d=1:s=160x120", "-f", "lavfi", "-i", "sine=d=1",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", mp4,
  ]);
  const load = loadAverage();
  const rows: string[] = [];
  for (let round = 1; round <= Number(opt.rounds); round++) {
    for (const c of round % 2 ? CASES : [...CASES].reverse()) {
      const before = loadAverage();
      const r = await measure(c, mp4);
      rows.push(
        `| ${round} | ${c.name} | ${c.nodes * c.slots} | ${r.seconds.toFixed(1)} s | ${(N / r.seconds).toFixed(2)} | ${r.perNode.join(" / ")} | ${before.toFixed(1)} |`,
      );
      console.error(rows.at(-1));
    }
  }
  const report = [
    `# Cluster throughput (bench/cluster.ts), ${started.toISOString().slice(0, 10)}`,
    "",
    `${await machine()}; load average before: ${load.toFixed(2)}. ${N} thumbnail commands per case, all`,
    "submitted at once (round-robin over the nodes), S3 storage on the local RGW, WORK_POLL_MS=200.",
    "",
    "| round | case | command slots in total | all done in | commands/s | completed per node | load avg before |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
  if (opt["no-write"]) console.log(report);
  else await writeReport("cluster", started, report);
  return 0;
}, stopChildren);
