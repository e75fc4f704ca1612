/**
 * Small real media samples generated with ffmpeg at test setup (nothing binary is committed).
 *
 * Every encoder runs with `-threads 1` so the output (and thus probed bitrates) is the same on any
 * machine with the same ffmpeg build (Debian bookworm ffmpeg 5.1). All samples together are < 150 KB
 * and take well under 3 s to make; independent ones are generated in parallel.
 */
import { join } from "node:path";
import { runProcess } from "../../src/media/runner";

/** Absolute paths of the generated samples. */
export interface Samples {
  /** H.264 320x240 25 fps yuv420p, 2 s, + AAC 44100 Hz mono 64 kbit/s. */
  mp4: string;
  /** MP3 (libmp3lame CBR 64 kbit/s) 44100 Hz mono, 1 s. */
  mp3: string;
  /** PNG 64x48 rgb24, one frame. */
  png: string;
  /** WAV pcm_s16le 44100 Hz mono, 1 s. */
  wav: string;
  /** Plain UTF-8 text, `notes.txt`. */
  text: string;
  /** The first third of `mp4`'s bytes, named `truncated.mp4` (no moov atom). */
  truncatedMp4: string;
  /** `mp4` remuxed with a 90° display-matrix rotation (ffmpeg 5.1: `-metadata:s:v rotate=90` on copy). */
  rotatedMp4: string;
  /** VP9 320x240 25 fps + Opus 48000 Hz mono, 1 s, WebM. */
  webm: string;
  /** Audio-only AAC 44100 Hz mono 64 kbit/s, 1 s, `.m4a`. */
  m4a: string;
  /** Animated GIF 64x48, 10 frames at 10 fps. */
  gif: string;
  /** Baseline JPEG 64x48, one frame. */
  jpg: string;
}

async function ffmpeg(args: string[]): Promise<void> {
  const res = await runProcess({
    argv: ["ffmpeg", "-nostdin", "-v", "error", "-y", ...args],
    timeoutMs: 20_000,
  });
  if (res.exitCode !== 0) {
    throw new Error(`ffmpeg ${args.join(" ")} failed (${res.exitCode}): ${res.stderrTail}`);
  }
}

const VIDEO_SRC = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"];
const SMALL_SRC = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10"];
const sine = (rate: number): string[] => ["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=${rate}`];

/** Generates every sample into `dir` (which must exist) and returns their paths. */
export async function makeSamples(dir: string): Promise<Samples> {
  const s: Samples = {
    mp4: join(dir, "sample.mp4"),
    mp3: join(dir, "sample.mp3"),
    png: join(dir, "sample.png"),
    wav: join(dir, "sample.wav"),
    text: join(dir, "notes.txt"),
    truncatedMp4: join(dir, "truncated.mp4"),
    rotatedMp4: join(dir, "rotated.mp4"),
    webm: join(dir, "sample.webm"),
    m4a: join(dir, "sample.m4a"),
    gif: join(dir, "sample.gif"),
    jpg: join(dir, "sample.jpg"),
  };
  const aac = ["-c:a", "aac", "-b:a", "64k", "-ac", "1"];
  await Promise.all([
    ffmpeg([
      ...VIDEO_SRC,
      ...sine(44100),
      ...["-t", "2", "-threads", "1", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"],
      ...aac,
      s.mp4,
    ]),
    ffmpeg([...sine(44100), "-t", "1", "-c:a", "libmp3lame", "-b:a", "64k", "-ac", "1", s.mp3]),
    ffmpeg([...SMALL_SRC, "-frames:v", "1", "-c:v", "png", "-pix_fmt", "rgb24", s.png]),
    ffmpeg([...sine(44100), "-t", "1", "-c:a", "pcm_s16le", "-ac", "1", s.wav]),
    Bun.write(s.text, "Meeting notes\nNothing to see here.\n"),
    ffmpeg([
      ...VIDEO_SRC,
      ...sine(48000),
      ...["-t", "1", "-threads", "1", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
      ...["-b:v", "200k", "-pix_fmt", "yuv420p", "-c:a", "libopus", "-b:a", "32k", "-ac", "1", s.webm],
    ]),
    ffmpeg([...sine(44100), "-t", "1", ...aac, s.m4a]),
    ffmpeg([...SMALL_SRC, "-t", "1", "-c:v", "gif", s.gif]),
    ffmpeg([...SMALL_SRC, "-frames:v", "1", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", s.jpg]),
  ]);
  const bytes = new Uint8Array(await Bun.file(s.mp4).arrayBuffer());
  await Promise.all([
    Bun.write(s.truncatedMp4, bytes.subarray(0, Math.floor(bytes.byteLength / 3))),
    // ffmpeg 5.1 has no -display_rotation; the legacy rotate tag is honoured only when stream-copying.
    ffmpeg(["-i", s.mp4, "-c", "copy", "-metadata:s:v", "rotate=90", s.rotatedMp4]),
  ]);
  return s;
}
