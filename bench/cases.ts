/**
 * The measured cases of bench/upload.ts. Each case gets a fresh renderio and a fresh raw sink (so
 * VmHWM, a high-water mark, is that case's peak), warms both up, then alternates timed rounds of the
 * two with the same curl command line — on a shared 2-core machine the noise between runs is large,
 * so only interleaved rounds and medians give a fair ratio. Every round is checked.
 */
import { rmSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { MiB } from "./payloads";
import {
  type Child,
  curlUploads,
  type MemoryPeaks,
  run,
  startRenderio,
  startSink,
  type Transfer,
} from "./support";
import { api, checkSink, fileIdOf, probesIdle, type Renderio, statuses, verifyStored } from "./verify";

/** One server's side of a case: per-round throughput, server CPU per unit of work, memory peaks. */
export interface Side {
  runs: number[];
  cpu: number[];
  peaks: MemoryPeaks;
}

export interface CaseResult {
  unit: "uploads/s" | "MiB/s";
  /** Unit of the `cpu` numbers: "ms/upload" or "s/GiB". */
  cpuUnit: string;
  renderio: Side;
  sink: Side;
  notes: string[];
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

type Body = (
  r: Renderio,
  sink: Child,
  dirs: { data: string; sink: string },
) => Promise<Omit<CaseResult, "renderio" | "sink"> & { r: Omit<Side, "peaks">; s: Omit<Side, "peaks"> }>;

/** Starts both servers in `root`, runs `body`, records both peaks, stops both and removes their data. */
async function withServers(root: string, name: string, body: Body): Promise<CaseResult> {
  const dirs = { data: join(root, `renderio-${name}`), sink: join(root, `sink-${name}`) };
  await mkdir(dirs.sink, { recursive: true });
  const r = await startRenderio(dirs.data);
  const sink = await startSink(dirs.sink);
  try {
    const { r: rs, s: ss, ...rest } = await body(r, sink, dirs);
    return { ...rest, renderio: { ...rs, peaks: r.peaks() }, sink: { ...ss, peaks: sink.peaks() } };
  } finally {
    await Promise.all([r.stop(), sink.stop()]);
    rmSync(dirs.data, { recursive: true, force: true });
    rmSync(dirs.sink, { recursive: true, force: true });
  }
}

/** `clients` curl processes at once, each uploading `perClient` times in a row; wall and server CPU. */
async function burst(
  server: Child,
  url: string,
  payload: string,
  clients: number,
  perClient: number,
  key?: string,
) {
  const cpu0 = server.cpuSeconds();
  const t0 = performance.now();
  const all = await Promise.all(
    Array.from({ length: clients }, () => curlUploads(url, payload, perClient, key)),
  );
  return { seconds: (performance.now() - t0) / 1000, cpu: server.cpuSeconds() - cpu0, transfers: all.flat() };
}

/** Uploads per client in the small case's warm-up burst. */
const WARM_UP_PER_CLIENT = 8;

/**
 * Many small uploads at once while renderio probes in the background (PROBE_CONCURRENCY default).
 * Each round: sink burst, then renderio burst, then renderio's probe backlog is drained so it cannot
 * slow the next sink burst down. ffprobe costs far more CPU than receiving 1 MiB, so the backlog is
 * the slow part of this case.
 */
export function smallUploads(
  root: string,
  payload: string,
  clients: number,
  rounds: number,
  perClient: number,
) {
  return withServers(root, "small", async (r, sink, dirs) => {
    const call = api(r);
    const upload = `${r.url}/api/v1/files/upload`;
    const bytes = Bun.file(payload).size;
    const n = clients * perClient;
    // Both servers get the same warm-up, long enough for the JIT to settle (a server in production runs
    // hot; with 32 uploads renderio's JIT threads were still compiling through the first timed round).
    const warm = await burst(r, upload, payload, clients, WARM_UP_PER_CLIENT, r.key);
    for (const t of (await burst(sink, sink.url, payload, clients, WARM_UP_PER_CLIENT)).transfers)
      checkSink(t, bytes);
    await probesIdle(call, 180_000);
    await verifyStored(r, dirs.data, fileIdOf(warm.transfers[0] as Transfer), payload, true);

    const rr = { runs: [] as number[], cpu: [] as number[] };
    const ss = { runs: [] as number[], cpu: [] as number[] };
    const probed: number[] = [];
    const drains: number[] = [];
    let lastId = "";
    for (let i = 0; i < rounds; i++) {
      await run(["sync"]);
      const s = await burst(sink, sink.url, payload, clients, perClient);
      for (const t of s.transfers) checkSink(t, bytes);
      ss.runs.push(n / s.seconds);
      ss.cpu.push((s.cpu * 1000) / n);
      await run(["sync"]);
      const before = (await statuses(call)).PROCESSING ?? 0;
      const m = await burst(r, upload, payload, clients, perClient, r.key);
      const after = await statuses(call);
      const ids = m.transfers.map(fileIdOf);
      lastId = ids.at(-1) as string;
      rr.runs.push(n / m.seconds);
      rr.cpu.push((m.cpu * 1000) / n);
      probed.push(n + before - (after.PROCESSING ?? 0));
      drains.push(await probesIdle(call, 300_000));
    }
    const last = await verifyStored(r, dirs.data, lastId, payload, true);
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
    return {
      unit: "uploads/s",
      cpuUnit: "ms/upload",
      r: rr,
      s: ss,
      notes: [
        `1 MiB: ${rounds} round(s) of ${n} uploads of a ${bytes}-byte mp4 (${clients} curl clients × ${perClient}, ` +
          `keep-alive); renderio rounds ${fmt(rr.runs)} uploads/s, sink rounds ${fmt(ss.runs)} uploads/s.`,
        `1 MiB: probes finished during renderio's bursts: ${probed.join(", ")} of ${n} per round; the backlog then ` +
          `took ${drains.map((d) => d.toFixed(0)).join(", ")} s to drain. Final statuses ${JSON.stringify(await statuses(call))}; ` +
          `checked ${last.file_id}: ${last.status} ${last.file_format}/${last.codec}, downloaded bytes identical.`,
      ],
    };
  });
}

/**
 * One large upload at a time: a warm-up each, then `runs` timed uploads per server, alternating which
 * goes first; MiB/s from curl's own transfer time. Every renderio upload is verified, then deleted
 * (and the sink's file removed) so the disk does not fill.
 */
export function largeUpload(root: string, name: string, payload: string, runs: number, warmup: string) {
  return withServers(root, name, async (r, sink, dirs) => {
    const call = api(r);
    const upload = `${r.url}/api/v1/files/upload`;
    const bytes = Bun.file(payload).size;
    const gib = bytes / (1024 * MiB);
    const clearSink = async () => {
      for (const f of await readdir(dirs.sink)) await rm(join(dirs.sink, f));
    };
    const timed = async (server: Child, url: string, file: string, key?: string) => {
      await run(["sync"]);
      const cpu0 = server.cpuSeconds();
      const t = (await curlUploads(url, file, 1, key))[0] as Transfer;
      return { t, cpu: server.cpuSeconds() - cpu0 };
    };
    const w = await timed(r, upload, warmup, r.key);
    checkSink((await timed(sink, sink.url, warmup)).t, Bun.file(warmup).size);
    await verifyStored(r, dirs.data, fileIdOf(w.t), warmup, false);
    await call("DELETE", `/api/v1/files/${fileIdOf(w.t)}`);
    await clearSink();

    const rr = { runs: [] as number[], cpu: [] as number[] };
    const ss = { runs: [] as number[], cpu: [] as number[] };
    for (let i = 0; i < runs; i++) {
      for (const side of i % 2 ? ["renderio", "sink"] : ["sink", "renderio"]) {
        if (side === "sink") {
          const { t, cpu } = await timed(sink, sink.url, payload);
          checkSink(t, bytes);
          ss.runs.push(bytes / MiB / t.seconds);
          ss.cpu.push(cpu / gib);
          await clearSink();
        } else {
          const { t, cpu } = await timed(r, upload, payload, r.key);
          const id = fileIdOf(t);
          rr.runs.push(bytes / MiB / t.seconds);
          rr.cpu.push(cpu / gib);
          await verifyStored(r, dirs.data, id, payload, false);
          await call("DELETE", `/api/v1/files/${id}`);
        }
      }
    }
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
    return {
      unit: "MiB/s",
      cpuUnit: "s/GiB",
      r: rr,
      s: ss,
      notes: [
        `${name}: renderio runs ${fmt(rr.runs)} MiB/s; sink runs ${fmt(ss.runs)} MiB/s (each size verified).`,
      ],
    };
  });
}
