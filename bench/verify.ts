/**
 * What bench/upload.ts checks after uploading: the answers of both servers, and what renderio
 * recorded and stored (through its API and on disk under its DATA_DIR).
 */
import { stat } from "node:fs/promises";
import { MiB } from "./payloads";
import type { Child, Transfer } from "./support";

export type Renderio = Child & { key: string };
export type Api = (method: string, path: string) => Promise<any>;

export function api(r: Renderio): Api {
  return async (method, path) => {
    const res = await fetch(r.url + path, { method, headers: { "x-api-key": r.key } });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
}

export function fileIdOf(t: Transfer): string {
  if (t.status !== 200) throw new Error(`renderio upload answered ${t.status}: ${t.body}`);
  return (JSON.parse(t.body) as { file_id: string }).file_id;
}

/** The sink stores the whole multipart body: the file plus a few hundred bytes of framing. */
export function checkSink(t: Transfer, fileBytes: number): void {
  const size = t.status === 200 ? (JSON.parse(t.body) as { size: number }).size : -1;
  if (size < fileBytes || size > fileBytes + 4096) throw new Error(`sink answered ${t.status}: ${t.body}`);
}

/** Counts renderio's files by status, paging through the list (100 per page). */
export async function statuses(call: Api): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let offset = 0; offset < 100_000; offset += 100) {
    const page = await call("GET", `/api/v1/files?limit=100&offset=${offset}`);
    for (const f of page.files) counts[f.status] = (counts[f.status] ?? 0) + 1;
    if (page.files.length < 100) break;
  }
  return counts;
}

/** Waits (bounded) until no file is PROCESSING any more; returns the seconds waited. */
export async function probesIdle(call: Api, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while ((await statuses(call)).PROCESSING) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`probes still running after ${timeoutMs} ms`);
    await Bun.sleep(250);
  }
  return (performance.now() - t0) / 1000;
}

/** Polls one file until it leaves PROCESSING (bounded) and returns its row. */
export async function settled(call: Api, id: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = await call("GET", `/api/v1/files/${id}`);
    if (f.status !== "PROCESSING") return f;
    if (Date.now() > deadline) throw new Error(`file ${id} still PROCESSING after ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

/**
 * Checks what renderio recorded and stored for `id`: `size_mbytes` as the API computes it, the object
 * on disk under DATA_DIR, and — when `download` — that the bytes at `storage_url` equal the payload
 * (which needs the probe to have succeeded: only STORED files have a `storage_url`).
 */
export async function verifyStored(
  r: Renderio,
  dataDir: string,
  id: string,
  payload: string,
  download: boolean,
) {
  const want = Bun.file(payload).size;
  const f = await settled(api(r), id, 120_000);
  const wantMB = Math.round((want / MiB) * 1e6) / 1e6;
  if (f.size_mbytes !== wantMB)
    throw new Error(`file ${id}: size_mbytes ${f.size_mbytes}, expected ${wantMB}`);
  // Stored flat as <account>/<id>_<name>; earlier versions kept <account>/<id>/<name>.
  const scan = (pattern: string) =>
    Array.fromAsync(new Bun.Glob(pattern).scan({ cwd: dataDir, absolute: true }));
  const [onDisk] = [...(await scan(`**/${id}_*`)), ...(await scan(`**/${id}/*`))];
  if (!onDisk || (await stat(onDisk)).size !== want)
    throw new Error(`file ${id}: no stored object of ${want} bytes`);
  if (download) {
    if (!f.storage_url) throw new Error(`file ${id} is ${f.status} (${f.error_message}), expected STORED`);
    const got = Buffer.from(await (await fetch(f.storage_url)).arrayBuffer());
    if (!got.equals(Buffer.from(await Bun.file(payload).arrayBuffer()))) {
      throw new Error(`file ${id}: downloaded bytes differ from the payload`);
    }
  }
  return f;
}
