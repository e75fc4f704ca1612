import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeSamples, type Samples } from "../helpers/media";
import {
  cli,
  client,
  startServer,
  storedObjects,
  type TestServer,
  tempDir,
  uploadStored,
  waitForCommand,
} from "../helpers/server";

let samples: Samples;
let server: TestServer;
let api: ReturnType<typeof client>;
let video: any;
let audio: any;
let fixture: ReturnType<typeof Bun.serve>;
const fixtureHits: string[] = [];

beforeAll(async () => {
  const dir = tempDir("renderio-samples-");
  samples = await makeSamples(dir);
  fixture = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const p = new URL(req.url).pathname;
      fixtureHits.push(p);
      if (p === "/clip.mp4") return new Response(Bun.file(samples.mp4));
      return new Response("missing", { status: 404 });
    },
  });
  server = await startServer({
    env: {
      FETCH_ALLOWED_HOSTS: "127.0.0.1",
      FETCH_ALLOWED_PORTS: String(fixture.port),
      COMMAND_CONCURRENCY: "2",
    },
  });
  api = client(server.url, server.firstKey);
  [video, audio] = await Promise.all([uploadStored(api, samples.mp4), uploadStored(api, samples.wav)]);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  fixture?.stop(true);
}, 120_000);

const run = (body: unknown, call = api) => call("POST", "/api/v1/run-ffmpeg-command", { body });

