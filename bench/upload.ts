/**
 * Upload benchmark: renderio against a raw loopback sink that stores request bodies unparsed, on the
 * same machine in the same run, so the results are ratios rather than absolute times.
 *
 *   bun bench/upload.ts            1 MiB 3×256 (16 clients), 100 MiB ×6, 1 GiB ×6   (~5 min, ~2.5 GiB temp disk)
 *   bun bench/upload.ts --quick    1 MiB 1×64, 100 MiB ×1, no 1 GiB                 (smoke check, ~20 s)
 *   BENCH_SINK=blocks bun bench/upload.ts   the same, the sink storing with renderio's own file writer
 *
 * Prints a Markdown table and writes it to bench/results/upload-<date>[-quick][-sink-blocks].md. Exits 1 when a
 * target is missed. Needs ffmpeg (for the 1 MiB mp4) and curl (the client: it streams from disk).
 */
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type CaseResult, largeUpload, median, smallUploads } from "./cases";
import { MiB, makeMp4, makeRandom } from "./payloads";
import { loadAverage, ROOT, runBench, tempDir } from "./support";

interface Target {
  text: string;
  minRatio: number;
  maxRssMB?: number;
}

interface Row {
  name: string;
  result: CaseResult;
  target?: Target;
}

const quick = process.argv.includes("--quick");
/** `BENCH_SINK=blocks`: the sink stores with renderio's own file writer (see bench/raw-sink.ts). */
const sinkBlocks = process.env.BENCH_SINK === "blocks";
const sinkWriter = sinkBlocks
  ? "BENCH_SINK=blocks: written with renderio's writeStreamToFile, aligned 256 KiB blocks"
  : "each chunk written as it arrives";
const plan = quick
  ? { clients: 16, rounds: 1, perClient: 4, runs100: 1, runs1g: 0 }
  : // Six interleaved pairs, each server first in three: a single 1 GiB write here swings 300–850 MiB/s
    // with the VM's memory, and on some hours alternate writes were the slow ones, so an odd number of
    // pairs put the same server in the slow slot one time more than the other (five pairs: 3 against 2).
    { clients: 16, rounds: 3, perClient: 16, runs100: 6, runs1g: 6 };

const ratio = (r: CaseResult) => median(r.renderio.runs) / median(r.sink.runs);
/** Two decimals, rounded down, so a printed ratio never looks better than the verdict. */
const ratioText = (x: number) => `${(Math.floor(x * 100) / 100).toFixed(2)}×`;

function verdict({ target, result }: Row): "pass" | "FAIL" | "–" {
  if (!target) return "–";
  const ok = ratio(result) >= target.minRatio && result.renderio.peaks.hwm <= (target.maxRssMB ?? Infinity);
  return ok ? "pass" : "FAIL";
}

function table(rows: Row[]): string {
  const num = (x: number, unit: string) => `${x.toFixed(unit === "MiB/s" ? 0 : 1)} ${unit}`;
  const lines = [
    "| case | renderio | raw sink | ratio | renderio peak RSS¹ | all renderio processes² | sink peak RSS | target | pass/fail |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const { unit, renderio, sink } = row.result;
    const v = verdict(row);
    lines.push(
      `| ${row.name} | ${num(median(renderio.runs), unit)} | ${num(median(sink.runs), unit)} | ` +
        `${ratioText(ratio(row.result))} | ${renderio.peaks.hwm.toFixed(0)} MB | ` +
        `${renderio.peaks.hwmAll.toFixed(0)} MB (${renderio.peaks.processes}) | ${sink.peaks.hwm.toFixed(0)} MB | ` +
        `${row.target?.text ?? "–"} | ${v === "FAIL" ? "**FAIL**" : v} |`,
    );
  }
  return lines.join("\n");
}

/** Per case: server CPU per unit of work (medians) and the anonymous / file-backed parts of the peak. */
function details(rows: Row[]): string[] {
  return rows.map(({ name, result: { renderio: r, sink: s, cpuUnit } }) => {
    const cpu = (x: number[]) => median(x).toFixed(cpuUnit === "s/GiB" ? 2 : 1);
    const mem = (p: CaseResult["sink"]["peaks"]) => `${p.anon.toFixed(0)} + ${p.file.toFixed(0)} MB`;
    return (
      `${name}: server CPU renderio ${cpu(r.cpu)} vs sink ${cpu(s.cpu)} ${cpuUnit}; ` +
      `peak RssAnon + RssFile (sampled every 50 ms) renderio ${mem(r.peaks)}, sink ${mem(s.peaks)}.`
    );
  });
}

