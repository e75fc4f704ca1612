import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { makeSamples, type Samples } from "../helpers/media";
import {
  cli,
  client,
  startServer,
  type TestServer,
  tempDir,
  uploadStored,
  waitForCommand,
} from "../helpers/server";

/** A webhook receiver in the test process: records every delivery and answers what the test says. */
function receiver() {
  const got: { id: string; sig: string | null; ua: string | null; body: string; path: string }[] = [];
  let answer = 200;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      got.push({
        id: req.headers.get("x-webhook-id") ?? "",
        sig: req.headers.get("x-webhook-signature"),
        ua: req.headers.get("user-agent"),
        body: await req.text(),
        path: new URL(req.url).pathname,
      });
      return new Response("ok", { status: answer });
    },
  });
  return {
    server,
    got,
    url: (p = "/hook") => `http://127.0.0.1:${server.port}${p}`,
    answer: (s: number) => {
      answer = s;
    },
  };
}

const hmac = (secret: string, body: string) =>
  new Bun.CryptoHasher("sha256", secret).update(body).digest("hex");

async function until<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(50);
  }
}

let samples: Samples;
let hook: ReturnType<typeof receiver>;
let server: TestServer;
let api: ReturnType<typeof client>;
let video: any;
const env = () => ({
  FETCH_ALLOWED_HOSTS: "127.0.0.1",
  FETCH_ALLOWED_PORTS: String(hook.server.port),
  WEBHOOK_RETRY_SCHEDULE_SECONDS: "1,1,1,1,1,1,1,1,1,1",
  WEBHOOK_POLL_MS: "100",
});

beforeAll(async () => {
  samples = await makeSamples(tempDir("renderio-samples-"));
  hook = receiver();
  server = await startServer({ env: env() });
  api = client(server.url, server.firstKey);
  video = await uploadStored(api, samples.mp4);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  hook?.server.stop(true);
}, 120_000);

const thumb = (extra: Record<string, unknown> = {}, call = api) =>
  call("POST", "/api/v1/run-ffmpeg-command", {
    body: {
      input_files: { in_v: video.storage_url },
      output_files: { out_t: "t.jpg" },
      ffmpeg_command: "-i {{in_v}} -frames:v 1 {{out_t}}",
      ...extra,
    },
  });

describe("webhook-config", () => {
  test("GET before any PUT is {configured: false}; PUT validates the URL (422) and answers {success, url}", async () => {
    const other = client(server.url, (await cli(server.dataDir, ["keys", "create"])).trim());
    expect((await other("GET", "/api/v1/webhook-config")).json).toEqual({ configured: false });
    for (const url of ["not a url", "file:///etc/passwd", "http://169.254.169.254/"]) {
      const r = await other("PUT", "/api/v1/webhook-config", { body: { url } });
      expect(r.status).toBe(422);
      expect(r.json.error).toBe("VALIDATION_ERROR");
    }
    expect((await other("PUT", "/api/v1/webhook-config", { body: {} })).status).toBe(422);
    const ok = await other("PUT", "/api/v1/webhook-config", {
      body: { url: hook.url("/other"), secret: "whsec_x" },
    });
    expect(ok.json).toEqual({ success: true, url: hook.url("/other") });
    const got = (await other("GET", "/api/v1/webhook-config")).json;
    expect(got).toEqual({
      configured: true,
      url: hook.url("/other"),
      is_active: true,
      consecutive_failures: 0,
      disabled_at: null,
    });
    expect(JSON.stringify(got)).not.toContain("whsec_x");
    expect((await other("DELETE", "/api/v1/webhook-config")).json).toEqual({ success: true });
    expect((await other("GET", "/api/v1/webhook-config")).json).toMatchObject({
      configured: true,
      is_active: false,
    });
    expect((await client(server.url)("GET", "/api/v1/webhook-config")).status).toBe(401);
  });
});

