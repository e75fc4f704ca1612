/**
 * The input policy and filtergraph path escaping, proved with real ffmpeg 5.1: an HLS playlist or an
 * ffconcat list saved under a media name is refused by ffmpeg itself under our policy (and opens other
 * files without it); `-enable_drefs` cannot be part of the policy; paths containing quote, colon,
 * comma, brackets, semicolon, equals and spaces reach the subtitles and drawtext filters intact.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { emitGraph, parseGraph } from "../../src/media/ffmpeg/filtergraph";
import { inputPolicy, planCommand, SUBTITLE_DEMUXER_WHITELIST } from "../../src/media/ffmpeg/index";
import { runProcess } from "../../src/media/runner";

/** Any TrueType font of the system (Debian: fonts-dejavu-core or fonts-liberation). */
async function systemFont(): Promise<string> {
  for await (const f of new Bun.Glob("**/*.ttf").scan({ cwd: "/usr/share/fonts", absolute: true })) return f;
  throw new Error("no .ttf under /usr/share/fonts: apt-get install fonts-dejavu-core");
}
const GLOBALS = ["-nostdin", "-hide_banner", "-y", "-threads", "1"];
const SRT = "1\n00:00:00,000 --> 00:00:01,000\nHello, subtitles\n";
/** drawtext falls back to fontconfig (and says `Using "<font>"`) when its fontfile cannot be loaded. */
const FONT_FALLBACK = 'Using "';

let root: string;
let job: string;
let paths: { in_video: string; in_subs: string };

const run = (argv: string[]) => runProcess({ argv, timeoutMs: 30_000, cwd: job, stderrTailBytes: 64 * 1024 });

/** Runs argv, fails on a non-zero exit, returns stderr. */
async function ok(argv: string[]): Promise<string> {
  const res = await run(argv);
  if (res.exitCode !== 0) throw new Error(`${argv.join(" ")}\n${res.stderrTail}`);
  return res.stderrTail;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "renderio-ffpolicy-"));
  job = join(root, "job");
  await mkdir(join(job, "out"), { recursive: true });
  paths = { in_video: join(job, "in_video.mp4"), in_subs: join(job, "in_subs.srt") };
  await Promise.all([
    ok(
      ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=d=1:s=160x120:r=25"].concat([
        "-f",
        "lavfi",
        "-i",
        "sine=d=1",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        paths.in_video,
      ]),
    ),
    writeFile(paths.in_subs, SRT),
  ]);
}, 120_000);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
}, 120_000);

describe("input policy, proved with real ffmpeg", () => {
  const attempt = async (name: string, content: string) => {
    const file = join(job, name);
    await writeFile(file, content);
    const step = planCommand("-i {{in_x}} -c copy {{out_x}}", { inputs: ["in_x"], outputs: ["out_x"] });
    const withPolicy = await run(step.argv({ in_x: file, out_x: join(job, "out", `p-${name}`) }, GLOBALS));
    const without = await run([
      "ffmpeg",
      ...GLOBALS,
      "-i",
      file,
      "-c",
      "copy",
      join(job, "out", `np-${name}`),
    ]);
    return { withPolicy, without };
  };

  test("an HLS playlist saved as x.mp4 is refused (and would otherwise read another file)", async () => {
    const r = await attempt(
      "hls.mp4",
      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\nin_video.mp4\n#EXT-X-ENDLIST\n",
    );
    expect(r.without.exitCode).toBe(0);
    expect(r.withPolicy.exitCode).not.toBe(0);
    expect(r.withPolicy.stderrTail).toContain("Format not on whitelist");
  });

  test("an ffconcat list saved as x.mp4 is refused (and would otherwise read another file)", async () => {
    const r = await attempt("list.mp4", "ffconcat version 1.0\nfile in_video.mp4\n");
    expect(r.without.exitCode).toBe(0);
    expect(r.withPolicy.exitCode).not.toBe(0);
    expect(r.withPolicy.stderrTail).toContain("Format not on whitelist");
  });

  test("-enable_drefs 0 would break every non-mov input, so the policy leaves it out", async () => {
    const wav = join(job, "out", "a.wav");
    await ok(["ffmpeg", ...GLOBALS, "-i", paths.in_video, "-vn", wav]);
    const res = await run(["ffmpeg", ...GLOBALS, "-enable_drefs", "0", "-i", wav, "-f", "null", "-"]);
    expect(res.exitCode).not.toBe(0);
    expect(res.stderrTail).toContain("Option enable_drefs not found");
    expect(inputPolicy()).not.toContain("-enable_drefs");
    const help = await run(["ffmpeg", "-hide_banner", "-h", "demuxer=mov"]);
    expect(help.stdout).toMatch(/-enable_drefs\s+<boolean>.*\(default false\)/);
  });

  test("a 'subtitle' that is an HLS playlist fails the recommended subtitle probe; a real .srt passes", async () => {
    await writeFile(join(job, "evil.srt"), "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\nin_video.mp4\n");
    const check = (f: string) =>
      run([
        "ffprobe",
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        SUBTITLE_DEMUXER_WHITELIST,
        f,
      ]);
    expect((await check(join(job, "evil.srt"))).exitCode).not.toBe(0);
    expect((await check(paths.in_subs)).exitCode).toBe(0);
  });
});

describe("filtergraph escaping of file paths", () => {
  test("paths with ' : , [ ] ; = and spaces reach subtitles and drawtext files intact", async () => {
    const weird = join(root, "we'ird: dir, [x]; a=b");
    await mkdir(weird, { recursive: true });
    const subs = join(weird, "sub's: 1.srt");
    const font = join(weird, "font, [1].ttf");
    const words = join(weird, "text=1 'x'.txt");
    await Promise.all([
      writeFile(subs, SRT),
      copyFile(await systemFont(), font),
      writeFile(words, "a:b, [c]"),
    ]);
    const resolve = { in_subs: subs, in_font: font, in_text: words } as Record<string, string>;
    const graph = parseGraph("subtitles={{in_subs}},drawtext=fontfile={{in_font}}:textfile={{in_text}}");
    const text = emitGraph(graph, (_n, arg) => resolve[arg.value.slice(2, -2)] ?? arg.value);
    const out = join(job, "out", "escaped.mp4");
    // subtitles and textfile fail when their file cannot be opened; a bad fontfile only logs a fallback.
    const log = await ok(["ffmpeg", ...GLOBALS, "-i", paths.in_video, "-vf", text, "-an", out]);
    expect(log).not.toContain(FONT_FALLBACK);
    expect((await run(["ffprobe", "-v", "error", out])).exitCode).toBe(0);
    // Control: the same paths pasted in without escaping break the graph.
    const naive = `subtitles=${subs},drawtext=fontfile=${font}:textfile=${words}`;
    const res = await run(["ffmpeg", ...GLOBALS, "-i", paths.in_video, "-vf", naive, "-an", out]);
    expect(res.exitCode).not.toBe(0);
  });

  test("the plain server-path case needs no escaping at all", async () => {
    const step = planCommand("-i {{in_video}} -vf subtitles={{in_subs}} {{out_v}}", {
      inputs: ["in_video", "in_subs"],
      outputs: ["out_v"],
    });
    const argv = step.argv({ ...paths, out_v: join(job, "out", "plain.mp4") }, GLOBALS);
    expect(argv).toContain(`subtitles=${paths.in_subs}`);
    await ok(argv);
  });
});