async function machine(): Promise<string> {
  const curl = (await Bun.$`curl --version`.quiet().text()).split("\n")[0]?.split(" ").slice(0, 2).join(" ");
  const kernel = (await Bun.$`uname -r`.quiet().text()).trim();
  return `${navigator.hardwareConcurrency} CPUs, Bun ${Bun.version}, ${curl}, Linux ${kernel}${pageReporting()}`;
}

/**
 * A VM that hands free memory back to its host (free page reporting) makes a fresh page-cache page slow
 * to touch, which is most of the spread of the large cases; the report says so when the kernel does it.
 */
function pageReporting(): string {
  const dir = "/sys/module/page_reporting/parameters";
  const read = (name: string) => {
    try {
      return readFileSync(`${dir}/${name}`, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  const order = read("page_reporting_order");
  if (order === undefined) return "";
  // `reported_kib` is not in every kernel; where it is, it shows whether reporting is really in use.
  const kib = Number(read("reported_kib"));
  const used = kib > 0 ? `, ${(kib / 1024 ** 2).toFixed(0)} GiB handed back to the host so far` : "";
  return `; free page reporting (order ${order}${used})`;
}

async function main(): Promise<number> {
  const loadBefore = loadAverage();
  if (loadBefore > 1) console.error(`warning: load average ${loadBefore} before start; expect noisy numbers`);
  const root = tempDir("renderio-bench-");
  const payloads = join(root, "payloads");
  await mkdir(payloads);
  console.error(`generating payloads in ${payloads} …`);
  const mp4 = await makeMp4(payloads, MiB);
  const big = await makeRandom(payloads, 100 * MiB);
  const huge = plan.runs1g ? await makeRandom(payloads, 1024 * MiB) : undefined;

  const rows: Row[] = [];
  const add = async (row: Omit<Row, "result">, result: () => Promise<CaseResult>) => {
    console.error(`running: ${row.name} …`);
    rows.push({ ...row, result: await result() });
  };
  const n = plan.clients * plan.perClient;
  await add(
    {
      name: `1 MiB mp4, ${plan.clients} clients, ${plan.rounds}×${n} (median)`,
      target: { text: "≥ 0.6× sink", minRatio: 0.6 },
    },
    () => smallUploads(root, mp4, plan.clients, plan.rounds, plan.perClient),
  );
  await add({ name: `100 MiB ×${plan.runs100} (median)` }, () =>
    largeUpload(root, "100mib", big, plan.runs100, big),
  );
  if (huge) {
    await add(
      {
        name: `1 GiB ×${plan.runs1g} (median)`,
        target: { text: "≥ 0.75× sink, RSS ≤ 100 MB", minRatio: 0.75, maxRssMB: 100 },
      },
      () => largeUpload(root, "1gib", huge, plan.runs1g, big),
    );
  }

  const started = new Date();
  const report = [
    `# Upload benchmark${quick ? " (--quick)" : ""}, ${started.toISOString()}`,
    "",
    `Machine: ${await machine()}; load average ${loadBefore} before, ${loadAverage()} after.`,
    "Client: curl `-F file=@…` over loopback, the same command line for both servers. Raw sink: bench/raw-sink.ts",
    `(request.body → file, no parsing; ${sinkWriter}). Peak RSS is VmHWM in MB (10^6 B); both servers restart for every case.`,
    "",
    table(rows),
    "",
    "¹ VmHWM of the renderio process that peaked highest: with HTTP workers (HTTP_WORKERS, default one per",
    "CPU) the one that received the upload. ² The VmHWM of every renderio process (primary + HTTP workers)",
    "added up, process count in brackets; ffprobe is not counted.",
    "",
    ...[...rows.flatMap((r) => r.result.notes), ...details(rows)].map((x) => `- ${x}`),
    "",
  ].join("\n");
  const resultsDir = join(ROOT, "bench/results");
  await mkdir(resultsDir, { recursive: true });
  const suffix = `${quick ? "-quick" : ""}${sinkBlocks ? "-sink-blocks" : ""}`;
  const file = join(resultsDir, `upload-${started.toISOString().slice(0, 10)}${suffix}.md`);
  await Bun.write(file, report);
  console.log(report);
  console.log(`written to ${file}`);
  return rows.some((r) => verdict(r) === "FAIL") ? 1 : 0;
}

await runBench(main);
