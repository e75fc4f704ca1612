import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { runProcess } from "../../src/media/runner";
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

const SYSTEM_IDS = [
  "prs_sys_h264_mp4",
  "prs_sys_720p_mp4",
  "prs_sys_extract_mp3",
  "prs_sys_thumbnail_jpg",
  "prs_sys_gif_preview",
  "prs_sys_loudnorm_aac",
];
const PRESET_KEYS = [
  "preset_id",
  "name",
  "description",
  "category",
  "is_system",
  "command_type",
  "ffmpeg_command",
  "ffmpeg_commands",
  "input_file_keys",
  "output_file_definitions",
  "metadata",
  "created_at",
  "updated_at",
];

let samples: Samples;
let server: TestServer;
let api: ReturnType<typeof client>;
let other: ReturnType<typeof client>;
/** Stored inputs: the 320x240 2 s sample, a 1280x960 4 s clip, a quiet (-52 LUFS) 5 s tone, a WebM. */
let video: any;
let big: any;
let quiet: any;
let webm: any;

async function ffmpeg(args: string[]): Promise<string> {
  const r = await runProcess({ argv: ["ffmpeg", "-nostdin", "-y", ...args], timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`ffmpeg ${args.join(" ")}: ${r.stderrTail}`);
  return r.stderrTail;
}

beforeAll(async () => {
  const dir = tempDir("renderio-presets-");
  const bigPath = join(dir, "big.mp4");
  const quietPath = join(dir, "quiet.wav");
  [samples] = await Promise.all([
    makeSamples(dir),
    ffmpeg([
      ...["-v", "error", "-f", "lavfi", "-i", "testsrc=size=1280x960:rate=25", "-f", "lavfi"],
      ...["-i", "sine=frequency=440:sample_rate=44100", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast"],
      ...["-pix_fmt", "yuv420p", "-c:a", "aac", bigPath],
    ]),
    ffmpeg([
      ...["-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100,volume=0.03"],
      ...["-t", "5", "-ac", "1", "-c:a", "pcm_s16le", quietPath],
    ]),
  ]);
  server = await startServer({ env: { COMMAND_CONCURRENCY: "3" } });
  api = client(server.url, server.firstKey);
  other = client(server.url, (await cli(server.dataDir, ["keys", "create", "--name", "other"])).trim());
  [video, big, quiet, webm] = await Promise.all([
    uploadStored(api, samples.mp4),
    uploadStored(api, bigPath),
    uploadStored(api, quietPath),
    uploadStored(api, samples.webm),
  ]);
}, 120_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

const scale = {
  name: "Small MP4",
  description: "160 px wide",
  category: "video-encoding",
  input_file_keys: ["in_video"],
  output_file_definitions: { out_small: "small.mp4" },
  ffmpeg_command: "-i {{in_video}} -vf scale=160:-2 -c:v libx264 -preset ultrafast -c:a aac {{out_small}}",
  metadata: { team: "a", tier: 1 },
};
const create = (body: unknown, call = api) => call("POST", "/api/v1/presets", { body });
const execute = (id: string, body: unknown, call = api) =>
  call("POST", `/api/v1/presets/${id}/execute`, { body });
const expectError = (r: { status: number; json: any }, status: number, code: string) => {
  expect(r.status).toBe(status);
  expect(r.json.error).toBe(code);
};

describe("create", () => {
  test("201 with every PresetResponse key; command_type defaults to FFMPEG_COMMAND", async () => {
    const r = await create(scale);
    expect(r.status).toBe(201);
    expect(Object.keys(r.json).sort()).toEqual([...PRESET_KEYS].sort());
    expect(r.json).toMatchObject({
      ...scale,
      is_system: false,
      command_type: "FFMPEG_COMMAND",
      ffmpeg_commands: null,
    });
    expect(r.json.preset_id).toMatch(/^prs_[0-9a-f]{24}$/);
    expect(r.json.created_at).toBe(r.json.updated_at);
    const bare = await create({ ...scale, description: undefined, category: undefined, metadata: undefined });
    expect(bare.json).toMatchObject({ description: null, category: null, metadata: null });
  });

  test("field problems answer 422 with detail; a refused command 400 naming the token", async () => {
    const many = Object.fromEntries([...Array(11)].map((_, i) => [`k${i}`, i]));
    const chained = { ...scale, command_type: "CHAINED_COMMAND", ffmpeg_command: undefined };
    const cases: [unknown, (string | number)[]][] = [
      [{ ...scale, name: undefined }, ["name"]],
      [{ ...scale, command_type: "SOMETHING" }, ["command_type"]],
      [{ ...scale, input_file_keys: ["video"] }, ["input_file_keys", 0]],
      [{ ...scale, input_file_keys: [] }, ["input_file_keys"]],
      [{ ...scale, output_file_definitions: { small: "a.mp4" } }, ["output_file_definitions", "small"]],
      [
        { ...scale, output_file_definitions: { out_small: "../a.mp4" } },
        ["output_file_definitions", "out_small"],
      ],
      [
        { ...scale, output_file_definitions: { out_small: "noext" } },
        ["output_file_definitions", "out_small"],
      ],
      [{ ...scale, metadata: many }, ["metadata"]],
      [{ ...scale, ffmpeg_command: undefined }, ["ffmpeg_command"]],
      [chained, ["ffmpeg_commands"]],
      [{ ...chained, ffmpeg_commands: Array(11).fill(scale.ffmpeg_command) }, ["ffmpeg_commands"]],
      [{ ...chained, ffmpeg_commands: [], ffmpeg_command: scale.ffmpeg_command }, ["ffmpeg_commands"]],
    ];
    const before = (await api("GET", "/api/v1/presets?limit=100")).json.presets.length;
    for (const [body, loc] of cases) {
      const r = await create(body);
      expectError(r, 422, "VALIDATION_ERROR");
      expect(r.json.detail[0].loc).toEqual(["body", ...loc]);
    }
    const refused: [string, string][] = [
      ["-i {{in_video}} -vf movie=/etc/passwd {{out_small}}", "movie"],
      ["-i {{in_video}} -f tee {{out_small}}", "tee"],
      ["-i {{in_video}} {{out_small}} {{out_other}}", "{{out_other}}"],
      ["-i {{in_video}} -c copy /tmp/x.mp4", "/tmp/x.mp4"],
    ];
    for (const [ffmpeg_command, token] of refused) {
      const r = await create({ ...scale, ffmpeg_command });
      expectError(r, 400, "INVALID_REQUEST");
      expect(r.json.message).toContain(token);
      expect(r.json.detail[0].loc).toEqual(["body", "ffmpeg_command"]);
    }
    const unused = await create({ ...scale, input_file_keys: ["in_video", "in_logo"] });
    expectError(unused, 400, "INVALID_REQUEST");
    expect(unused.json.message).toContain("in_logo");
    expect((await api("GET", "/api/v1/presets?limit=100")).json.presets).toHaveLength(before);
    for (const k of [undefined, "ffsk_bad"])
      expect((await create(scale, client(server.url, k))).status).toBe(401);
  });

  test("MULTIPLE_COMMAND: each command uses a subset; unused aliases and shared outputs are refused", async () => {
    const base = {
      name: "multi",
      command_type: "MULTIPLE_COMMAND",
      input_file_keys: ["in_video"],
      output_file_definitions: { out_a: "a.jpg", out_b: "b.png" },
    };
    const ok = await create({
      ...base,
      ffmpeg_commands: ["-i {{in_video}} -frames:v 1 {{out_a}}", "-i {{in_video}} -frames:v 1 {{out_b}}"],
    });
    expect(ok.status).toBe(201);
    expect(ok.json.ffmpeg_command).toBeNull();
    const unused = await create({ ...base, ffmpeg_commands: ["-i {{in_video}} -frames:v 1 {{out_a}}"] });
    expectError(unused, 400, "INVALID_REQUEST");
    expect(unused.json.message).toContain("out_b");
    const twice = await create({
      ...base,
      ffmpeg_commands: [
        "-i {{in_video}} -frames:v 1 {{out_a}} -frames:v 1 {{out_b}}",
        "-i {{in_video}} -frames:v 1 {{out_b}}",
      ],
    });
    expectError(twice, 400, "INVALID_REQUEST");
    expect(twice.json.detail[0].loc).toEqual(["body", "ffmpeg_commands", 1]);
  });
});

describe("list and get", () => {
  test("system presets first in fixed order, then own newest first; paging crosses the boundary", async () => {
    const lister = client(server.url, (await cli(server.dataDir, ["keys", "create"])).trim());
    const first = (await create({ ...scale, name: "first" }, lister)).json.preset_id;
    const second = (await create({ ...scale, name: "second" }, lister)).json.preset_id;
    const all = await lister("GET", "/api/v1/presets");
    expect(all.status).toBe(200);
    expect(all.json).toMatchObject({ limit: 50, offset: 0 });
    expect(all.json.presets.map((p: any) => p.preset_id)).toEqual([...SYSTEM_IDS, second, first]);
    for (const p of all.json.presets) expect(Object.keys(p).sort()).toEqual([...PRESET_KEYS].sort());
    const sys = all.json.presets.slice(0, SYSTEM_IDS.length);
    expect(sys.every((p: any) => p.is_system && p.category && p.command_type === "FFMPEG_COMMAND")).toBe(
      true,
    );
    const page = async (q: string) =>
      (await lister("GET", `/api/v1/presets?${q}`)).json.presets.map((p: any) => p.preset_id);
    expect(await page("limit=2")).toEqual(SYSTEM_IDS.slice(0, 2));
    expect(await page(`limit=2&offset=${SYSTEM_IDS.length - 1}`)).toEqual([SYSTEM_IDS.at(-1), second]);
    expect(await page(`limit=5&offset=${SYSTEM_IDS.length + 1}`)).toEqual([first]);
    expect(await page("offset=100")).toEqual([]);
    for (const q of ["limit=0", "limit=101", "offset=-1", "limit=x"])
      expectError(await lister("GET", `/api/v1/presets?${q}`), 400, "INVALID_REQUEST");
    expect((await client(server.url)("GET", "/api/v1/presets")).status).toBe(401);
  });

  test("get: own and system presets; another account's or an unknown id is 404", async () => {
    const own = (await create(scale)).json;
    expect((await api("GET", `/api/v1/presets/${own.preset_id}`)).json).toEqual(own);
    const sys = await other("GET", "/api/v1/presets/prs_sys_h264_mp4");
    expect(sys.status).toBe(200);
    expect(sys.json).toMatchObject({ is_system: true, input_file_keys: ["in_video"], metadata: null });
    expectError(await other("GET", `/api/v1/presets/${own.preset_id}`), 404, "NOT_FOUND");
    expectError(await api("GET", "/api/v1/presets/prs_000000000000000000000000"), 404, "NOT_FOUND");
    expect((await client(server.url, "ffsk_bad")("GET", `/api/v1/presets/${own.preset_id}`)).status).toBe(
      401,
    );
  });
});

describe("update and delete", () => {
  test("PUT replaces given fields, metadata wholesale, and re-validates the result", async () => {
    const p = (await create(scale)).json;
    const put = (body: unknown, call = api) => call("PUT", `/api/v1/presets/${p.preset_id}`, { body });
    await Bun.sleep(5);
    const renamed = await put({ name: "Renamed" });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({ ...scale, name: "Renamed", created_at: p.created_at });
    expect(Date.parse(renamed.json.updated_at)).toBeGreaterThan(Date.parse(p.updated_at));
    expect((await put({ metadata: { only: true } })).json.metadata).toEqual({ only: true });
    expect((await put({ metadata: null, description: null })).json).toMatchObject({
      metadata: null,
      description: null,
    });
    const bad = await put({ ffmpeg_command: "-i {{in_video}} -vf movie=x {{out_small}}" });
    expectError(bad, 400, "INVALID_REQUEST");
    expectError(await put({ input_file_keys: ["in_other"] }), 400, "INVALID_REQUEST");
    expectError(await put({ ffmpeg_commands: [scale.ffmpeg_command] }), 422, "VALIDATION_ERROR");
    expectError(await put({}), 422, "VALIDATION_ERROR");
    expectError(await put({ name: "" }), 422, "VALIDATION_ERROR");
    expect((await api("GET", `/api/v1/presets/${p.preset_id}`)).json.ffmpeg_command).toBe(
      scale.ffmpeg_command,
    );
    const chained = await put({
      command_type: "CHAINED_COMMAND",
      ffmpeg_commands: [
        "-i {{in_video}} -t 1 -c copy part.mp4",
        "-i part.mp4 -vf scale=160:-2 {{out_small}}",
      ],
    });
    expect(chained.json).toMatchObject({ command_type: "CHAINED_COMMAND", ffmpeg_command: null });
    expectError(await put({ name: "x" }, other), 404, "NOT_FOUND");
    expectError(
      await api("PUT", "/api/v1/presets/prs_sys_h264_mp4", { body: { name: "x" } }),
      403,
      "FORBIDDEN",
    );
  });

  test("DELETE answers {deleted, preset_id}; then 404; system 403; another account's 404", async () => {
    const p = (await create(scale)).json;
    const path = `/api/v1/presets/${p.preset_id}`;
    expectError(await other("DELETE", path), 404, "NOT_FOUND");
    expect((await api("DELETE", path)).json).toEqual({ deleted: true, preset_id: p.preset_id });
    expectError(await api("DELETE", path), 404, "NOT_FOUND");
    expectError(await api("GET", path), 404, "NOT_FOUND");
    expectError(await api("DELETE", "/api/v1/presets/prs_sys_extract_mp3"), 403, "FORBIDDEN");
    expect((await api("GET", "/api/v1/presets/prs_sys_extract_mp3")).status).toBe(200);
  });
});

describe("execute", () => {
  test("exact keys → {command_id}; the command succeeds with the preset's outputs and merged metadata", async () => {
    const p = (await create(scale)).json;
    const r = await execute(p.preset_id, {
      input_files: { in_video: video.storage_url },
      metadata: { tier: 2, run: "x" },
    });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(["command_id"]);
    const c = await waitForCommand(api, r.json.command_id);
    expect(c).toMatchObject({
      status: "SUCCESS",
      command_type: "FFMPEG_COMMAND",
      metadata: { team: "a", tier: 2, run: "x" },
      original_request: { output_files: scale.output_file_definitions, ffmpeg_command: scale.ffmpeg_command },
    });
    expect(c.output_files.out_small).toMatchObject({ filename: "small.mp4", width: 160, codec: "h264" });
  }, 60_000);

  test("missing or extra input keys, too much merged metadata → 422; unknown or foreign preset 404; 401", async () => {
    const p = (await create(scale)).json;
    const missing = await execute(p.preset_id, { input_files: {} });
    expectError(missing, 422, "VALIDATION_ERROR");
    expect(missing.json.detail[0].loc).toEqual(["body", "input_files", "in_video"]);
    const extra = await execute(p.preset_id, {
      input_files: { in_video: video.storage_url, in_x: video.storage_url },
    });
    expectError(extra, 422, "VALIDATION_ERROR");
    expect(extra.json.detail.map((d: any) => d.loc)).toEqual([["body", "input_files", "in_x"]]);
    const renamed = await execute(p.preset_id, { input_files: { in_clip: video.storage_url } });
    expect(renamed.json.detail.map((d: any) => d.loc.at(-1))).toEqual(["in_video", "in_clip"]);
    const metadata = Object.fromEntries([...Array(9)].map((_, i) => [`m${i}`, i]));
    const many = await execute(p.preset_id, { input_files: { in_video: video.storage_url }, metadata });
    expectError(many, 422, "VALIDATION_ERROR");
    expect(many.json.detail[0].loc).toEqual(["body", "metadata"]);
    expectError(await execute(p.preset_id, { metadata: {} }), 422, "VALIDATION_ERROR");
    const body = { input_files: { in_video: video.storage_url } };
    expectError(await execute(p.preset_id, body, other), 404, "NOT_FOUND");
    expectError(await execute("prs_nope", body), 404, "NOT_FOUND");
    expect((await execute(p.preset_id, body, client(server.url))).status).toBe(401);
  });

  test("CHAINED_COMMAND and MULTIPLE_COMMAND presets run as such", async () => {
    const chain = await create({
      name: "chain",
      command_type: "CHAINED_COMMAND",
      input_file_keys: ["in_video"],
      output_file_definitions: { out_thumb: "thumb.png" },
      ffmpeg_commands: [
        "-i {{in_video}} -t 1 -vf scale=80:-2 mid.mp4",
        "-i mid.mp4 -frames:v 1 {{out_thumb}}",
      ],
    });
    const multi = await create({
      name: "multi",
      command_type: "MULTIPLE_COMMAND",
      input_file_keys: ["in_video", "in_audio"],
      output_file_definitions: { out_img: "frame.jpg", out_snd: "sound.mp3" },
      ffmpeg_commands: [
        "-i {{in_video}} -frames:v 1 {{out_img}}",
        "-i {{in_audio}} -c:a libmp3lame {{out_snd}}",
      ],
      metadata: { kind: "multi" },
    });
    const c1 = await execute(chain.json.preset_id, { input_files: { in_video: video.storage_url } });
    const cmd = await waitForCommand(api, c1.json.command_id);
    expect(cmd).toMatchObject({ status: "SUCCESS", command_type: "CHAINED_COMMAND" });
    expect(cmd.output_files.out_thumb).toMatchObject({ width: 80, file_format: "png" });
    const m = await execute(multi.json.preset_id, {
      input_files: { in_video: video.storage_url, in_audio: quiet.storage_url },
    });
    expect(m.status).toBe(200);
    expect(m.json.command_ids).toHaveLength(2);
    expect(m.json.command_id).toBe(m.json.command_ids[0]);
    const [img, snd] = await Promise.all(m.json.command_ids.map((id: string) => waitForCommand(api, id)));
    expect(img).toMatchObject({
      status: "SUCCESS",
      command_type: "MULTIPLE_COMMAND",
      metadata: { kind: "multi" },
    });
    expect(Object.keys(img.output_files)).toEqual(["out_img"]);
    expect(img.original_request.input_files).toEqual({ in_video: video.storage_url });
    expect(snd.output_files.out_snd).toMatchObject({ codec: "mp3", mime_type: "audio/mpeg" });
  }, 60_000);
});

describe("system presets on real media", () => {
  const runSystem = async (id: string, input: any, call = api) => {
    const p = (await call("GET", `/api/v1/presets/${id}`)).json;
    const r = await execute(id, { input_files: { [p.input_file_keys[0]]: input.storage_url } }, call);
    expect(r.status).toBe(200);
    const c = await waitForCommand(call, r.json.command_id);
    expect(c.status).toBe("SUCCESS");
    const [alias] = Object.keys(p.output_file_definitions);
    return c.output_files[alias as string];
  };

  test("H.264 MP4 from VP9/Opus WebM: h264 + aac, moov before mdat (faststart)", async () => {
    const out = await runSystem("prs_sys_h264_mp4", webm);
    expect(out).toMatchObject({ filename: "output.mp4", codec: "h264", mime_type: "video/mp4", width: 320 });
    const bytes = Buffer.from(await (await fetch(out.storage_url)).arrayBuffer());
    expect(bytes.indexOf("moov")).toBeLessThan(bytes.indexOf("mdat"));
    const probe = await runProcess({
      argv: [
        "ffprobe",
        "-v",
        "error",
        "-show_entries",
        "stream=codec_name",
        "-of",
        "csv=p=0",
        out.storage_url,
      ],
      timeoutMs: 10_000,
    });
    expect(probe.stdout.trim().split("\n")).toEqual(["h264", "aac"]);
  }, 60_000);

  test("720p: 1280x960 becomes 960x720; 320x240 is not upscaled", async () => {
    const [down, small] = await Promise.all([
      runSystem("prs_sys_720p_mp4", big),
      runSystem("prs_sys_720p_mp4", video, other),
    ]);
    expect(down).toMatchObject({ width: 960, height: 720, codec: "h264", file_format: "mp4" });
    expect(small).toMatchObject({ width: 320, height: 240 });
  }, 60_000);

  test("MP3 extraction, JPEG thumbnail at 1 s, 3 s GIF preview", async () => {
    const [mp3, jpg, gif] = await Promise.all([
      runSystem("prs_sys_extract_mp3", video),
      runSystem("prs_sys_thumbnail_jpg", video),
      runSystem("prs_sys_gif_preview", big),
    ]);
    expect(mp3).toMatchObject({ file_type: "audio", codec: "mp3", mime_type: "audio/mpeg", width: null });
    expect(mp3.duration).toBeCloseTo(2, 0);
    expect(jpg).toMatchObject({ file_type: "image", mime_type: "image/jpeg", width: 320, height: 240 });
    expect(gif).toMatchObject({ mime_type: "image/gif", codec: "gif", width: 320, height: 240 });
    // 3 s at 10 fps: the probe reports no duration for images, so count the frames.
    const frames = await runProcess({
      argv: [
        "ffprobe",
        "-v",
        "error",
        "-count_frames",
        "-show_entries",
        "stream=nb_read_frames",
        "-of",
        "csv=p=0",
      ].concat(gif.storage_url),
      timeoutMs: 10_000,
    });
    expect(Number(frames.stdout.trim())).toBe(30);
  }, 60_000);

  test("loudness normalisation: a -52 LUFS tone comes out at -16 LUFS as 48 kHz AAC", async () => {
    const out = await runSystem("prs_sys_loudnorm_aac", quiet);
    expect(out).toMatchObject({ file_type: "audio", codec: "aac", filename: "normalized.m4a" });
    expect(out.mime_type).toBe("audio/mp4");
    const { sample_rate } = (await api("GET", `/api/v1/files/${out.file_id}`)).json;
    expect(sample_rate).toBe(48000);
    const log = await ffmpeg(["-nostats", "-i", out.storage_url, "-af", "ebur128", "-f", "null", "-"]);
    const lufs = Number(/I:\s+(-?[\d.]+) LUFS\s*\n\s*Threshold/.exec(log)?.[1]);
    expect(lufs).toBeGreaterThan(-17.5);
    expect(lufs).toBeLessThan(-14.5);
  }, 60_000);
});
