/**
 * The measured cases of bench/s3.ts. Each case gets a fresh renderio (so its VmHWM is that case's
 * peak), warms up with a small transfer, then alternates timed runs of renderio and of the SDK-alone
 * baseline (bench/lib-s3/sdk-upload.ts, its own process) — on a shared 2-core machine with the RGW on
 * it too, only interleaved runs and medians give a fair ratio. Every object is checked in the bucket
 * (size) and deleted again, so the RGW does not fill up.
 */
import { join } from "node:path";
import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { S3Settings } from "../../tests/helpers/s3-servers";
import { MiB } from "../payloads";
import { curlUploads, ROOT, run, tempDir } from "../support";
import { findObject, objectSize } from "./bucket";
import { call, type Renderio, spawnChild, startRenderio, until, waitFile } from "./server";

export interface Ctx {
  payload: string;
  warmup: string;
  runs: number;
  s3: S3Settings;
  client: S3Client;
  /** Server env for the S3 driver (STORAGE_DRIVER, S3_*) with this bench's prefix. */
  env: Record<string, string>;
  /** Extra settings for renderio only (experiments); the SDK baseline does not see them. */
  serverEnv: Record<string, string>;
  prefix: string;
}

/** MiB/s of each run; CPU is seconds per GiB of the process that did the work. */
export interface Series {
  mibs: number[];
  cpu: number[];
  hwm: number;
}

export interface CaseResult {
  renderio: Series;
  /** store-file only: the server's own "file downloaded" time (download + put), as MiB/s. */
  serverMibs?: number[];
  sdk: Series;
  /** store-file only: SDK alone with the body fetched from the same origin. */
  sdkFromOrigin?: Series;
  notes: string[];
}

const BUN = process.execPath;
const series = (): Series => ({ mibs: [], cpu: [], hwm: 0 });
const baseEnv = () => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root" });

/** One SDK-alone upload in its own process; checks the object's size, then deletes it. */
async function sdkOnce(ctx: Ctx, source: { file: string } | { url: string }, into: Series, size: number) {
  const key = `${ctx.prefix}sdk/${crypto.randomUUID()}`;
  const from = "file" in source ? ["--file", source.file] : ["--url", source.url];
  await run(["sync"]);
  const argv = [BUN, join(ROOT, "bench/lib-s3/sdk-upload.ts"), "--key", key, ...from];
  const p = spawnChild(argv, { ...baseEnv(), ...ctx.env });
  const code = await p.exited;
  if (code !== 0) throw new Error(`sdk-upload exited ${code}: ${p.output()}`);
  const out = JSON.parse(p.output().trim().split("\n").at(-1) ?? "") as {
    bytes: number;
    seconds: number;
    cpuSeconds: number;
    hwmMB: number;
  };
  const stored = await objectSize(ctx.client, ctx.s3.bucket, key);
  if (out.bytes !== size || stored !== size)
    throw new Error(`sdk upload: read ${out.bytes}, stored ${stored}`);
  await ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.s3.bucket, Key: key }));
  into.mibs.push(size / MiB / out.seconds);
  into.cpu.push(out.cpuSeconds / (size / 1024 / MiB));
  into.hwm = Math.max(into.hwm, out.hwmMB);
}

/** Waits until renderio is done with a file, checks its bytes in the bucket, deletes it via the API. */
async function checkAndDelete(ctx: Ctx, r: Renderio, id: string, size: number) {
  const f = await waitFile(r, id, (x) => x.status !== "PROCESSING", 300_000, 250);
  const wantMB = Math.round((size / MiB) * 1e6) / 1e6;
  if (f.size_mbytes !== wantMB) throw new Error(`file ${id}: size_mbytes ${f.size_mbytes}, want ${wantMB}`);
  const obj = await findObject(ctx.client, ctx.s3.bucket, ctx.prefix, id);
  if (obj?.size !== size) throw new Error(`file ${id}: object ${JSON.stringify(obj)}, want ${size} bytes`);
  await call(r, "DELETE", `/api/v1/files/${id}`);
  if (await findObject(ctx.client, ctx.s3.bucket, ctx.prefix, id)) throw new Error(`file ${id}: not deleted`);
  return f;
}

