/**
 * Payload files for bench/upload.ts, generated once per run into a temp dir (nothing is committed).
 */
import { randomFillSync } from "node:crypto";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { run } from "./support";

export const MiB = 1024 * 1024;

/**
 * A real, probe-able mp4 of exactly `size` bytes: 4 s of H.264 testsrc + AAC sine, moov first
 * (`+faststart`), then padded with one ISO-BMFF `free` box — a box every demuxer skips, so ffprobe
 * still reads it as mov/mp4 with a video and an audio stream.
 */
export async function makeMp4(dir: string, size: number): Promise<string> {
  const base = join(dir, "base.mp4");
  // biome-ignore format: argv reads best as flag/value pairs
  await run([
    "ffmpeg", "-nostdin", "-v", "error", "-y",
    "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
    "-t", "4", "-threads", "1",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-b:v", "1500k",
    "-c:a", "aac", "-b:a", "64k",
    "-movflags", "+faststart", base,
  ]);
  const media = new Uint8Array(await Bun.file(base).arrayBuffer());
  const pad = size - media.byteLength;
  if (pad < 8)
    throw new Error(`generated mp4 is ${media.byteLength} bytes, larger than the ${size}-byte target`);
  const out = new Uint8Array(size);
  out.set(media);
  new DataView(out.buffer).setUint32(media.byteLength, pad); // box size (big-endian), then the type
  out.set(new TextEncoder().encode("free"), media.byteLength + 4);
  const path = join(dir, `media-${size}.mp4`);
  await Bun.write(path, out);
  return path;
}

/** `size` bytes of random data (stored by renderio as a file that fails probing — that is fine). */
export async function makeRandom(dir: string, size: number): Promise<string> {
  const path = join(dir, `random-${size}.bin`);
  const writer = Bun.file(path).writer({ highWaterMark: 8 * MiB });
  const block = Buffer.allocUnsafe(8 * MiB);
  for (let left = size; left > 0; left -= block.byteLength) {
    randomFillSync(block);
    writer.write(left >= block.byteLength ? block : block.subarray(0, left));
    await writer.flush();
  }
  await writer.end();
  const written = (await stat(path)).size;
  if (written !== size) throw new Error(`wrote ${written} bytes to ${path}, expected ${size}`);
  return path;
}
