import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { makeSamples, type Samples } from "../helpers/media";
import {
  alive,
  client,
  freePort,
  startServer,
  type TestServer,
  tempDir,
  uploadStored,
  waitForCommand,
  waitForFile,
  workerPids,
} from "../helpers/server";

// HTTP_WORKERS=2: the primary and one HTTP worker process share the port (SO_REUSEPORT). The kernel
// picks the process per connection, so every request here opens a connection of its own, and the
// server's request log (`"worker":1` on the worker's lines) says which process answered it.
// WORK_POLL_MS is one minute: a job submitted through the worker can only start quickly when the
// worker hands it to the primary (IPC), not because the primary's poll found it.
const WORKERS_ENV = { HTTP_WORKERS: "2", WORK_POLL_MS: "60000" };

let samples: Samples;
const servers: TestServer[] = [];
beforeAll(async () => {
  samples = await makeSamples(tempDir("renderio-samples-"));
}, 120_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop().catch(() => null)));
}, 60_000);

async function start(env: Record<string, string> = {}): Promise<TestServer> {
  const s = await startServer({ env: { ...WORKERS_ENV, ...env } });
  servers.push(s);
  // The worker logs its own line once it listens; until then every connection goes to the primary.
  const deadline = Date.now() + 15_000;
  while (!s.output().includes('"msg":"http worker listening"')) {
    if (Date.now() > deadline) throw new Error(`no http worker started:\n${s.output()}`);
    await Bun.sleep(25);
  }
  return s;
}

/** One request on a new connection; `by` is the process that answered: 0 = primary, 1 = the worker. */
async function fresh(s: TestServer, key: string | undefined, method: string, path: string, body?: FormData) {
  const headers: Record<string, string> = { connection: "close" };
  if (key) headers["x-api-key"] = key;
  const res = await fetch(s.url + path, { method, headers, body: body ?? null, keepalive: false });
  const text = await res.text();
  const id = res.headers.get("x-request-id");
  return {
    status: res.status,
    text,
    json: text.startsWith("{") ? JSON.parse(text) : null,
    by: await servedBy(s, id),
  };
}

async function servedBy(s: TestServer, requestId: string | null): Promise<number> {
  // The request line is written when the response is sent; give the pipe a moment.
  for (let i = 0; i < 100; i++) {
    for (const line of s.output().split("\n")) {
      if (!line.includes(`"requestId":"${requestId}"`) || !line.includes('"msg":"request"')) continue;
      return (JSON.parse(line) as { worker?: number }).worker ?? 0;
    }
    await Bun.sleep(20);
  }
  throw new Error(`no request log line for ${requestId}`);
}

function uploadForm(path: string, name: string): FormData {
  const form = new FormData();
  form.append("file", Bun.file(path), name);
  return form;
}

