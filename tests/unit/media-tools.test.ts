import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { probeFile } from "../../src/media/ffprobe";
import { detectSandbox, toolDirs } from "../../src/media/sandbox";
import { resolveTools } from "../../src/media/tools";
import { makeSamples, type Samples } from "../helpers/media";

/** FFMPEG_PATH / FFPROBE_PATH: resolution at start, and the configured binary is what runs, sandboxed. */
let dir: string;
let samples: Samples;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "renderio-tools-"));
  samples = await makeSamples(join(dir, "samples"));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A shell script standing in for a custom build: it records nothing, it only runs what it says. */
function script(name: string, body: string): string {
  const binDir = join(dir, `bin-${crypto.randomUUID()}`);
  mkdirSync(binDir);
  const path = join(binDir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe("resolveTools", () => {
  test("bare names are looked up on PATH and become absolute", () => {
    const tools = resolveTools({ FFMPEG_PATH: "ffmpeg", FFPROBE_PATH: "ffprobe" });
    expect(tools.ffmpeg).toMatch(/^\/.*\/ffmpeg$/);
    expect(tools.ffprobe).toMatch(/^\/.*\/ffprobe$/);
  });

  test("a name not on PATH names the setting and the fix", () => {
    expect(() => resolveTools({ FFMPEG_PATH: "ffmpeg", FFPROBE_PATH: "ffprobe-nope" })).toThrow(
      /FFPROBE_PATH: "ffprobe-nope" is not on PATH; install ffmpeg/,
    );
  });

  test("a path must be an executable file", () => {
    const plain = join(dir, "not-executable");
    writeFileSync(plain, "");
    expect(() => resolveTools({ FFMPEG_PATH: plain, FFPROBE_PATH: "ffprobe" })).toThrow(
      `FFMPEG_PATH: ${plain} is not an executable file`,
    );
    expect(() => resolveTools({ FFMPEG_PATH: dir, FFPROBE_PATH: "ffprobe" })).toThrow("not an executable");
    expect(() => resolveTools({ FFMPEG_PATH: "/nope/ffmpeg", FFPROBE_PATH: "ffprobe" })).toThrow(
      "FFMPEG_PATH: /nope/ffmpeg is not an executable file",
    );
  });
});

describe("toolDirs", () => {
  test("system binaries need no bind; others bind their directory and their link target's", () => {
    expect(toolDirs({ ffmpeg: "/usr/bin/ffmpeg", ffprobe: "/bin/ffprobe" })).toEqual([]);
    expect(toolDirs({ ffmpeg: "ffmpeg", ffprobe: "ffprobe" })).toEqual([]);
    const linkDir = join(dir, "links");
    mkdirSync(linkDir, { recursive: true });
    const real = script("ffprobe", 'exec /usr/bin/ffprobe "$@"');
    symlinkSync(real, join(linkDir, "ffprobe"));
    expect(toolDirs({ ffmpeg: "/usr/bin/ffmpeg", ffprobe: join(linkDir, "ffprobe") })).toEqual([
      linkDir,
      join(real, ".."),
    ]);
  });
});

describe("the configured ffprobe runs inside the sandbox", () => {
  test("a build outside /usr is visible in the sandbox and probes", async () => {
    const ffprobe = script("ffprobe", 'exec /usr/bin/ffprobe "$@"');
    const sandbox = await detectSandbox({ tools: { ffmpeg: "/usr/bin/ffmpeg", ffprobe } });
    expect(sandbox.available).toBe(true);
    const info = await probeFile(samples.mp4, { timeoutMs: 30_000, sandbox, fileName: "clip.mp4" });
    expect(info).toMatchObject({ kind: "media", info: { codec: "h264", width: 320 } });
  });

  test("it is really that binary: a failing one fails the probe", async () => {
    const ffprobe = script("ffprobe", "echo 'custom build refuses' >&2; exit 3");
    const sandbox = await detectSandbox({ tools: { ffmpeg: "/usr/bin/ffmpeg", ffprobe } });
    const info = await probeFile(samples.mp4, { timeoutMs: 30_000, sandbox, fileName: "clip.mp4" });
    expect(info.kind).toBe("failed");
  });
});
