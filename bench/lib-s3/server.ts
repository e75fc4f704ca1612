/**
 * Process plumbing for bench/commands.ts and bench/s3.ts: start renderio (local or S3 storage, any
 * extra env) and small helper processes as children, watch their memory through /proc, keep their
 * output, and make sure none of them outlives the bench (bench/support.ts tracks and watches them, and
 * kills them on normal exit, on an error and on Ctrl-C).
 */
import { join } from "node:path";
import { ensureRgw, type S3Settings } from "../../tests/helpers/s3-servers";
import { cleanup, ROOT, serverEnv, track, type Watched, watchProcess } from "../support";

const BUN = process.execPath;

/** Kills every child still running (bench/support.ts tracks them; its cleanup also runs at exit). */
export const stopChildren = cleanup;

/** A running child: its output so far, memory peaks in MB (10^6 B) and CPU seconds, read from /proc. */
export interface Proc extends Watched {
  output(): string;
  /** Resolves with the exit code when the process ends on its own. */
  exited: Promise<number>;
}

/** Spawns `argv` as a tracked child with stdout+stderr collected. */
export function spawnChild(argv: string[], env: Record<string, string>, cwd = ROOT): Proc {
  const proc = track(Bun.spawn(argv, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) out += dec.decode(chunk, { stream: true });
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  return { ...watchProcess(proc), output: () => out, exited: proc.exited };
}

/** Polls `probe` every 25 ms until it yields a value; bounded by `ms`. */
export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await Bun.sleep(25);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

export function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port as number;
  s.stop(true);
  return port;
}

export type Renderio = Proc & { url: string; key: string };

/**
 * `bun <root>/src/index.ts serve` on a free loopback port with a fresh data dir; resolves with its
 * first key once /health answers. `root` lets a profiling copy of the repo be measured the same way.
 */
export async function startRenderio(
  dataDir: string,
  env: Record<string, string> = {},
  root = ROOT,
): Promise<Renderio> {
  const port = freePort();
  const p = spawnChild(
    [BUN, join(root, "src/index.ts"), "serve"],
    { ...serverEnv(dataDir, port), ...env },
    root,
  );
  const url = `http://127.0.0.1:${port}`;
  const key = await until("renderio /health and its first key", 30_000, async () => {
    if (p.output().includes("Invalid configuration")) throw new Error(p.output());
    const ok = (await fetch(`${url}/health`)).ok;
    return ok ? /ffsk_[0-9a-f]{64}/.exec(p.output())?.[0] : undefined;
  });
  return { ...p, url, key };
}

/** The local RGW (started by scripts/s3/rgw.sh if needed) and the server env for a key prefix in it. */
export async function rgw(prefix: string): Promise<{ s3: S3Settings; env: Record<string, string> }> {
  const s3 = await ensureRgw();
  return {
    s3,
    env: {
      STORAGE_DRIVER: "s3",
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_FORCE_PATH_STYLE: "true",
      S3_PREFIX: prefix,
    },
  };
}

/** JSON API call with the key; throws on a non-2xx answer. */
export async function call(r: Renderio, method: string, path: string, body?: unknown): Promise<any> {
  const init: RequestInit = { method, headers: { "x-api-key": r.key } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "x-api-key": r.key, "content-type": "application/json" };
  }
  const res = await fetch(r.url + path, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Polls a file (every `everyMs`, bounded) until `done(row)` holds. */
export async function waitFile(
  r: Renderio,
  id: string,
  done: (f: any) => boolean,
  timeoutMs: number,
  everyMs = 50,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = await call(r, "GET", `/api/v1/files/${id}`);
    if (done(f)) return f;
    if (Date.now() > deadline) throw new Error(`file ${id} still ${f.status} after ${timeoutMs} ms`);
    await Bun.sleep(everyMs);
  }
}