describe("HTTP_WORKERS=2", () => {
  let server: TestServer;
  let key: string;
  const uploaded: { id: string; by: number; bytes: number }[] = [];

  beforeAll(async () => {
    server = await start();
    key = server.firstKey as string;
  }, 60_000);

  test("two processes serve the port; uploads through either one are stored and probed", async () => {
    expect(workerPids(server.proc.pid)).toHaveLength(1);
    expect(server.output()).toContain('"httpWorkers":2');
    const bytes = Bun.file(samples.mp4).size;
    for (let i = 0; i < 60 && new Set(uploaded.map((u) => u.by)).size < 2; i++) {
      const r = await fresh(
        server,
        key,
        "POST",
        "/api/v1/files/upload",
        uploadForm(samples.mp4, `clip${i}.mp4`),
      );
      expect(r.status).toBe(200);
      uploaded.push({ id: r.json.file_id, by: r.by, bytes });
    }
    expect(new Set(uploaded.map((u) => u.by))).toEqual(new Set([0, 1]));
    const api = client(server.url, key);
    const t0 = performance.now();
    for (const u of uploaded) {
      const f = await waitForFile(api, u.id);
      expect(f).toMatchObject({ status: "STORED", file_type: "video", codec: "h264", width: 320 });
    }
    // Far quicker than the 60 s poll: the worker handed its probes to the primary at once.
    expect(performance.now() - t0).toBeLessThan(20_000);
  }, 90_000);

  test("/metrics, whichever process answers it, counts the requests of both", async () => {
    const total = uploaded.reduce((n, u) => n + u.bytes, 0);
    expect(total).toBeGreaterThan(0);
    const answeredBy = new Set<number>();
    for (let i = 0; i < 60 && answeredBy.size < 2; i++) {
      const m = await fresh(server, undefined, "GET", "/metrics");
      expect(m.status).toBe(200);
      answeredBy.add(m.by);
      expect(m.text).toContain(`renderio_upload_bytes_total ${total}\n`);
      const uploads =
        /renderio_http_requests_total\{route="\/api\/v1\/files\/upload",method="POST",status="200"\} (\d+)/.exec(
          m.text,
        );
      expect(Number(uploads?.[1])).toBe(uploaded.length);
    }
    expect(answeredBy).toEqual(new Set([0, 1]));
  }, 60_000);

  test("a cancel that reaches the worker stops the command running in the primary at once", async () => {
    const api = client(server.url, key);
    const video = await uploadStored(api, samples.mp4, "loop.mp4");
    let viaWorker = 0;
    for (let attempt = 0; attempt < 12 && viaWorker === 0; attempt++) {
      const run = await api("POST", "/api/v1/run-ffmpeg-command", {
        body: {
          input_files: { in_video: video.storage_url },
          output_files: { out_long: "long.mp4" },
          ffmpeg_command: "-stream_loop -1 -i {{in_video}} -c:v libx264 -preset veryslow {{out_long}}",
          max_command_run_seconds: 60,
        },
      });
      expect(run.status).toBe(200);
      const id = run.json.command_id as string;
      for (let i = 0; i < 200; i++) {
        if ((await api("GET", `/api/v1/commands/${id}`)).json.status === "PROCESSING") break;
        await Bun.sleep(50);
      }
      const t0 = performance.now();
      const cancel = await fresh(server, key, "POST", `/api/v1/commands/${id}/cancel`);
      expect(cancel.status).toBe(200);
      const c = await waitForCommand(api, id);
      expect(c).toMatchObject({ status: "FAILED", error_status: "CANCELLED" });
      // Leases renew every 10 s (LEASE_SECONDS 30): a cancel seen only at renewal would take that long.
      expect(performance.now() - t0).toBeLessThan(5000);
      if (cancel.by === 1) viaWorker++;
    }
    expect(viaWorker).toBe(1);
  }, 120_000);

  test("a worker that dies is restarted and the port keeps answering", async () => {
    const [before] = workerPids(server.proc.pid);
    expect(before).toBeNumber();
    process.kill(before as number, "SIGKILL");
    const deadline = Date.now() + 15_000;
    let after: number | undefined;
    while (!after || !server.output().includes(`"msg":"http worker listening","worker":1,"pid":${after}`)) {
      if (Date.now() > deadline) throw new Error(`worker not restarted:\n${server.output()}`);
      await Bun.sleep(50);
      after = workerPids(server.proc.pid).find((p) => p !== before);
    }
    expect(server.output()).toContain('"msg":"http worker exited; restarting it"');
    const by = new Set<number>();
    for (let i = 0; i < 60 && by.size < 2; i++) {
      const r = await fresh(server, undefined, "GET", "/health");
      expect(r.status).toBe(200);
      by.add(r.by);
    }
    expect(by).toEqual(new Set([0, 1]));
  }, 60_000);

  test("SIGTERM stops the primary and its worker cleanly", async () => {
    const workers = workerPids(server.proc.pid);
    expect(await server.stop("SIGTERM")).toBe(0);
    expect(workerPids(server.proc.pid)).toEqual([]);
    expect(workers.filter(alive)).toEqual([]);
  }, 60_000);
});

test("the rate limit is one bucket per key across the processes", async () => {
  const server = await start({ RATE_LIMIT_PER_MINUTE: "6", RATE_LIMIT_BURST: "6" });
  const key = server.firstKey as string;
  const codes: number[] = [];
  const perProcess = [0, 0];
  for (let i = 0; i < 100 && Math.min(...perProcess) < 4; i++) {
    const r = await fresh(server, key, "GET", "/api/v1/files");
    codes.push(r.status);
    perProcess[r.by] = (perProcess[r.by] ?? 0) + 1;
  }
  expect(Math.min(...perProcess)).toBeGreaterThanOrEqual(4);
  // Two buckets (one per process) would let up to 12 through; one shared bucket lets the burst through.
  expect(codes.filter((c) => c === 200)).toHaveLength(6);
  expect(codes.filter((c) => c !== 200 && c !== 429)).toEqual([]);
}, 60_000);

test("a primary killed with SIGKILL takes its worker with it; the port is free again", async () => {
  const server = await start();
  const [worker] = workerPids(server.proc.pid);
  expect(worker).toBeNumber();
  // stop() waits for the worker too, and fails when it outlives the primary by 15 s.
  await server.stop("SIGKILL");
  expect(alive(worker as number)).toBe(false);
  const probe = Bun.serve({ hostname: "127.0.0.1", port: server.port, fetch: () => new Response("") });
  probe.stop(true);
}, 60_000);

test("with HTTP_WORKERS > 1 a port that is taken is still an error (no silent sharing)", async () => {
  const port = freePort();
  const taken = Bun.serve({ hostname: "127.0.0.1", port, fetch: () => new Response("someone else") });
  try {
    const err = await startServer({ env: { ...WORKERS_ENV, PORT: String(port) } }).then(
      () => null,
      (e: Error) => e.message,
    );
    expect(err).toContain("server exited with 2");
    expect(err).toContain(`PORT ${port} on 127.0.0.1 is not available`);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("someone else");
  } finally {
    taken.stop(true);
  }
}, 60_000);
