import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { databaseEnv } from "./db";

const ROOT = resolve(import.meta.dir, "../..");

export interface TestServer {
  url: string;
  /** "local", or "s3" when the suite runs with TEST_STORAGE=s3 (against the RGW). */
  storage: "local" | "s3";
  /** Key prefix of this server's objects in the shared bucket (S3 mode). */
  s3Prefix: string;
  port: number;
  dataDir: string;
  /** The key printed on first start (undefined when the data dir already had keys). */
  firstKey: string | undefined;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
  /** Sends a signal and waits for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port as number;
  s.stop(true);
  return port;
}

export function tempDir(prefix = "renderio-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Starts the real server (`bun src/index.ts serve`) as a child process on a free loopback port with
 * its own data directory, and waits until /health answers.
 */
/**
 * Servers still running when the test process exits are killed: a test that loses track of one (it
 * reassigns its variable) must not leave a server behind on the CI machine.
 */
const started = new Set<ReturnType<typeof Bun.spawn>>();
process.on("exit", () => {
  for (const p of started) p.kill("SIGKILL");
});

export async function startServer(
  opts: {
    dataDir?: string;
    env?: Record<string, string>;
    s3Prefix?: string;
    /** Overrides TEST_STORAGE (the cluster test needs S3 whatever the pass). */
    storage?: "local" | "s3";
  } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const port = freePort();
  const storage = opts.storage ?? (process.env.TEST_STORAGE === "s3" ? "s3" : "local");
  const s3Prefix = opts.s3Prefix ?? `api-${crypto.randomUUID()}/`;
  const storageEnv = storage === "s3" ? await s3Env(s3Prefix) : {};
  // TEST_DATABASE=pg: this data directory's own PostgreSQL database (the same one after a restart).
  const dbEnv = await databaseEnv(dataDir);
  const proc = Bun.spawn(["bun", join(ROOT, "src/index.ts"), "serve"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/root",
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: "127.0.0.1",
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: "info",
      RATE_LIMIT_PER_MINUTE: "0",
      SHUTDOWN_GRACE_SECONDS: "5",
      ...storageEnv,
      ...dbEnv,
      ...opts.env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  started.add(proc);
  void proc.exited.then(() => started.delete(proc));
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) out += dec.decode(chunk, { stream: true });
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${out}`);
    // Listening is not enough: the first key is printed after the start-up recovery, which awaits the
    // database; the "renderio listening" line comes just before it.
    try {
      if (out.includes('"msg":"renderio listening"') && (await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server did not start:\n${out}`);
    await Bun.sleep(50);
  }
  await Bun.sleep(20);
  const firstKey = /ffsk_[0-9a-f]{64}/.exec(out)?.[0];
  return {
    url,
    storage,
    s3Prefix,
    port,
    dataDir,
    firstKey,
    proc,
    output: () => out,
    async stop(signal = "SIGTERM") {
      // The server is the primary and its HTTP worker processes: stopped means all of them are gone
      // (after a SIGKILL of the primary they notice within ~0.5 s and stop themselves).
      const workers = proc.exitCode === null ? workerPids(proc.pid) : [];
      if (proc.exitCode === null) proc.kill(signal);
      const code = await proc.exited;
      const deadline = Date.now() + 15_000;
      while (workers.some(alive)) {
        if (Date.now() > deadline)
          throw new Error(`http workers ${workers.filter(alive)} outlived the server`);
        await Bun.sleep(25);
      }
      return code;
    },
  };
}

/**
 * The HTTP worker processes of a server: its children whose environment has RENDERIO_HTTP_WORKER (not
 * ffprobe/ffmpeg, nor a child caught between fork and exec, which still has the primary's command line).
 */
export function workerPids(pid: number): number[] {
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return kids.filter((k) => {
    try {
      return readFileSync(`/proc/${k}/environ`, "utf8")
        .split("\0")
        .some((v) => v.startsWith("RENDERIO_HTTP_WORKER="));
    } catch {
      return false;
    }
  });
}

