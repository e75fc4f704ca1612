import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import {
  buildProbeArgv,
  claimsToBeMedia,
  hasMediaMagic,
  mapProbe,
  PROBE_FORMAT_WHITELIST,
  probeErrorMessage,
  probeFile,
} from "../../src/media/ffprobe";
import { runProcess } from "../../src/media/runner";
import { baseBwrapArgs, detectSandbox, type Sandbox, unsandboxed } from "../../src/media/sandbox";
import type { MediaInfo } from "../../src/media/types";
import { makeSamples, type Samples } from "../helpers/media";

let dir: string;
let samples: Samples;
let sandbox: Sandbox;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "renderio-probe-"));
  [samples, sandbox] = await Promise.all([makeSamples(dir), detectSandbox()]);
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
}, 120_000);

const NULLS: MediaInfo = {
  duration: null,
  file_type: "other",
  file_format: null,
  codec: null,
  pixel_format: null,
  mime_type: null,
  width: null,
  height: null,
  frame_rate: null,
  bitrate_video_kb: null,
  bitrate_audio_kb: null,
  sample_rate: null,
  channels: null,
};
const MP4_VIDEO = { file_type: "video", file_format: "mp4", codec: "h264", pixel_format: "yuv420p" } as const;
const MP4_REST = { mime_type: "video/mp4", duration: 2, frame_rate: 25, bitrate_video_kb: 50.416 } as const;
const MP4_AUDIO = { bitrate_audio_kb: 65.029, sample_rate: 44100, channels: 1 } as const;
const IMAGE = { file_type: "image", width: 64, height: 48 } as const;

/** Exact metadata of every sample (ffmpeg/ffprobe 5.1, Debian bookworm; encoders run single-threaded). */
const EXPECTED: Record<Exclude<keyof Samples, "truncatedMp4">, MediaInfo> = {
  mp4: { ...NULLS, ...MP4_VIDEO, ...MP4_REST, ...MP4_AUDIO, width: 320, height: 240 },
  rotatedMp4: { ...NULLS, ...MP4_VIDEO, ...MP4_REST, ...MP4_AUDIO, width: 240, height: 320 },
  mp3: { ...NULLS, file_type: "audio", file_format: "mp3", codec: "mp3", mime_type: "audio/mpeg" },
  wav: { ...NULLS, file_type: "audio", file_format: "wav", codec: "pcm_s16le", mime_type: "audio/wav" },
  m4a: { ...NULLS, file_type: "audio", file_format: "m4a", codec: "aac", mime_type: "audio/mp4" },
  webm: {
    ...NULLS,
    ...{ file_type: "video", file_format: "webm", codec: "vp9", pixel_format: "yuv420p" },
    ...{ mime_type: "video/webm", width: 320, height: 240, frame_rate: 25, duration: 1.008 },
    ...{ sample_rate: 48000, channels: 1 },
  },
  png: {
    ...NULLS,
    ...IMAGE,
    file_format: "png",
    codec: "png",
    pixel_format: "rgb24",
    mime_type: "image/png",
  },
  jpg: {
    ...NULLS,
    ...IMAGE,
    ...{ file_format: "jpeg", codec: "mjpeg", pixel_format: "yuvj420p", mime_type: "image/jpeg" },
  },
  gif: { ...NULLS, ...IMAGE, file_format: "gif", codec: "gif", pixel_format: "bgra", mime_type: "image/gif" },
  text: { ...NULLS, file_format: "txt", mime_type: "text/plain" },
};
Object.assign(EXPECTED.mp3, { duration: 1.044898, bitrate_audio_kb: 64, sample_rate: 44100, channels: 1 });
Object.assign(EXPECTED.wav, { duration: 1, bitrate_audio_kb: 705.6, sample_rate: 44100, channels: 1 });
Object.assign(EXPECTED.m4a, { duration: 1, bitrate_audio_kb: 66.003, sample_rate: 44100, channels: 1 });

const probe = (path: string, sb: Sandbox = sandbox, fileName = basename(path)) =>
  probeFile(path, { timeoutMs: 10_000, sandbox: sb, fileName });

