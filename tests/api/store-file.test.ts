import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { makeSamples, type Samples } from "../helpers/media";
import { cli, client, startServer, type TestServer, tempDir, waitForFile } from "../helpers/server";

/** A loopback origin that serves sample media, redirects and failures, and counts what it was asked. */
function startFixture(samples: Samples) {
  const hits: string[] = [];
  const server: ReturnType<typeof Bun.serve> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req): Promise<Response> {
      const url = new URL(req.url);
      hits.push(url.pathname);
      switch (url.pathname) {
        case "/media/clip.mp4":
          return new Response(Bun.file(samples.mp4), { headers: { "content-type": "video/mp4" } });
        case "/download":
          return new Response(Bun.file(samples.mp3), {
            headers: {
              "content-disposition": `attachment; filename="fallback.mp3"; filename*=UTF-8''${encodeURIComponent("../../song \u202Eevil.mp3")}`,
            },
          });
        case "/redirect":
          return Response.redirect(`http://127.0.0.1:${server.port}/media/clip.mp4`, 302);
        case "/redirect-private":
          return Response.redirect(`http://127.0.0.1:${url.searchParams.get("port")}/secret`, 302);
        case "/huge":
          return new Response(
            new ReadableStream({
              pull(c) {
                c.enqueue(new Uint8Array(64 * 1024));
              },
            }),
          );
        case "/missing":
          return new Response("SECRET-BODY-CONTENT", { status: 404 });
        default:
          return new Response("no", { status: 404 });
      }
    },
  });
  return { server, hits, url: (p: string) => `http://127.0.0.1:${server.port}${p}` };
}

let samples: Samples;
let fixture: ReturnType<typeof startFixture>;
let other: ReturnType<typeof startFixture>;
let server: TestServer;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  samples = await makeSamples(tempDir("renderio-samples-"));
  fixture = startFixture(samples);
  other = startFixture(samples);
  server = await startServer({
    env: {
      FETCH_ALLOWED_HOSTS: "127.0.0.1",
      FETCH_ALLOWED_PORTS: String(fixture.server.port),
      MAX_UPLOAD_BYTES: String(1024 * 1024),
    },
  });
  api = client(server.url, server.firstKey);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  fixture?.server.stop(true);
  other?.server.stop(true);
}, 120_000);

const store = (call: ReturnType<typeof client>, body: unknown) =>
  call("POST", "/api/v1/files/store-file", { body });

describe("store-file", () => {
  test("downloads in the background, stores and probes: STORED_FILE with original_file_url", async () => {
    const src = fixture.url("/media/clip.mp4");
    const r = await store(api, { file_url: src });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(["file_id"]);
    const f = await waitForFile(api, r.json.file_id);
    expect(f).toMatchObject({
      status: "STORED",
      rendi_store_type: "STORED_FILE",
      original_file_url: src,
      filename: "clip.mp4",
      file_type: "video",
      codec: "h264",
      width: 320,
      height: 240,
    });
    const bytes = new Uint8Array(await (await fetch(f.storage_url)).arrayBuffer());
    expect(bytes).toEqual(new Uint8Array(await Bun.file(samples.mp4).arrayBuffer()));
  });

  test("the file name comes from Content-Disposition (sanitised), and redirects are followed", async () => {
    const a = await waitForFile(api, (await store(api, { file_url: fixture.url("/download") })).json.file_id);
    expect(a).toMatchObject({ status: "STORED", filename: "song evil.mp3", file_type: "audio" });
    const b = await waitForFile(api, (await store(api, { file_url: fixture.url("/redirect") })).json.file_id);
    expect(b).toMatchObject({ status: "STORED", filename: "clip.mp4" });
  });

  test("an HTTP error ends FAILED UNREACHABLE_INPUT_FILE without echoing the response body", async () => {
    const f = await waitForFile(api, (await store(api, { file_url: fixture.url("/missing") })).json.file_id);
    expect(f).toMatchObject({ status: "FAILED", error_status: "UNREACHABLE_INPUT_FILE", storage_url: null });
    expect(f.error_message).not.toContain("SECRET-BODY");
  });

  test("a body past MAX_UPLOAD_BYTES ends FAILED INPUT_TOO_LARGE and stores nothing", async () => {
    const f = await waitForFile(api, (await store(api, { file_url: fixture.url("/huge") })).json.file_id);
    expect(f).toMatchObject({ status: "FAILED", error_status: "INPUT_TOO_LARGE", size_mbytes: null });
  });

  test("a redirect from the allowed host to a private address is refused; the target sees nothing", async () => {
    const before = other.hits.length;
    const url = fixture.url(`/redirect-private?port=${other.server.port}`);
    const f = await waitForFile(api, (await store(api, { file_url: url })).json.file_id);
    expect(f).toMatchObject({ status: "FAILED", error_status: "UNREACHABLE_INPUT_FILE" });
    expect(other.hits.length).toBe(before);
  });

  test("missing or non-string file_url is 400 INVALID_REQUEST; malformed or forbidden URLs are 422", async () => {
    for (const body of [{}, { file_url: 123 }, { file_url: "" }]) {
      const r = await store(api, body);
      expect(r.status).toBe(400);
      expect(r.json.error).toBe("INVALID_REQUEST");
    }
    for (const file_url of [
      "not a url",
      "file:///etc/passwd",
      "s3://bucket/key",
      "ftp://example.com/x.mp4",
    ]) {
      const r = await store(api, { file_url });
      expect(r.status).toBe(422);
      expect(r.json.error).toBe("VALIDATION_ERROR");
      expect(r.json.detail[0].loc).toEqual(["body", "file_url"]);
    }
  });

  test("another account cannot see a stored file", async () => {
    const id = (await store(api, { file_url: fixture.url("/media/clip.mp4") })).json.file_id;
    const otherKey = (await cli(server.dataDir, ["keys", "create"])).trim();
    expect((await client(server.url, otherKey)("GET", `/api/v1/files/${id}`)).status).toBe(404);
  });
});

describe("store-file with default settings refuses every SSRF form before connecting", () => {
  let strict: TestServer;
  beforeAll(async () => {
    strict = await startServer();
  }, 120_000);
  afterAll(() => strict?.stop());

  test("loopback, private, metadata and non-http URLs are 422 at once; the origin sees no request", async () => {
    const call = client(strict.url, strict.firstKey);
    const port = fixture.server.port;
    const before = fixture.hits.length;
    const forms = [
      `http://127.0.0.1:${port}/media/clip.mp4`,
      `http://localhost:${port}/media/clip.mp4`,
      `http://[::1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://2130706433:${port}/`,
      `http://0x7f.1:${port}/`,
      `http://0177.0.0.1:${port}/`,
      "http://127.0.0.1/media/clip.mp4",
      "http://169.254.169.254/latest/meta-data/",
      "http://10.0.0.1/x.mp4",
      "http://user:pass@example.com/x.mp4",
      "file:///etc/passwd",
      "s3://bucket/key",
    ];
    for (const file_url of forms) {
      const r = await store(call, { file_url });
      expect(r.status, file_url).toBe(422);
      expect(r.json.error).toBe("VALIDATION_ERROR");
    }
    await Bun.sleep(200);
    expect(fixture.hits.length).toBe(before);
    const list = await call("GET", "/api/v1/files");
    expect(list.json.files).toHaveLength(0);
  });
});