/** A process that exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Runs the CLI against a data directory and returns stdout (throws on a non-zero exit). */
export async function cli(dataDir: string, args: string[]): Promise<string> {
  const proc = Bun.spawn(["bun", join(ROOT, "src/index.ts"), ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      DATA_DIR: dataDir,
      LOG_LEVEL: "error",
      ...(await databaseEnv(dataDir)),
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`cli ${args.join(" ")} exited ${code}: ${stderr}`);
  return stdout;
}

/** A small client: JSON in/out with the X-API-KEY header. */
export function client(base: string, key?: string) {
  return async function call(
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...init.headers };
    if (key) headers["x-api-key"] = key;
    let body: RequestInit["body"];
    if (init.body instanceof FormData || typeof init.body === "string") body = init.body;
    else if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers["content-type"] = "application/json";
    }
    const res = await fetch(base + path, { method, headers, body });
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, headers: res.headers, json, text };
  };
}

/** Polls GET /api/v1/files/:id until the status leaves PROCESSING. */
export async function waitForFile(call: ReturnType<typeof client>, fileId: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call("GET", `/api/v1/files/${fileId}`);
    if (r.status !== 200) throw new Error(`GET file ${fileId}: ${r.status} ${r.text}`);
    if (r.json.status !== "PROCESSING") return r.json;
    if (Date.now() > deadline) throw new Error(`file ${fileId} still PROCESSING`);
    await Bun.sleep(50);
  }
}

/** Server settings for S3 mode: the local RGW (started if needed) with a per-server key prefix. */
async function s3Env(prefix: string): Promise<Record<string, string>> {
  const { ensureRgw } = await import("./s3-servers");
  const s = await ensureRgw();
  return {
    STORAGE_DRIVER: "s3",
    S3_ENDPOINT: s.endpoint,
    S3_REGION: s.region,
    S3_BUCKET: s.bucket,
    S3_ACCESS_KEY_ID: s.accessKeyId,
    S3_SECRET_ACCESS_KEY: s.secretAccessKey,
    S3_FORCE_PATH_STYLE: "true",
    S3_PREFIX: prefix,
    S3_PART_SIZE_MB: "5",
  };
}

/**
 * Every object (and temp file) a server's storage holds, whichever driver it runs: files under
 * DATA_DIR/files on local disk, keys under the server's prefix in S3 (plus incomplete multipart uploads).
 */
export async function storedObjects(server: TestServer): Promise<string[]> {
  if (server.storage === "local") {
    const walk = (d: string): string[] => {
      try {
        return readdirSync(d, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)],
        );
      } catch {
        return [];
      }
    };
    return walk(join(server.dataDir, "files"));
  }
  const { ListObjectsV2Command, ListMultipartUploadsCommand } = await import("@aws-sdk/client-s3");
  const { ensureRgw, s3ClientFor } = await import("./s3-servers");
  const s = await ensureRgw();
  const c = s3ClientFor(s);
  const objs = await c.send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: server.s3Prefix }));
  const mp = await c.send(new ListMultipartUploadsCommand({ Bucket: s.bucket, Prefix: server.s3Prefix }));
  return [
    ...(objs.Contents ?? []).map((o) => `${o.Key}`),
    ...(mp.Uploads ?? []).map((u) => `incomplete:${u.Key}`),
  ];
}

/** Polls GET /api/v1/commands/:id until it has `status` (e.g. PROCESSING: its ffmpeg runs). */
export async function waitForCommandStatus(
  call: ReturnType<typeof client>,
  id: string,
  status: string,
  timeoutMs = 20_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call("GET", `/api/v1/commands/${id}`);
    if (r.json?.status === status) return r.json;
    if (Date.now() > deadline) throw new Error(`command ${id} never ${status} (last: ${r.json?.status})`);
    await Bun.sleep(50);
  }
}

/** Polls GET /api/v1/commands/:id until SUCCESS or FAILED. */
export async function waitForCommand(call: ReturnType<typeof client>, id: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call("GET", `/api/v1/commands/${id}`);
    if (r.status !== 200) throw new Error(`GET command ${id}: ${r.status} ${r.text}`);
    if (r.json.status === "SUCCESS" || r.json.status === "FAILED") return r.json;
    if (Date.now() > deadline) throw new Error(`command ${id} still ${r.json.status}`);
    await Bun.sleep(100);
  }
}

/** Uploads a local file and waits until it is STORED; returns the file object. */
export async function uploadStored(call: ReturnType<typeof client>, path: string, name?: string) {
  const form = new FormData();
  form.append("file", Bun.file(path), name ?? path.split("/").pop());
  const r = await call("POST", "/api/v1/files/upload", { body: form });
  if (r.status !== 200) throw new Error(`upload: ${r.status} ${r.text}`);
  return waitForFile(call, r.json.file_id);
}