describe("run-ffmpeg-command", () => {
  test("a transcode answers {command_id} at once and ends SUCCESS with a probed OUTPUT file", async () => {
    const t0 = performance.now();
    const r = await run({
      input_files: { in_video: video.storage_url },
      output_files: { out_small: "small.mp4" },
      ffmpeg_command:
        "ffmpeg -i {{in_video}} -vf scale=160:-2 -c:v libx264 -preset ultrafast -c:a aac {{out_small}}",
      metadata: { job: "t1", n: 1, ok: true },
    });
    expect(r.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(Object.keys(r.json)).toEqual(["command_id"]);
    const c = await waitForCommand(api, r.json.command_id);
    expect(c).toMatchObject({
      command_id: r.json.command_id,
      status: "SUCCESS",
      command_type: "FFMPEG_COMMAND",
      metadata: { job: "t1", n: 1, ok: true },
      error_status: null,
      error_message: null,
      progress: null,
      original_request: {
        input_files: { in_video: video.storage_url },
        output_files: { out_small: "small.mp4" },
        ffmpeg_command: expect.any(String),
      },
    });
    expect(c.total_processing_seconds).toBeGreaterThan(0);
    expect(c.ffmpeg_command_run_seconds).toBeGreaterThan(0);
    expect(c.ffmpeg_command_run_seconds).toBeLessThanOrEqual(c.total_processing_seconds);
    const out = c.output_files.out_small;
    expect(out).toMatchObject({
      status: "STORED",
      rendi_store_type: "OUTPUT",
      is_deleted: false,
      filename: "small.mp4",
      file_type: "video",
      codec: "h264",
      width: 160,
      height: 120,
    });
    expect(new URL(out.storage_url).pathname).toEndWith("/small.mp4");
    const f = await api("GET", `/api/v1/files/${out.file_id}`);
    expect(f.json).toMatchObject({ rendi_store_type: "OUTPUT", status: "STORED", filename: "small.mp4" });
    // The output's storage_url is itself usable as an input.
    const again = await run({
      input_files: { in_v: out.storage_url },
      output_files: { out_thumb: "thumb.jpg" },
      ffmpeg_command: "-ss 0.5 -i <<in_v>> -frames:v 1 {{ out_thumb }}",
    });
    const c2 = await waitForCommand(api, again.json.command_id);
    expect(c2.status).toBe("SUCCESS");
    expect(c2.output_files.out_thumb).toMatchObject({ file_type: "image", file_format: "jpeg", width: 160 });
  });

  test("audio extraction from an input fetched over HTTP (allow-listed loopback origin)", async () => {
    const r = await run({
      input_files: { in_clip: `http://127.0.0.1:${fixture.port}/clip.mp4` },
      output_files: { out_audio: "audio.mp3" },
      ffmpeg_command: "-i {{in_clip}} -vn -c:a libmp3lame -q:a 4 {{out_audio}}",
    });
    const c = await waitForCommand(api, r.json.command_id);
    expect(c.status).toBe("SUCCESS");
    expect(c.output_files.out_audio).toMatchObject({
      file_type: "audio",
      file_format: "mp3",
      codec: "mp3",
      mime_type: "audio/mpeg",
    });
    expect(fixtureHits).toContain("/clip.mp4");
  });

  test("an unreachable input ends FAILED UNREACHABLE_INPUT_FILE naming the alias", async () => {
    const r = await run({
      input_files: { in_gone: `http://127.0.0.1:${fixture.port}/nope.mp4` },
      output_files: { out_x: "x.mp4" },
      ffmpeg_command: "-i {{in_gone}} {{out_x}}",
    });
    const c = await waitForCommand(api, r.json.command_id);
    expect(c).toMatchObject({ status: "FAILED", error_status: "UNREACHABLE_INPUT_FILE", output_files: {} });
    expect(c.error_message).toContain("in_gone");
  });

  test("an ffmpeg error ends FAILED FFMPEG_FAILED with a stderr tail that names aliases, not paths", async () => {
    const r = await run({
      input_files: { in_audio: audio.storage_url },
      output_files: { out_video: "v.mp4" },
      ffmpeg_command: "-i {{in_audio}} -map 0:v:0 {{out_video}}",
    });
    const c = await waitForCommand(api, r.json.command_id);
    expect(c.status).toBe("FAILED");
    expect(c.error_status).toBe("FFMPEG_FAILED");
    expect(c.error_message).not.toContain(server.dataDir);
    expect(c.error_message).not.toContain("/jobs/");
    expect(c.output_files).toEqual({});
  });

  test("max_command_run_seconds is a hard limit: FAILED TIMEOUT", async () => {
    const r = await run({
      input_files: { in_video: video.storage_url },
      output_files: { out_long: "long.mp4" },
      ffmpeg_command: "-stream_loop -1 -re -i {{in_video}} -c copy {{out_long}}",
      max_command_run_seconds: 1,
    });
    if (r.status !== 200) {
      // -re is not in the allow-list: use a filter that is slow enough instead.
      const r2 = await run({
        input_files: { in_video: video.storage_url },
        output_files: { out_long: "long.mp4" },
        ffmpeg_command: "-stream_loop -1 -i {{in_video}} -c:v libx264 -preset veryslow {{out_long}}",
        max_command_run_seconds: 1,
      });
      expect(r2.status).toBe(200);
      const c = await waitForCommand(api, r2.json.command_id);
      expect(c).toMatchObject({ status: "FAILED", error_status: "TIMEOUT" });
      return;
    }
    const c = await waitForCommand(api, r.json.command_id);
    expect(c).toMatchObject({ status: "FAILED", error_status: "TIMEOUT" });
  });

  test("cancel kills a running command: FAILED CANCELLED; cancelling a finished one is 400", async () => {
    const r = await run({
      input_files: { in_video: video.storage_url },
      output_files: { out_long: "long.mp4" },
      ffmpeg_command: "-stream_loop -1 -i {{in_video}} -c:v libx264 -preset veryslow {{out_long}}",
      max_command_run_seconds: 60,
    });
    const id = r.json.command_id;
    // While it runs, the command reports live progress from ffmpeg's -progress output.
    let progress: any = null;
    for (let i = 0; i < 100 && !progress?.out_time_seconds; i++) {
      const c = (await api("GET", `/api/v1/commands/${id}`)).json;
      if (c.status === "PROCESSING") progress = c.progress;
      await Bun.sleep(100);
    }
    expect(progress.out_time_seconds).toBeGreaterThan(0);
    expect(progress.percent).toBeGreaterThan(0); // the stored input's duration is known
    expect(progress.percent).toBeLessThan(100);
    const t0 = performance.now();
    const cancel = await api("POST", `/api/v1/commands/${id}/cancel`);
    expect(cancel.status).toBe(200);
    const c = await waitForCommand(api, id);
    expect(c).toMatchObject({ status: "FAILED", error_status: "CANCELLED" });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect((await api("POST", `/api/v1/commands/${id}/cancel`)).status).toBe(400);
  });
});

describe("chained and multiple", () => {
  test("a two-step chain shares one working directory; intermediates are visible to later steps", async () => {
    const r = await api("POST", "/api/v1/run-chained-ffmpeg-commands", {
      body: {
        input_files: { in_video: video.storage_url },
        output_files: { out_final: "final.mp4", out_poster: "poster.png" },
        ffmpeg_commands: [
          "-i {{in_video}} -t 1 -vf scale=160:-2 -c:v libx264 -preset ultrafast -an intermediate.mp4",
          "-i intermediate.mp4 -vf hflip -c:v libx264 -preset ultrafast {{out_final}}",
          "-i {{out_final}} -frames:v 1 {{out_poster}}",
        ],
      },
    });
    expect(r.status).toBe(200);
    const c = await waitForCommand(api, r.json.command_id);
    expect(c.status).toBe("SUCCESS");
    expect(c.command_type).toBe("CHAINED_COMMAND");
    expect(c.original_request.ffmpeg_commands).toHaveLength(3);
    expect(c.output_files.out_final).toMatchObject({ width: 160, file_type: "video" });
    expect(c.output_files.out_final.duration).toBeCloseTo(1, 0);
    expect(c.output_files.out_poster).toMatchObject({ file_type: "image", file_format: "png" });
    expect(Object.keys(c.output_files).sort()).toEqual(["out_final", "out_poster"]);
  });

  test("multiple commands: ids in request order, each its own MULTIPLE_COMMAND, entry metadata wins", async () => {
    const r = await api("POST", "/api/v1/run-multiple-ffmpeg-commands", {
      body: {
        metadata: { batch: "b1" },
        commands: [
          {
            input_files: { in_a: video.storage_url },
            output_files: { out_a: "a.jpg" },
            ffmpeg_command: "-i {{in_a}} -frames:v 1 {{out_a}}",
          },
          {
            input_files: { in_b: audio.storage_url },
            output_files: { out_b: "b.mp3" },
            ffmpeg_command: "-i {{in_b}} -c:a libmp3lame {{out_b}}",
            metadata: { batch: "mine" },
          },
        ],
      },
    });
    expect(r.status).toBe(200);
    expect(r.json.command_ids).toHaveLength(2);
    const [a, b] = await Promise.all(r.json.command_ids.map((id: string) => waitForCommand(api, id)));
    expect(a).toMatchObject({
      status: "SUCCESS",
      command_type: "MULTIPLE_COMMAND",
      metadata: { batch: "b1" },
    });
    expect(b).toMatchObject({
      status: "SUCCESS",
      command_type: "MULTIPLE_COMMAND",
      metadata: { batch: "mine" },
    });
    expect(a.output_files.out_a.file_type).toBe("image");
    expect(b.output_files.out_b.file_type).toBe("audio");
  });
});

describe("validation (400 INVALID_REQUEST naming the problem, 422 for URLs)", () => {
  const base = () => ({
    input_files: { in_video: video.storage_url },
    output_files: { out_video: "out.mp4" },
    ffmpeg_command: "-i {{in_video}} {{out_video}}",
  });
  const cases: [string, (b: any) => unknown, number][] = [
    ["missing input_files", (b) => ({ ...b, input_files: undefined }), 400],
    ["missing output_files", (b) => ({ ...b, output_files: undefined }), 400],
    ["missing ffmpeg_command", (b) => ({ ...b, ffmpeg_command: undefined }), 400],
    ["ffmpeg_command not a string", (b) => ({ ...b, ffmpeg_command: 5 }), 400],
    ["empty input_files", (b) => ({ ...b, input_files: {} }), 400],
    [
      "input key without in_",
      (b) => ({
        ...b,
        input_files: { video: video.storage_url },
        ffmpeg_command: "-i {{video}} {{out_video}}",
      }),
      400,
    ],
    [
      "output key without out_",
      (b) => ({ ...b, output_files: { result: "x.mp4" }, ffmpeg_command: "-i {{in_video}} {{result}}" }),
      400,
    ],
    ["alias with a dash", (b) => ({ ...b, input_files: { "in-video": video.storage_url } }), 400],
    ["output name with a slash", (b) => ({ ...b, output_files: { out_video: "../x.mp4" } }), 400],
    ["output name without extension", (b) => ({ ...b, output_files: { out_video: "noext" } }), 400],
    [
      "undeclared placeholder",
      (b) => ({ ...b, ffmpeg_command: "-i {{in_video}} -i {{in_other}} {{out_video}}" }),
      400,
    ],
    [
      "declared alias unused",
      (b) => ({ ...b, input_files: { ...b.input_files, in_extra: video.storage_url } }),
      400,
    ],
    [
      "11 metadata keys",
      (b) => ({ ...b, metadata: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i])) }),
      400,
    ],
    ["input URL not http(s)", (b) => ({ ...b, input_files: { in_video: "file:///etc/passwd" } }), 422],
    [
      "input URL to a private address",
      (b) => ({ ...b, input_files: { in_video: "http://169.254.169.254/latest" } }),
      422,
    ],
    ["invalid webhook_url", (b) => ({ ...b, webhook_url: "not a url" }), 422],
  ];
  for (const [name, mutate, status] of cases) {
    test(`${name} → ${status}`, async () => {
      const r = await run(mutate(base()));
      expect(r.status).toBe(status);
      expect(r.json.error).toBe(status === 400 ? "INVALID_REQUEST" : "VALIDATION_ERROR");
      expect(r.json.message).toBeString();
    });
  }

  test("more than 10 chained steps or 10 batch entries is 400", async () => {
    const steps = Array.from({ length: 11 }, () => "-i {{in_video}} {{out_video}}");
    const r = await api("POST", "/api/v1/run-chained-ffmpeg-commands", {
      body: { ...base(), ffmpeg_commands: steps },
    });
    expect(r.status).toBe(400);
    const m = await api("POST", "/api/v1/run-multiple-ffmpeg-commands", {
      body: { commands: Array.from({ length: 11 }, base) },
    });
    expect(m.status).toBe(400);
  });

  test("max_command_run_seconds and vcpu_count are accepted, never rejected", async () => {
    const r = await run({ ...base(), max_command_run_seconds: 999_999, vcpu_count: 8 });
    expect(r.status).toBe(200);
  });

  test("POST /commands/validate runs the same checks without executing", async () => {
    const ok = await api("POST", "/api/v1/commands/validate", { body: base() });
    expect(ok.status).toBe(200);
    expect(ok.json.valid).toBe(true);
    expect(ok.json.argv[0]).toContain("{{in_video}}");
    expect(ok.json.argv[0]).toContain("-protocol_whitelist");
    const bad = await api("POST", "/api/v1/commands/validate", {
      body: { ...base(), ffmpeg_command: "-i {{in_video}} -attach /etc/passwd {{out_video}}" },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toContain("-attach");
  });
});

