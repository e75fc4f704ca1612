import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { makeSamples, type Samples } from "../helpers/media";
import { client, startServer, type TestServer, tempDir, waitForCommand } from "../helpers/server";

let samples: Samples;
let server: TestServer;
let api: ReturnType<typeof client>;
let origin: ReturnType<typeof Bun.serve>;
/** Never allow-listed: anything reaching it is an SSRF hole. */
let other: ReturnType<typeof Bun.serve>;
const otherHits: string[] = [];

beforeAll(async () => {
  samples = await makeSamples(tempDir("renderio-samples-"));
  other = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      otherHits.push(new URL(req.url).pathname);
      return new Response(Bun.file(samples.mp4));
    },
  });
  origin = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const p = new URL(req.url).pathname;
      if (p === "/clip.mp4") return new Response(Bun.file(samples.mp4));
      if (p === "/redirect") return Response.redirect(`http://127.0.0.1:${other.port}/clip.mp4`, 302);
      return new Response("missing", { status: 404 });
    },
  });
  server = await startServer({
    env: { FETCH_ALLOWED_HOSTS: "127.0.0.1", FETCH_ALLOWED_PORTS: String(origin.port) },
  });
  api = client(server.url, server.firstKey);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  origin?.stop(true);
  other?.stop(true);
}, 60_000);

const clip = () => `http://127.0.0.1:${origin.port}/clip.mp4`;
const download = (body: unknown) => api("POST", "/api/v1/ytdlp-download", { body });
const runYtdlp = (body: unknown) => api("POST", "/api/v1/run-ytdlp-command", { body });

describe("ytdlp-download", () => {
  test("a direct mp4 URL is downloaded into out_<suffix>, stored and probed", async () => {
    const r = await download({ input_urls: { in_video: clip() }, metadata: { job: "yt" } });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(["command_id"]);
    const c = await waitForCommand(api, r.json.command_id);
    expect(c).toMatchObject({
      status: "SUCCESS",
      command_type: "YTDLP_COMMAND",
      metadata: { job: "yt" },
      error_status: null,
      ffmpeg_command_run_seconds: null,
      original_request: { input_urls: { in_video: clip() }, format_selector: "best" },
    });
    expect(Object.keys(c.output_files)).toEqual(["out_video"]);
    const out = c.output_files.out_video;
    expect(out).toMatchObject({
      status: "STORED",
      filename: "video.mp4",
      file_type: "video",
      codec: "h264",
      width: 320,
      height: 240,
    });
    const bytes = await (await fetch(out.storage_url)).arrayBuffer();
    expect(bytes.byteLength).toBe(Bun.file(samples.mp4).size);
  });

  test("audio_only extracts the audio track (AAC → .m4a)", async () => {
    const r = await download({ input_urls: { in_song: clip() }, format_selector: "audio_only" });
    const c = await waitForCommand(api, r.json.command_id);
    expect(c.status).toBe("SUCCESS");
    expect(c.output_files.out_song).toMatchObject({
      status: "STORED",
      filename: "song.m4a",
      file_type: "audio",
      codec: "aac",
      mime_type: "audio/mp4",
      width: null,
    });
  });

  test("a resolution preset takes the closest format when the exact one is missing", async () => {
    const r = await download({ input_urls: { in_a: clip() }, format_selector: "1080p" });
    const c = await waitForCommand(api, r.json.command_id);
    expect(c.status).toBe("SUCCESS");
    expect(c.output_files.out_a).toMatchObject({ filename: "a.mp4", height: 240 });
  });

  test("an origin answering 404 fails UNREACHABLE_INPUT_FILE without server paths", async () => {
    const r = await download({ input_urls: { in_gone: `http://127.0.0.1:${origin.port}/gone.mp4` } });
    const c = await waitForCommand(api, r.json.command_id);
    expect(c).toMatchObject({ status: "FAILED", error_status: "UNREACHABLE_INPUT_FILE" });
    expect(c.error_message).toContain("{{in_gone}}");
    expect(c.error_message).toBe(
      "input {{in_gone}} could not be downloaded: Unable to download webpage: HTTP Error 404: Not Found",
    );
    expect(c.error_message).not.toContain(server.dataDir);
    expect(c.error_message).not.toMatch(/\/tmp\/|\/usr\/|egress\.sock/);
  });
});

describe("run-ytdlp-command", () => {
  test("the download stands in for {{in_*}} of an ffmpeg thumbnail command", async () => {
    const body = {
      input_urls: { in_video: clip() },
      output_files: { out_thumb: "thumb.jpg" },
      ffmpeg_command: "-i {{in_video}} -frames:v 1 -q:v 3 {{out_thumb}}",
    };
    const r = await runYtdlp(body);
    expect(r.status).toBe(200);
    const c = await waitForCommand(api, r.json.command_id);
    expect(c).toMatchObject({
      status: "SUCCESS",
      command_type: "YTDLP_COMMAND",
      original_request: { ...body, format_selector: "best" },
    });
    expect(c.ffmpeg_command_run_seconds).toBeGreaterThan(0);
    expect(Object.keys(c.output_files)).toEqual(["out_thumb"]);
    expect(c.output_files.out_thumb).toMatchObject({
      status: "STORED",
      filename: "thumb.jpg",
      file_type: "image",
      width: 320,
    });
  });

  test("without ffmpeg_command it behaves like ytdlp-download", async () => {
    const r = await runYtdlp({ input_urls: { in_clip: clip() } });
    const c = await waitForCommand(api, r.json.command_id);
    expect(c.status).toBe("SUCCESS");
    expect(c.output_files.out_clip.filename).toBe("clip.mp4");
  });
});