/** curl -F upload of the payload through renderio's S3 driver, against the SDK reading the same file. */
export async function uploadCase(ctx: Ctx): Promise<CaseResult> {
  const r = await startRenderio(tempDir("renderio-s3-upload-"), { ...ctx.env, ...ctx.serverEnv });
  const res = { renderio: series(), sdk: series() };
  const size = Bun.file(ctx.payload).size;
  const once = async (file: string, into?: Series) => {
    await run(["sync"]);
    const cpu0 = r.cpuSeconds();
    const [t] = await curlUploads(`${r.url}/api/v1/files/upload`, file, 1, r.key);
    if (t?.status !== 200) throw new Error(`upload answered ${t?.status}: ${t?.body}`);
    const cpu = r.cpuSeconds() - cpu0;
    const bytes = Bun.file(file).size;
    into?.mibs.push(bytes / MiB / t.seconds);
    into?.cpu.push(cpu / (bytes / 1024 / MiB));
    const f = await checkAndDelete(ctx, r, JSON.parse(t.body).file_id, bytes);
    return f.status as string;
  };
  try {
    await once(ctx.warmup);
    await sdkOnce(ctx, { file: ctx.warmup }, series(), Bun.file(ctx.warmup).size);
    const statuses: string[] = [];
    for (let i = 0; i < ctx.runs; i++) {
      if (i % 2) await sdkOnce(ctx, { file: ctx.payload }, res.sdk, size);
      statuses.push(await once(ctx.payload, res.renderio));
      if (!(i % 2)) await sdkOnce(ctx, { file: ctx.payload }, res.sdk, size);
    }
    res.renderio.hwm = r.peaks().hwm;
    return {
      ...res,
      notes: [`upload: files ended ${statuses.join(", ")} (random bytes; sizes checked in the bucket)`],
    };
  } finally {
    await r.stop();
  }
}

/** store-file of a URL on a loopback origin, against the SDK reading the file (and the URL) itself. */
export async function storeFileCase(ctx: Ctx, dir: string): Promise<CaseResult> {
  const origin = spawnChild([BUN, join(ROOT, "bench/lib-s3/origin.ts"), dir], baseEnv());
  const url = await until(
    "origin to listen",
    10_000,
    async () => /^listening (\S+)/m.exec(origin.output())?.[1],
  );
  const port = new URL(url).port;
  const r = await startRenderio(tempDir("renderio-s3-store-"), {
    ...ctx.env,
    LOG_LEVEL: "info", // for the "file downloaded" line with the server's own download + put time
    FETCH_ALLOWED_HOSTS: "127.0.0.1",
    FETCH_ALLOWED_PORTS: port,
    ...ctx.serverEnv,
  });
  const res = { renderio: series(), serverMibs: [] as number[], sdk: series(), sdkFromOrigin: series() };
  const size = Bun.file(ctx.payload).size;
  const once = async (file: string, timed: boolean) => {
    const name = file.split("/").at(-1) as string;
    const bytes = Bun.file(file).size;
    await run(["sync"]);
    const cpu0 = r.cpuSeconds();
    const t0 = performance.now();
    const { file_id } = await call(r, "POST", "/api/v1/files/store-file", { file_url: `${url}/${name}` });
    const f = await waitFile(
      r,
      file_id,
      (x) => x.size_mbytes !== null || x.status === "FAILED",
      600_000,
      100,
    );
    const seconds = (performance.now() - t0) / 1000;
    if (f.size_mbytes === null) throw new Error(`store-file ${file_id} failed: ${JSON.stringify(f)}`);
    const cpu = r.cpuSeconds() - cpu0;
    const line = r
      .output()
      .split("\n")
      .find((l) => l.includes('"file downloaded"') && l.includes(file_id));
    const serverMs = line ? (JSON.parse(line).ms as number) : Number.NaN;
    if (timed) {
      res.renderio.mibs.push(bytes / MiB / seconds);
      res.renderio.cpu.push(cpu / (bytes / 1024 / MiB));
      res.serverMibs.push(bytes / MiB / (serverMs / 1000));
    }
    return (await checkAndDelete(ctx, r, file_id, bytes)).status as string;
  };
  try {
    await once(ctx.warmup, false);
    const statuses: string[] = [];
    for (let i = 0; i < ctx.runs; i++) {
      if (i % 2) await sdkOnce(ctx, { file: ctx.payload }, res.sdk, size);
      statuses.push(await once(ctx.payload, true));
      if (!(i % 2)) await sdkOnce(ctx, { file: ctx.payload }, res.sdk, size);
      await sdkOnce(ctx, { url: `${url}/${ctx.payload.split("/").at(-1)}` }, res.sdkFromOrigin, size);
    }
    res.renderio.hwm = r.peaks().hwm;
    return { ...res, notes: [`store-file: files ended ${statuses.join(", ")}; origin ${url}`] };
  } finally {
    await r.stop();
    await origin.stop();
  }
}