describe("hostile commands are refused at submit (400 naming the token) or fail safely", () => {
  const hostile: [string, string][] = [
    ["-i /etc/passwd {{out_video}} -i {{in_video}}", "/etc/passwd"],
    ["-i file:/etc/passwd -i {{in_video}} {{out_video}}", "file:/etc/passwd"],
    ["-i concat:a|b -i {{in_video}} {{out_video}}", "concat:a|b"],
    ["-i {{in_video}} -vf movie=/etc/passwd {{out_video}}", "movie"],
    ["-i {{in_video}} -filter_complex_script /etc/passwd {{out_video}}", "-filter_complex_script"],
    ["-i {{in_video}} ../../x.mp4", "../../x.mp4"],
    ["-i http://127.0.0.1/ -i {{in_video}} {{out_video}}", "http://127.0.0.1/"],
    ["-f lavfi -i {{in_video}} {{out_video}}", "lavfi"],
    ["-i {{in_video}} -attach /etc/passwd {{out_video}}", "-attach"],
    ["-dump_attachment:t x.ttf -i {{in_video}} {{out_video}}", "-dump_attachment"],
    ["-i {{in_video}} -f tee {{out_video}}", "tee"],
    ["-i {{in_video}} -progress http://127.0.0.1:9/ {{out_video}}", "-progress"],
    ["-i {{in_video}} -af ladspa=file=/tmp/x.so {{out_video}}", "ladspa"],
    ["-i {{in_video}} -vf drawtext=textfile=/etc/passwd {{out_video}}", "textfile"],
    ["-i {{in_video}} -vf sendcmd=f=/etc/passwd {{out_video}}", "sendcmd"],
    ["-i {{in_video}} -protocol_whitelist file,http {{out_video}}", "-protocol_whitelist"],
  ];
  for (const [cmd, token] of hostile) {
    test(cmd, async () => {
      const r = await run({
        input_files: { in_video: video.storage_url },
        output_files: { out_video: "o.mp4" },
        ffmpeg_command: cmd,
      });
      expect(r.status).toBe(400);
      expect(r.json.error).toBe("INVALID_REQUEST");
      expect(r.json.message).toContain(token);
    });
  }

  test("a playlist disguised as a subtitle file never makes ffmpeg read other files", async () => {
    const dir = tempDir("renderio-hostile-");
    const fake = join(dir, "subs.srt");
    writeFileSync(fake, `#EXTM3U\n#EXTINF:1,\n${join(server.dataDir, "renderio.db")}\n#EXT-X-ENDLIST\n`);
    const subs = await uploadStored(api, fake);
    const r = await run({
      input_files: { in_video: video.storage_url, in_subs: subs.storage_url },
      output_files: { out_video: "o.mp4" },
      ffmpeg_command: "-i {{in_video}} -vf subtitles={{in_subs}} {{out_video}}",
    });
    expect(r.status).toBe(200);
    const c = await waitForCommand(api, r.json.command_id);
    expect(c).toMatchObject({ status: "FAILED", error_status: "UNSUPPORTED_MEDIA" });
  });
});