describe("probeFile on real samples", () => {
  test("the bubblewrap sandbox is available on this machine", () => {
    expect(sandbox.reason).toBeUndefined();
    expect(sandbox.available).toBe(true);
  });

  for (const key of Object.keys(EXPECTED) as (keyof typeof EXPECTED)[]) {
    test(`${key}: exact metadata, sandboxed and unsandboxed`, async () => {
      const kind = key === "text" ? "other" : "media";
      const both = await Promise.all([probe(samples[key]), probe(samples[key], unsandboxed("test"))]);
      expect(both).toEqual([
        { kind, info: EXPECTED[key] },
        { kind, info: EXPECTED[key] },
      ]);
    });
  }

  test("an mp3 with real cover art (attached picture) stays audio", async () => {
    const path = join(dir, "cover.mp3");
    const mux = ["-i", samples.mp3, "-i", samples.jpg, "-map", "0", "-map", "1", "-c", "copy"];
    const argv = [
      "ffmpeg",
      "-v",
      "error",
      ...mux,
      "-disposition:v",
      "attached_pic",
      "-id3v2_version",
      "3",
      path,
    ];
    expect((await runProcess({ argv, timeoutMs: 10_000 })).exitCode).toBe(0);
    expect(await probe(path)).toEqual({ kind: "media", info: EXPECTED.mp3 });
  });

  test("truncated mp4 fails with a short message naming the file, not the server path", async () => {
    const out = await probe(samples.truncatedMp4);
    expect(out).toEqual({
      kind: "failed",
      message:
        "[mov,mp4,m4a,3gp,3g2,mj2] moov atom not found; truncated.mp4: Invalid data found when processing input",
    });
    if (out.kind === "failed") expect(out.message).not.toContain(dir);
    const renamed = await probeFile(samples.truncatedMp4, {
      timeoutMs: 10_000,
      sandbox,
      fileName: "My clip.mp4",
    });
    expect(renamed.kind === "failed" && renamed.message).toEndWith(
      "My clip.mp4: Invalid data found when processing input",
    );
  });

  test("empty file: failed with a media extension, other without one", async () => {
    await writeFile(join(dir, "empty.mp4"), "");
    await writeFile(join(dir, "empty"), "");
    expect((await probe(join(dir, "empty.mp4"))).kind).toBe("failed");
    expect(await probe(join(dir, "empty"))).toEqual({
      kind: "other",
      info: { ...NULLS, mime_type: "application/octet-stream" },
    });
  });

  test("a plain text file named .srt is other (ffprobe's tty demuxer is not whitelisted)", async () => {
    await writeFile(join(dir, "subs.srt"), "1\n00:00:00,000 --> 00:00:01,000\nHello\n");
    expect(await probe(join(dir, "subs.srt"))).toEqual({
      kind: "other",
      info: { ...NULLS, file_format: "srt", mime_type: "application/x-subrip" },
    });
  });

  test("a timeout is failed with 'ffprobe timed out'", async () => {
    const out = await probeFile(samples.mp4, { timeoutMs: 1, sandbox, fileName: "sample.mp4" });
    expect(out).toEqual({ kind: "failed", message: "ffprobe timed out" });
  });
});

