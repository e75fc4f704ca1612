/**
 * The command layer against real ffmpeg 5.1: realistic user commands are planned, their argv is run,
 * and every output is checked with ffprobe. The input policy and path escaping are proved in
 * ffmpeg-policy.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AliasDecl, type PathMap, planChain, planCommand } from "../../src/media/ffmpeg/index";
import { runProcess } from "../../src/media/runner";

/** Any TrueType font of the system (Debian: fonts-dejavu-core or fonts-liberation). */
async function systemFont(): Promise<string> {
  for await (const f of new Bun.Glob("**/*.ttf").scan({ cwd: "/usr/share/fonts", absolute: true })) return f;
  throw new Error("no .ttf under /usr/share/fonts: apt-get install fonts-dejavu-core");
}
const GLOBALS = ["-nostdin", "-hide_banner", "-y", "-threads", "1"];
const SRT = "1\n00:00:00,000 --> 00:00:01,000\nHello, subtitles\n";

let root: string;
let job: string;
let paths: PathMap;
/** stderr of the last runCommand. */
let stderr = "";

async function run(argv: string[], cwd = job) {
  return runProcess({ argv, timeoutMs: 30_000, cwd, stderrTailBytes: 64 * 1024 });
}

/** Runs argv, fails on a non-zero exit, returns stderr. */
async function ok(argv: string[], cwd = job): Promise<string> {
  const res = await run(argv, cwd);
  if (res.exitCode !== 0) throw new Error(`${argv.join(" ")}\n${res.stderrTail}`);
  return res.stderrTail;
}
/** drawtext falls back to fontconfig (and says `Using "<font>"`) when its fontfile cannot be loaded. */
const FONT_FALLBACK = 'Using "';

interface Probed {
  format: string;
  duration: number;
  streams: { codec_type: string; codec_name: string; width?: number; height?: number }[];
}

async function probe(path: string): Promise<Probed> {
  const res = await run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", path]);
  expect(res.exitCode).toBe(0);
  const json = JSON.parse(res.stdout);
  return {
    format: json.format.format_name,
    duration: Number(json.format.duration),
    streams: json.streams.map((s: any) => ({
      codec_type: s.codec_type,
      codec_name: s.codec_name,
      width: s.width,
      height: s.height,
    })),
  };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "renderio-ffmpeg-"));
  job = join(root, "job");
  await mkdir(join(job, "out"), { recursive: true });
  const lavfi = (graph: string) => ["-f", "lavfi", "-i", graph];
  const make = (...args: string[]) => ok(["ffmpeg", "-v", "error", "-y", ...args]);
  const av = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-t", "1"];
  await Promise.all([
    make(...lavfi("testsrc=d=1:s=160x120:r=25"), ...lavfi("sine=d=1"), ...av, "in_video.mp4"),
    make(...lavfi("testsrc2=d=1:s=160x120:r=25"), ...lavfi("sine=d=1:f=880"), ...av, "in_video2.mp4"),
    make(...lavfi("color=c=red:s=32x24"), "-frames:v", "1", "in_logo.png"),
    writeFile(join(job, "in_subs.srt"), SRT),
    copyFile(await systemFont(), join(job, "in_font.ttf")),
  ]);
  paths = {
    in_video: join(job, "in_video.mp4"),
    in_video2: join(job, "in_video2.mp4"),
    in_logo: join(job, "in_logo.png"),
    in_subs: join(job, "in_subs.srt"),
    in_font: join(job, "in_font.ttf"),
  };
}, 120_000);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
}, 120_000);

/** Declares the aliases a command uses, gives each output a path under job/out, runs it, probes outputs. */
async function runCommand(command: string, inputs: string[], outputs: Record<string, string>) {
  const decl: AliasDecl = { inputs, outputs: Object.keys(outputs) };
  const out: PathMap = {};
  for (const [alias, name] of Object.entries(outputs)) out[alias] = join(job, "out", name);
  stderr = await ok(planCommand(command, decl).argv({ ...paths, ...out }, GLOBALS));
  return Object.fromEntries(
    await Promise.all(Object.entries(out).map(async ([a, p]) => [a, await probe(p)])),
  );
}

const video = (p: Probed) => p.streams.find((s) => s.codec_type === "video");
const audio = (p: Probed) => p.streams.find((s) => s.codec_type === "audio");