describe("validation", () => {
  const url = () => clip();
  test.each([
    ["missing input_urls", 400, "/api/v1/ytdlp-download", () => ({})],
    ["empty input_urls", 400, "/api/v1/ytdlp-download", () => ({ input_urls: {} })],
    ["a key without in_", 400, "/api/v1/ytdlp-download", () => ({ input_urls: { video: url() } })],
    ["a bad alias", 400, "/api/v1/run-ytdlp-command", () => ({ input_urls: { "in-v": url() } })],
    [
      "an unknown format_selector",
      400,
      "/api/v1/ytdlp-download",
      () => ({ input_urls: { in_v: url() }, format_selector: "8k" }),
    ],
    [
      "11 metadata keys",
      400,
      "/api/v1/ytdlp-download",
      () => ({
        input_urls: { in_v: url() },
        metadata: Object.fromEntries([...Array(11)].map((_, i) => [`k${i}`, i])),
      }),
    ],
    [
      "ffmpeg_command without output_files",
      400,
      "/api/v1/run-ytdlp-command",
      () => ({ input_urls: { in_v: url() }, ffmpeg_command: "-i {{in_v}} {{out_x}}" }),
    ],
    [
      "output_files without ffmpeg_command",
      400,
      "/api/v1/run-ytdlp-command",
      () => ({ input_urls: { in_v: url() }, output_files: { out_x: "x.mp4" } }),
    ],
    [
      "a forbidden ffmpeg option",
      400,
      "/api/v1/run-ytdlp-command",
      () => ({
        input_urls: { in_v: url() },
        output_files: { out_x: "x.mp4" },
        ffmpeg_command: "-i {{in_v}} -dump_attachment:t a {{out_x}}",
      }),
    ],
    [
      "an undeclared placeholder",
      400,
      "/api/v1/run-ytdlp-command",
      () => ({
        input_urls: { in_v: url() },
        output_files: { out_x: "x.mp4" },
        ffmpeg_command: "-i {{in_w}} {{out_x}}",
      }),
    ],
    ["a non-http URL", 422, "/api/v1/ytdlp-download", () => ({ input_urls: { in_v: "file:///etc/passwd" } })],
    ["not a URL", 422, "/api/v1/run-ytdlp-command", () => ({ input_urls: { in_v: "not a url" } })],
    [
      "a bad webhook_url",
      422,
      "/api/v1/ytdlp-download",
      () => ({ input_urls: { in_v: url() }, webhook_url: "ftp://x" }),
    ],
  ])("%s → %d", async (_, status, path, body) => {
    const r = await api("POST", path, { body: body() });
    expect(r.status).toBe(status);
    expect(r.json.error).toBe(status === 400 ? "INVALID_REQUEST" : "VALIDATION_ERROR");
  });

  test("no API key → 401", async () => {
    const anon = client(server.url);
    for (const path of ["/api/v1/ytdlp-download", "/api/v1/run-ytdlp-command"]) {
      expect((await anon("POST", path, { body: { input_urls: { in_v: clip() } } })).status).toBe(401);
    }
  });
});

describe("SSRF", () => {
  test.each([
    () => "http://localhost/x.mp4",
    () => "http://10.0.0.5/x.mp4",
    () => "http://169.254.169.254/latest/meta-data/",
    () => "http://[::1]/x.mp4",
    () => `http://127.0.0.1:${other.port}/clip.mp4`,
  ])("a loopback/private/non-allowed URL is refused at submit (422): %#", async (u) => {
    const r = await download({ input_urls: { in_v: u() } });
    expect(r.status).toBe(422);
    expect(r.json.detail[0].loc).toEqual(["body", "input_urls", "in_v"]);
    expect(otherHits).toEqual([]);
  });

  test("a redirect to a non-allowed port is refused by the egress proxy before any connection", async () => {
    const r = await download({ input_urls: { in_v: `http://127.0.0.1:${origin.port}/redirect` } });
    expect(r.status).toBe(200);
    const c = await waitForCommand(api, r.json.command_id);
    expect(c).toMatchObject({ status: "FAILED", error_status: "UNREACHABLE_INPUT_FILE" });
    expect(c.error_message).toContain(`port ${other.port} is not allowed`);
    expect(otherHits).toEqual([]);
  });
});

describe("without yt-dlp", () => {
  test("both routes answer 501 NOT_IMPLEMENTED naming the package", async () => {
    const off = await startServer({ env: { YTDLP_PATH: "off" } });
    try {
      const call = client(off.url, off.firstKey);
      for (const path of ["/api/v1/ytdlp-download", "/api/v1/run-ytdlp-command"]) {
        const r = await call("POST", path, { body: { input_urls: { in_v: "https://example.com/v.mp4" } } });
        expect(r.status).toBe(501);
        expect(r.json.error).toBe("NOT_IMPLEMENTED");
        expect(r.json.message).toContain("apt-get install yt-dlp");
      }
      expect(off.output()).toContain("yt-dlp unavailable");
    } finally {
      await off.stop();
    }
  }, 30_000);
});