describe("ffprobe never follows references to other files", () => {
  // Relative names are what both demuxers accept by default (concat's safe mode refuses absolute ones).
  const hls = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsample.mp4\n#EXT-X-ENDLIST\n";
  const ffconcat = "ffconcat version 1.0\nfile 'sample.mp4'\n";

  for (const [name, body, demuxer] of [
    ["playlist.mp4", hls, "hls"],
    ["list.mp4", ffconcat, "concat"],
  ] as const) {
    test(`${demuxer} list renamed ${name} → failed, referenced mp4 not read`, async () => {
      const path = join(dir, name);
      await writeFile(path, body);
      // Control: without our whitelist ffprobe really does open the referenced sample.
      const raw = await runProcess({
        argv: ["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", path],
        timeoutMs: 10_000,
      });
      expect(raw.exitCode).toBe(0);
      expect(raw.stdout).toContain('"codec_name": "h264"');
      for (const sb of [sandbox, unsandboxed("test")]) {
        const out = await probe(path, sb);
        expect(out).toEqual({
          kind: "failed",
          message: `[${demuxer}] Format not on whitelist; ${name}: Invalid argument`,
        });
      }
    });
  }

  test("a text file named .png is not read through image2", async () => {
    await writeFile(join(dir, "fake.png"), "not a picture");
    expect(await probe(join(dir, "fake.png"))).toEqual({
      kind: "failed",
      message: "[image2] Format not on whitelist; fake.png: Invalid argument",
    });
  });

  test("every whitelisted name is a demuxer of this ffprobe", async () => {
    const r = await runProcess({ argv: ["ffprobe", "-hide_banner", "-demuxers"], timeoutMs: 10_000 });
    const known = new Set(
      r.stdout
        .split("\n")
        .map((l) => /^ D\S* +(\S+)/.exec(l)?.[1])
        .flatMap((n) => (n === undefined ? [] : n.split(","))),
    );
    expect(known.size).toBeGreaterThan(100);
    expect(PROBE_FORMAT_WHITELIST.split(",").filter((n) => !known.has(n))).toEqual([]);
  });

  test("whitelist excludes every demuxer that opens other files or is not media", () => {
    const names = PROBE_FORMAT_WHITELIST.split(",");
    for (const bad of ["hls", "dash", "concat", "ffconcat", "image2", "image2pipe", "lavfi", "tty", "data"]) {
      expect(names).not.toContain(bad);
    }
    for (const bad of [
      "imf",
      "webm_dash_manifest",
      "rtsp",
      "rtp",
      "sdp",
      "alsa",
      "v4l2",
      "x11grab",
      "fbdev",
    ]) {
      expect(names).not.toContain(bad);
    }
    expect(buildProbeArgv("/x/a.mp4")).toEqual([
      ...[
        "ffprobe",
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        PROBE_FORMAT_WHITELIST,
      ],
      ...["-print_format", "json", "-show_format", "-show_streams", "/x/a.mp4"],
    ]);
  });
});

describe("claims to be media", () => {
  const head = (...bytes: (number | string)[]): Uint8Array =>
    new Uint8Array(bytes.flatMap((b) => (typeof b === "string" ? [...b].map((c) => c.charCodeAt(0)) : [b])));

  test("magic bytes", () => {
    expect(hasMediaMagic(head(0, 0, 0, 0x20, "ftypisom"))).toBe(true);
    expect(hasMediaMagic(head("ID3", 4, 0))).toBe(true);
    expect(hasMediaMagic(head("RIFF", 0, 0, 0, 0, "WAVE"))).toBe(true);
    expect(hasMediaMagic(head("RIFF", 0, 0, 0, 0, "AVI "))).toBe(true);
    expect(hasMediaMagic(head("OggS"))).toBe(true);
    expect(hasMediaMagic(head("fLaC"))).toBe(true);
    expect(hasMediaMagic(head(0x89, "PNG", 0x0d, 0x0a, 0x1a, 0x0a))).toBe(true);
    expect(hasMediaMagic(head(0xff, 0xd8, 0xff, 0xe0))).toBe(true);
    expect(hasMediaMagic(head("GIF89a"))).toBe(true);
    expect(hasMediaMagic(head(0x1a, 0x45, 0xdf, 0xa3))).toBe(true);
    expect(hasMediaMagic(head(0xff, 0xfb, 0x90))).toBe(true);
    expect(hasMediaMagic(head(0xff, 0xf1, 0x50))).toBe(true);
    const ts = new Uint8Array(189);
    ts[0] = 0x47;
    ts[188] = 0x47;
    expect(hasMediaMagic(ts)).toBe(true);
    expect(hasMediaMagic(head("RIFF", 0, 0, 0, 0, "XXXX"))).toBe(false);
    expect(hasMediaMagic(head(0xff, 0xfe, "h", 0))).toBe(false); // UTF-16LE BOM
    expect(hasMediaMagic(head("hello"))).toBe(false);
    expect(hasMediaMagic(new Uint8Array(0))).toBe(false);
  });

  test("by extension or content", async () => {
    expect(await claimsToBeMedia(samples.text, "notes.txt")).toBe(false);
    expect(await claimsToBeMedia(samples.text, "notes.MOV")).toBe(true);
    expect(await claimsToBeMedia(samples.mp4, "upload.bin")).toBe(true);
  });

  test("error messages lose server paths and memory addresses", () => {
    const tail =
      "[hls @ 0x55d0c0ffee00] Opening '/srv/data/other.ts' for reading\n/srv/jobs/1/in.mp4: Invalid argument\n";
    expect(probeErrorMessage(tail, ["/srv/jobs/1/in.mp4"], "in.mp4")).toBe(
      "[hls] Opening '<path>' for reading; in.mp4: Invalid argument",
    );
    expect(probeErrorMessage("", [], "x.mp4")).toBe("ffprobe could not read the file");
    expect(probeErrorMessage("e".repeat(1000), [], "x").length).toBe(300);
  });
});