describe("listing, tenancy, deleting outputs", () => {
  test("list: newest first, status filter, bad params 400; credential check GET /commands?limit=1 works", async () => {
    const one = await api("GET", "/api/v1/commands?limit=1");
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ limit: 1, offset: 0 });
    expect(one.json.commands).toHaveLength(1);
    const ok = await api("GET", "/api/v1/commands?status=SUCCESS&limit=100");
    expect(ok.json.commands.length).toBeGreaterThan(0);
    expect(ok.json.commands.every((c: any) => c.status === "SUCCESS")).toBe(true);
    const times = ok.json.commands.map((c: any) => Date.parse(c.created_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    for (const q of ["status=DONE", "limit=0", "limit=101", "offset=-1"]) {
      const r = await api("GET", `/api/v1/commands?${q}`);
      expect(r.status).toBe(400);
      expect(r.json.error).toBe("INVALID_REQUEST");
    }
  });

  test("another account gets 404 for the command, its cancel and its delete-files", async () => {
    const id = (await api("GET", "/api/v1/commands?limit=1")).json.commands[0].command_id;
    const other = client(server.url, (await cli(server.dataDir, ["keys", "create"])).trim());
    for (const [m, p] of [
      ["GET", `/api/v1/commands/${id}`],
      ["POST", `/api/v1/commands/${id}/cancel`],
      ["DELETE", `/api/v1/commands/${id}/files`],
    ] as const) {
      const r = await other(m, p);
      expect(r.status).toBe(404);
      expect(r.json.error).toBe("NOT_FOUND");
    }
    expect((await other("GET", "/api/v1/commands")).json.commands).toEqual([]);
    for (const k of [undefined, "ffsk_bad"]) {
      expect((await client(server.url, k)("GET", `/api/v1/commands/${id}`)).status).toBe(401);
      expect((await client(server.url, k)("POST", "/api/v1/run-ffmpeg-command", { body: {} })).status).toBe(
        401,
      );
    }
  });

  test("DELETE /commands/:id/files deletes every output; the command keeps them as is_deleted", async () => {
    const r = await run({
      input_files: { in_video: video.storage_url },
      output_files: { out_a: "a.png", out_b: "b.jpg" },
      ffmpeg_command: "-i {{in_video}} -frames:v 1 {{out_a}} -frames:v 1 {{out_b}}",
    });
    const c = await waitForCommand(api, r.json.command_id);
    expect(c.status).toBe("SUCCESS");
    const d = await api("DELETE", `/api/v1/commands/${c.command_id}/files`);
    expect(d.json).toEqual({ deleted: true, files_deleted: 2 });
    const after = await waitForCommand(api, c.command_id);
    expect(after.output_files.out_a).toMatchObject({ is_deleted: true, storage_url: null });
    expect((await storedObjects(server)).filter((k) => k.includes(c.output_files.out_a.file_id))).toEqual([]);
    expect((await api("DELETE", `/api/v1/commands/${c.command_id}/files`)).json.files_deleted).toBe(0);
  });
});

describe("durability", () => {
  test("commands queued or running when the server dies are run after a restart", async () => {
    const s = await startServer({ env: { COMMAND_CONCURRENCY: "1" } });
    const call = client(s.url, s.firstKey);
    const v = await uploadStored(call, samples.mp4);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call("POST", "/api/v1/run-ffmpeg-command", {
        body: {
          input_files: { in_v: v.storage_url },
          output_files: { out_v: `o${i}.mp4` },
          ffmpeg_command: "-i {{in_v}} -c:v libx264 -preset veryfast {{out_v}}",
        },
      });
      ids.push(r.json.command_id);
    }
    await s.stop("SIGKILL");
    const s2 = await startServer({ dataDir: s.dataDir, s3Prefix: s.s3Prefix });
    const call2 = client(s2.url, s.firstKey);
    try {
      for (const id of ids) {
        const c = await waitForCommand(call2, id);
        expect(c.status).toBe("SUCCESS");
        expect(Object.keys(c.output_files)).toEqual(["out_v"]);
      }
    } finally {
      await s2.stop();
    }
  }, 120_000);
});