describe("realistic commands run with real ffmpeg", () => {
  test("transcode to mp4", async () => {
    const r = await runCommand(
      "ffmpeg -i {{in_video}} -c:v libx264 -preset veryfast -crf 28 -c:a aac -b:a 64k -movflags +faststart {{out_video}}",
      ["in_video"],
      { out_video: "transcoded.mp4" },
    );
    expect(r.out_video.format).toContain("mp4");
    expect(video(r.out_video)).toMatchObject({ codec_name: "h264", width: 160, height: 120 });
    expect(audio(r.out_video)?.codec_name).toBe("aac");
  });

  test("thumbnail jpg", async () => {
    const r = await runCommand("-ss 0.5 -i <<in_video>> -frames:v 1 -q:v 2 <<out_thumb>>", ["in_video"], {
      out_thumb: "thumb.jpg",
    });
    expect(video(r.out_thumb)).toMatchObject({ codec_name: "mjpeg", width: 160, height: 120 });
  });

  test("mp3 extraction", async () => {
    const r = await runCommand("-i {{ in_video }} -vn -c:a libmp3lame -q:a 2 {{ out_audio }}", ["in_video"], {
      out_audio: "audio.mp3",
    });
    expect(r.out_audio.format).toBe("mp3");
    expect(r.out_audio.streams).toHaveLength(1);
  });

  test("scale + pad", async () => {
    const r = await runCommand(
      `-i {{in_video}} -vf "scale=320:180:force_original_aspect_ratio=decrease,pad=320:180:(ow-iw)/2:(oh-ih)/2,setsar=1" -c:a copy {{out_video}}`,
      ["in_video"],
      { out_video: "padded.mp4" },
    );
    expect(video(r.out_video)).toMatchObject({ width: 320, height: 180 });
  });

  test("gif with palettegen/paletteuse in one filter_complex", async () => {
    const r = await runCommand(
      `-i {{in_video}} -filter_complex "[0:v]fps=10,scale=80:-1:flags=lanczos,split[a][b];[a]palettegen[p];[b][p]paletteuse=dither=bayer:bayer_scale=3" -loop 0 {{out_gif}}`,
      ["in_video"],
      { out_gif: "anim.gif" },
    );
    expect(video(r.out_gif)).toMatchObject({ codec_name: "gif", width: 80, height: 60 });
  });

  test("subtitles burn-in from an .srt input placeholder", async () => {
    const r = await runCommand(
      "-i {{in_video}} -vf subtitles={{in_subs}}:force_style='Fontsize=18' -c:a copy {{out_video}}",
      ["in_video", "in_subs"],
      { out_video: "subbed.mp4" },
    );
    expect(video(r.out_video)).toMatchObject({ width: 160, height: 120 });
  });

  test("drawtext with a fontfile placeholder (text with comma and colon)", async () => {
    const r = await runCommand(
      `-i {{in_video}} -vf "drawtext=fontfile={{in_font}}:text='Hello, world\\: 1':fontsize=20:fontcolor=white:x=5:y=5" -an {{out_video}}`,
      ["in_video", "in_font"],
      { out_video: "text.mp4" },
    );
    expect(video(r.out_video)?.codec_name).toBe("h264");
    expect(stderr).not.toContain(FONT_FALLBACK);
  });

  test("overlay of two inputs", async () => {
    const r = await runCommand(
      `-i {{in_video}} -i {{in_logo}} -filter_complex "[0:v][1:v]overlay=W-w-5:H-h-5[v]" -map "[v]" -map 0:a? -c:a copy {{out_video}}`,
      ["in_video", "in_logo"],
      { out_video: "overlay.mp4" },
    );
    expect(video(r.out_video)).toMatchObject({ width: 160, height: 120 });
    expect(audio(r.out_video)?.codec_name).toBe("aac");
  });

  test("concat filter of two inputs", async () => {
    const r = await runCommand(
      `-i {{in_video}} -i {{in_video2}} -filter_complex "[0:v][0:a][1:v][1:a]concat=n=2:v=1:a=1[v][a]" -map "[v]" -map "[a]" {{out_video}}`,
      ["in_video", "in_video2"],
      { out_video: "joined.mp4" },
    );
    expect(r.out_video.duration).toBeGreaterThan(1.9);
  });

  test("audio filters: pan, atempo, volume, afade, loudnorm to wav", async () => {
    const r = await runCommand(
      `-i {{in_video}} -vn -af "pan=mono|c0=c0,atempo=1.25,volume=0.8,afade=t=in:d=0.2,loudnorm=I=-16" -ar 44100 {{out_audio}}`,
      ["in_video"],
      { out_audio: "audio.wav" },
    );
    expect(r.out_audio.format).toBe("wav");
  });

  test("a 2-step chain through an intermediate file, then an output read by a later step", async () => {
    const decl = { inputs: ["in_video"], outputs: ["out_video", "out_thumb"] };
    const steps = planChain(
      [
        "ffmpeg -i {{in_video}} -t 0.6 -c:v libx264 -an intermediate.mp4",
        "ffmpeg -i intermediate.mp4 -vf hflip {{out_video}}",
        "ffmpeg -i {{out_video}} -frames:v 1 {{out_thumb}}",
      ],
      decl,
    );
    const all = {
      ...paths,
      out_video: join(job, "out", "chain.mp4"),
      out_thumb: join(job, "out", "chain.png"),
    };
    for (const step of steps) await ok(step.argv(all, GLOBALS));
    const v = await probe(all.out_video);
    expect(v.duration).toBeLessThan(0.9);
    expect(video(await probe(all.out_thumb))?.codec_name).toBe("png");
  });
});