describe("mapProbe (pure)", () => {
  const vid = (extra: Record<string, unknown> = {}) => ({
    codec_type: "video",
    codec_name: "h264",
    pix_fmt: "yuv420p",
    width: 1920,
    height: 1080,
    avg_frame_rate: "30000/1001",
    bit_rate: "2500000",
    disposition: { attached_pic: 0 },
    ...extra,
  });
  const aud = (extra: Record<string, unknown> = {}) => ({
    codec_type: "audio",
    codec_name: "aac",
    sample_rate: "48000",
    channels: 2,
    bit_rate: "128000",
    ...extra,
  });
  const mov = (streams: unknown[], brand = "isom") => ({
    format: { format_name: "mov,mp4,m4a,3gp,3g2,mj2", duration: "10.5", tags: { major_brand: brand } },
    streams,
  });
  const mkv = (streams: unknown[]) => ({ format: { format_name: "matroska,webm", duration: "3" }, streams });
  const map = (json: unknown, fileName: string) => mapProbe(json, { fileName });

  test("H.264 + AAC mp4 at 29.97 fps: every field", () => {
    expect(map(mov([vid(), aud()]), "a.mp4")).toEqual({
      ...{ duration: 10.5, file_type: "video", file_format: "mp4", codec: "h264", pixel_format: "yuv420p" },
      ...{ mime_type: "video/mp4", width: 1920, height: 1080, frame_rate: 29.97, bitrate_video_kb: 2500 },
      ...{ bitrate_audio_kb: 128, sample_rate: 48000, channels: 2 },
    });
  });

  test("rotation ±90/270 swaps width and height; 180 does not", () => {
    const dims = (s: Record<string, unknown>) => {
      const i = map(mov([vid(s)]), "r.mp4");
      return [i.width, i.height];
    };
    expect(dims({ side_data_list: [{ side_data_type: "Display Matrix", rotation: -90 }] })).toEqual([
      1080, 1920,
    ]);
    expect(dims({ side_data_list: [{ side_data_type: "Display Matrix", rotation: 90 }] })).toEqual([
      1080, 1920,
    ]);
    expect(dims({ tags: { rotate: "270" } })).toEqual([1080, 1920]);
    expect(dims({ side_data_list: [{ rotation: 180 }] })).toEqual([1920, 1080]);
    expect(dims({})).toEqual([1920, 1080]);
  });

  test("mov family: extension wins, else QuickTime brand → mov, else mp4", () => {
    const f = (brand: string, name: string) => map(mov([vid(), aud()], brand), name);
    expect([f("qt  ", "clip").file_format, f("qt  ", "clip").mime_type]).toEqual(["mov", "video/quicktime"]);
    expect(f("qt  ", "clip.mp4").file_format).toBe("mp4");
    expect(f("isom", "clip.MOV").file_format).toBe("mov");
    expect(f("isom", "clip.m4v").file_format).toBe("mp4");
    expect([f("3gp4", "c.3gp").file_format, f("3gp4", "c.3gp").mime_type]).toEqual(["3gp", "video/3gpp"]);
    const audioOnly = map(mov([aud()]), "song.mp4");
    expect([audioOnly.file_type, audioOnly.file_format, audioOnly.mime_type]).toEqual([
      "audio",
      "mp4",
      "audio/mp4",
    ]);
    expect(map(mov([aud()], "M4A "), "x.m4a").mime_type).toBe("audio/mp4");
  });

  test("matroska: webm by extension or WebM codecs, else mkv", () => {
    const vp9 = vid({ codec_name: "vp9" });
    const opus = aud({ codec_name: "opus" });
    const fmt = (json: unknown, name: string) => [map(json, name).file_format, map(json, name).mime_type];
    expect(fmt(mkv([vp9, opus]), "upload")).toEqual(["webm", "video/webm"]);
    expect(fmt(mkv([vid(), aud()]), "x.webm")).toEqual(["webm", "video/webm"]);
    expect(fmt(mkv([vid(), aud()]), "upload")).toEqual(["mkv", "video/x-matroska"]);
    expect(fmt(mkv([vp9, opus]), "x.mkv")).toEqual(["mkv", "video/x-matroska"]);
    expect(fmt(mkv([aud({ codec_name: "vorbis" })]), "a")).toEqual(["webm", "audio/webm"]);
  });

  test("cover art in an mp3 does not make it video", () => {
    const json = {
      format: { format_name: "mp3", duration: "180.5", bit_rate: "320000" },
      streams: [
        aud({ codec_name: "mp3", sample_rate: "44100", bit_rate: "320000" }),
        vid({
          codec_name: "mjpeg",
          pix_fmt: "yuvj420p",
          width: 500,
          height: 500,
          disposition: { attached_pic: 1 },
        }),
      ],
    };
    expect(map(json, "song.mp3")).toEqual({
      ...NULLS,
      ...{ duration: 180.5, file_type: "audio", file_format: "mp3", codec: "mp3", mime_type: "audio/mpeg" },
      ...{ bitrate_audio_kb: 320, sample_rate: 44100, channels: 2 },
    });
  });

  test("N/A and 0/0 become null, never invented", () => {
    const json = {
      format: { format_name: "matroska,webm", duration: "N/A", bit_rate: "N/A" },
      streams: [
        vid({ avg_frame_rate: "0/0", bit_rate: "N/A" }),
        aud({ bit_rate: undefined, sample_rate: "N/A" }),
      ],
    };
    const i = map(json, "x.mkv");
    expect([i.duration, i.frame_rate, i.bitrate_video_kb, i.bitrate_audio_kb, i.sample_rate]).toEqual([
      null,
      null,
      null,
      null,
      null,
    ]);
    expect(i.file_type).toBe("video");
  });

  test("image demuxers lose _pipe; images have no duration or frame rate", () => {
    const img = (format_name: string, codec_name: string) => ({
      format: { format_name, duration: "0.04" },
      streams: [vid({ codec_name, pix_fmt: "rgb24", width: 10, height: 20, avg_frame_rate: "25/1" })],
    });
    const png = map(img("png_pipe", "png"), "p.png");
    expect(png).toEqual({
      ...NULLS,
      ...{
        file_type: "image",
        file_format: "png",
        codec: "png",
        pixel_format: "rgb24",
        mime_type: "image/png",
      },
      ...{ width: 10, height: 20 },
    });
    expect([
      map(img("jpeg_pipe", "mjpeg"), "j.jpg").file_format,
      map(img("jpeg_pipe", "mjpeg"), "j").mime_type,
    ]).toEqual(["jpeg", "image/jpeg"]);
    expect(map(img("webp_pipe", "webp"), "w").mime_type).toBe("image/webp");
    expect(map(img("gif", "gif"), "anim.gif").file_type).toBe("image");
  });

  test("a lone single-frame image codec is an image; with audio or many frames it is video", () => {
    const still = vid({ codec_name: "png", nb_frames: "1" });
    expect(map(mov([still]), "s.mov").file_type).toBe("image");
    expect(map(mov([still, aud()]), "s.mov").file_type).toBe("video");
    expect(map(mov([vid({ codec_name: "mjpeg", nb_frames: "250" })]), "m.mov").file_type).toBe("video");
  });

  test("garbage or stream-less JSON is other with nulls", () => {
    expect(map(null, "x")).toEqual(NULLS);
    expect(map({ streams: "nope", format: 3 }, "x.mp4")).toEqual(NULLS);
    expect(map({ format: { format_name: "mp3" }, streams: [{ codec_type: "data" }] }, "x.mp3")).toEqual({
      ...NULLS,
      file_format: "mp3",
    });
  });
});