describe("deliveries", () => {
  test("a finished command is POSTed as {data, timestamp}, signed with the account secret", async () => {
    const secret = "whsec_test_secret";
    await api("PUT", "/api/v1/webhook-config", { body: { url: hook.url("/account"), secret } });
    const id = (await thumb({ metadata: { order: 7 } })).json.command_id;
    const polled = await waitForCommand(api, id);
    const d = await until(() => hook.got.find((g) => g.body.includes(id)));
    expect(d.path).toBe("/account");
    expect(d.ua).toBe("RenderIO-Webhook/1.0");
    expect(d.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(d.sig).toBe(hmac(secret, d.body));
    const payload = JSON.parse(d.body);
    expect(Object.keys(payload).sort()).toEqual(["data", "timestamp"]);
    expect(payload.timestamp).toBeGreaterThan(Date.now() - 60_000);
    expect(payload.data).toEqual(polled);
    expect(payload.data.metadata).toEqual({ order: 7 });
  });

  test("a per-command webhook_url wins over the account webhook and is signed with the account secret", async () => {
    const id = (await thumb({ webhook_url: hook.url("/per-command") })).json.command_id;
    const d = await until(() => hook.got.find((g) => g.body.includes(id)));
    expect(d.path).toBe("/per-command");
    expect(d.sig).toBe(hmac("whsec_test_secret", d.body));
    await Bun.sleep(300);
    expect(hook.got.filter((g) => g.body.includes(id))).toHaveLength(1);
  });

  test("a 500 is retried with the same X-Webhook-Id until a 2xx; success resets the failure counter", async () => {
    hook.answer(500);
    const id = (await thumb()).json.command_id;
    await until(() => hook.got.filter((g) => g.body.includes(id)).length >= 2);
    // The receiver sees the second attempt before the server has recorded its 500: wait for the record.
    const failures = await until(async () => {
      const n = (await api("GET", "/api/v1/webhook-config")).json.consecutive_failures as number;
      return n >= 2 && n;
    });
    expect(failures).toBeGreaterThanOrEqual(2);
    hook.answer(200);
    await until(() => hook.got.filter((g) => g.body.includes(id)).length >= 3, 5000);
    const attempts = hook.got.filter((g) => g.body.includes(id));
    expect(new Set(attempts.map((a) => a.id)).size).toBe(1);
    await until(async () => (await api("GET", "/api/v1/webhook-config")).json.consecutive_failures === 0);
  });

  test("8 consecutive failures disable the account webhook; PUT re-activates it", async () => {
    hook.answer(503);
    const id = (await thumb()).json.command_id;
    await waitForCommand(api, id);
    let cfg: any;
    for (let i = 0; i < 200; i++) {
      cfg = (await api("GET", "/api/v1/webhook-config")).json;
      if (!cfg.is_active) break;
      await Bun.sleep(100);
    }
    expect(cfg).toMatchObject({ is_active: false, consecutive_failures: 8 });
    expect(Date.parse(cfg.disabled_at)).toBeGreaterThan(0);
    expect(hook.got.filter((g) => g.body.includes(id))).toHaveLength(8);
    // Disabled: a new command is not delivered to the account webhook.
    hook.answer(200);
    const quiet = (await thumb()).json.command_id;
    await waitForCommand(api, quiet);
    await Bun.sleep(500);
    expect(hook.got.some((g) => g.body.includes(quiet))).toBe(false);
    await api("PUT", "/api/v1/webhook-config", {
      body: { url: hook.url("/account"), secret: "whsec_test_secret" },
    });
    expect((await api("GET", "/api/v1/webhook-config")).json).toMatchObject({
      is_active: true,
      consecutive_failures: 0,
      disabled_at: null,
    });
  }, 60_000);
});

test("a restart during pending retries loses no delivery", async () => {
  const s = await startServer({ env: { ...env(), WEBHOOK_RETRY_SCHEDULE_SECONDS: "3,3,3" } });
  const call = client(s.url, s.firstKey);
  const v = await uploadStored(call, samples.mp4);
  hook.answer(500);
  const id = (
    await call("POST", "/api/v1/run-ffmpeg-command", {
      body: {
        input_files: { in_v: v.storage_url },
        output_files: { out_t: "t.jpg" },
        ffmpeg_command: "-i {{in_v}} -frames:v 1 {{out_t}}",
        webhook_url: hook.url("/restart"),
      },
    })
  ).json.command_id;
  const first = await until(() => hook.got.find((g) => g.body.includes(id)));
  await s.stop("SIGTERM");
  hook.answer(200);
  const s2 = await startServer({ dataDir: s.dataDir, s3Prefix: s.s3Prefix, env: env() });
  try {
    await until(() => hook.got.filter((g) => g.body.includes(id)).length >= 2, 15_000);
    const all = hook.got.filter((g) => g.body.includes(id));
    expect(all.every((g) => g.id === first.id)).toBe(true);
  } finally {
    await s2.stop();
  }
}, 60_000);
