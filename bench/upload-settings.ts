/**
 * A/B of renderio settings on the 1 MiB upload case: one renderio per setting (plus the raw sink) runs at
 * the same time, and their bursts are interleaved round by round (every other round in reverse order), so
 * all of them see the same machine state — on a noisy machine the only fair way to compare settings.
 * Before every burst each renderio's probe backlog is drained, as in bench/upload.ts.
 *
 *   bun bench/upload-settings.ts "HTTP_WORKERS=1 PROBE_IDLE_PRIORITY=false" "HTTP_WORKERS=2"
 *   bun bench/upload-settings.ts --rounds 6 "" "MEDIA_NICE=19"      ("" = the defaults)
 *
 * Each argument is one renderio's extra environment (`K=V` pairs). Prints a Markdown table (medians of
 * the rounds, ratio to the sink of the same run, server CPU per upload over all of a server's processes).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { median } from "./cases";
import { MiB, makeMp4 } from "./payloads";
import {
  type Child,
  curlUploads,
  loadAverage,
  run,
  runBench,
  startRenderio,
  startSink,
  tempDir,
} from "./support";
import { api, probesIdle } from "./verify";

const { values: opt, positionals: settings } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: "string", default: "4" },
    clients: { type: "string", default: "16" },
    "per-client": { type: "string", default: "16" },
  },
});
const clients = Number(opt.clients);
const perClient = Number(opt["per-client"]);

interface Side {
  name: string;
  server: Child;
  url: string;
  key?: string;
  drain(): Promise<void>;
  rates: number[];
  cpu: number[];
}

async function main(): Promise<number> {
  if (settings.length === 0) {
    console.error('usage: bun bench/upload-settings.ts [--rounds N] "K=V …" ["K=V …" …]');
    return 2;
  }
  const root = tempDir("renderio-settings-");
  const payload = await makeMp4(root, MiB);
  const sides: Side[] = [];
  for (const setting of settings) {
    // startRenderio reads BENCH_SERVER_ENV when it starts the server.
    process.env.BENCH_SERVER_ENV = setting;
    const r = await startRenderio(join(root, `renderio-${sides.length}`));
    const call = api(r);
    sides.push({
      name: setting || "(defaults)",
      server: r,
      url: `${r.url}/api/v1/files/upload`,
      key: r.key,
      drain: async () => {
        await probesIdle(call, 300_000);
      },
      rates: [],
      cpu: [],
    });
  }
  const sink = await startSink(tempDir("renderio-settings-sink-"));
  sides.push({ name: "raw sink", server: sink, url: sink.url, drain: async () => {}, rates: [], cpu: [] });

  const burst = (s: Side, per: number) =>
    Promise.all(Array.from({ length: clients }, () => curlUploads(s.url, payload, per, s.key)));
  const drainAll = () => Promise.all(sides.map((s) => s.drain()));
  console.error("warming up …");
  for (const s of sides) await burst(s, 8);
  await drainAll();
  const n = clients * perClient;
  const rounds = Number(opt.rounds);
  for (let k = 0; k < rounds; k++) {
    console.error(`round ${k + 1}/${rounds} …`);
    for (const s of k % 2 ? [...sides].reverse() : sides) {
      await run(["sync"]);
      const cpu0 = s.server.cpuSeconds();
      const t0 = performance.now();
      await burst(s, perClient);
      s.rates.push(n / ((performance.now() - t0) / 1000));
      s.cpu.push(((s.server.cpuSeconds() - cpu0) * 1000) / n);
      await drainAll();
    }
  }
  const sinkRate = median(sides[sides.length - 1]?.rates ?? [Number.NaN]);
  console.log(
    [
      `1 MiB uploads, ${clients} clients × ${perClient}, ${rounds} interleaved rounds; load average ${loadAverage()} at the end`,
      "",
      "| renderio settings | uploads/s (median) | × sink | server CPU ms/upload | rounds |",
      "|---|---|---|---|---|",
      ...sides.map(
        (s) =>
          `| ${s.name} | ${median(s.rates).toFixed(0)} | ${(median(s.rates) / sinkRate).toFixed(2)}× | ` +
          `${median(s.cpu).toFixed(2)} | ${s.rates.map((x) => x.toFixed(0)).join(", ")} |`,
      ),
    ].join("\n"),
  );
  await Promise.all(sides.map((s) => s.server.stop()));
  return 0;
}

await runBench(main);