describe("runner", () => {
  test("timeout SIGKILLs quickly", async () => {
    const t0 = performance.now();
    const r = await runProcess({ argv: ["/usr/bin/sleep", "5"], timeoutMs: 200 });
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(r).toMatchObject({ timedOut: true, aborted: false, exitCode: null, signalCode: "SIGKILL" });
  });

  test("timeout kills the whole process group (a grandchild cannot keep the pipes open)", async () => {
    const t0 = performance.now();
    const r = await runProcess({
      argv: ["/bin/sh", "-c", "/usr/bin/sleep 30 & /usr/bin/sleep 30"],
      timeoutMs: 200,
    });
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(r.timedOut).toBe(true);
    const left = await runProcess({ argv: ["/usr/bin/pgrep", "-f", "^/usr/bin/sleep 30$"], timeoutMs: 2000 });
    expect(left.stdout).toBe("");
  });

  test("abort signal kills", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await runProcess({ argv: ["/usr/bin/sleep", "5"], timeoutMs: 5000, signal: ac.signal });
    expect(r).toMatchObject({ aborted: true, timedOut: false, exitCode: null });
  });

  test("stderr keeps only its tail; stdout is capped but drained", async () => {
    const script = "i=0; while [ $i -lt 3000 ]; do echo line$i >&2; i=$((i+1)); done; echo END >&2";
    const r = await runProcess({ argv: ["/bin/sh", "-c", script], timeoutMs: 5000, stderrTailBytes: 64 });
    expect(r.stderrTail.length).toBe(64);
    expect(r.stderrTail).toEndWith("line2998\nline2999\nEND\n");
    const big = await runProcess({
      argv: ["/usr/bin/head", "-c", "1000000", "/dev/zero"],
      timeoutMs: 5000,
      maxStdoutBytes: 1000,
    });
    expect([big.exitCode, big.stdout.length, big.stdoutTruncated]).toEqual([0, 1000, true]);
    const small = await runProcess({ argv: ["/usr/bin/echo", "hi"], timeoutMs: 5000 });
    expect([small.exitCode, small.stdout, small.stdoutTruncated, small.stderrTail]).toEqual([
      0,
      "hi\n",
      false,
      "",
    ]);
  });

  test("the child's environment is empty by default", async () => {
    expect(process.env.PATH).toBeDefined();
    const r = await runProcess({ argv: ["/usr/bin/env"], timeoutMs: 5000 });
    expect([r.exitCode, r.stdout]).toEqual([0, ""]);
    const given = await runProcess({ argv: ["/usr/bin/env"], timeoutMs: 5000, env: { A: "1" } });
    expect(given.stdout).toBe("A=1\n");
  });
});

describe("sandbox", () => {
  const inside = (argv: string[], readOnly: string[] = []) =>
    runProcess({ argv: sandbox.wrap(argv, { readOnly, writable: [] }), timeoutMs: 5000 });

  test("wrap builds the documented bwrap argv; unavailable wrap is the identity", () => {
    const argv = sandbox.wrap(["ffprobe", "/d/a.mp4"], {
      readOnly: ["/d/a.mp4"],
      writable: ["/w"],
      chdir: "/w",
    });
    expect(argv).toEqual([
      ...["/usr/bin/bwrap", "--unshare-all", "--die-with-parent", "--clearenv"],
      ...["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc/alternatives", "/etc/alternatives"],
      ...["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"],
      ...["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin"],
      ...["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"],
      ...[
        "--ro-bind",
        "/d/a.mp4",
        "/d/a.mp4",
        "--bind",
        "/w",
        "/w",
        "--chdir",
        "/w",
        "--",
        "ffprobe",
        "/d/a.mp4",
      ],
    ]);
    // Only existing paths are bound or linked (e.g. no /usr/lib64 on some distributions).
    const base = baseBwrapArgs((p) => p !== "/usr/lib64" && p !== "/etc/alternatives");
    expect(base.join(" ")).not.toContain("lib64");
    expect(base.join(" ")).not.toContain("alternatives");
    expect(base.join(" ")).toContain("--symlink usr/lib /lib");
    expect(unsandboxed("x").wrap(["a", "b"], { readOnly: ["/"], writable: [] })).toEqual(["a", "b"]);
  });

  test("/etc/passwd and unbound files are invisible", async () => {
    expect((await inside(["/usr/bin/cat", "/etc/passwd"])).exitCode).not.toBe(0);
    expect((await inside(["/usr/bin/cat", samples.text])).exitCode).not.toBe(0);
    const ok = await inside(["/usr/bin/cat", samples.text], [samples.text]);
    expect([ok.exitCode, ok.stdout]).toEqual([0, "Meeting notes\nNothing to see here.\n"]);
    expect((await inside(["/usr/bin/env"])).stdout).not.toContain("PATH=");
  });

  test("no network, not even the host's loopback", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hi") });
    try {
      const probeTcp = ["/usr/bin/bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${server.port}`];
      expect((await runProcess({ argv: probeTcp, timeoutMs: 5000 })).exitCode).toBe(0);
      const r = await inside(probeTcp);
      expect(r.exitCode).not.toBe(0);
      expect(r.timedOut).toBe(false);
    } finally {
      server.stop(true);
    }
  });
});
