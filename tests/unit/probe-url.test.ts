import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { probeUrl } from "../../src/media/ffprobe";
import { runProcess } from "../../src/media/runner";
import { detectSandbox, type Sandbox } from "../../src/media/sandbox";
import { tempDir } from "../helpers/server";

/**
 * Measures what probing a remote object costs: ffprobe reads a presigned-style URL with Range requests,
 * so only the header and the index travel, not the whole file (README, "Probing a remote object").
 */
let sandbox: Sandbox;
let dir: string;
let served = 0;
let origin: ReturnType<typeof Bun.serve>;

async function ffmpeg(args: string[]) {
  const r = await runProcess({
    argv: ["ffmpeg", "-nostdin", "-v", "error", "-y", ...args],
    timeoutMs: 60_000,
  });
  if (r.exitCode !== 0) throw new Error(r.stderrTail);
}

beforeAll(async () => {
  sandbox = await detectSandbox();
  dir = tempDir("renderio-probe-url-");
  // ~35 MB (lossless H.264), once with the index (moov) at the end and once at the front. Large enough
  // that socket buffers (a few MB on loopback) do not hide what ffprobe skips.
  const src = [
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=1280x720:rate=25:duration=20",
    "-f",
    "lavfi",
    "-i",
    "anoisesrc=d=20",
  ];
  const enc = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "0", "-c:a", "aac", "-shortest"];
  await ffmpeg([...src, ...enc, join(dir, "end.mp4")]);
  await ffmpeg(["-i", join(dir, "end.mp4"), "-c", "copy", "-movflags", "+faststart", join(dir, "front.mp4")]);
  origin = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const file = Bun.file(join(dir, new URL(req.url).pathname.slice(1)));
      const size = file.size;
      const m = /bytes=(\d+)-(\d*)/.exec(req.headers.get("range") ?? "");
      const start = m ? Number(m[1]) : 0;
      const end = m?.[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      const body = file.slice(start, end + 1);
      // Count what actually leaves the server, not what was asked for: ffprobe closes early.
      const counted = body.stream().pipeThrough(
        new TransformStream({
          transform(chunk, c) {
            served += chunk.byteLength;
            c.enqueue(chunk);
          },
        }),
      );
      return new Response(counted, {
        status: m ? 206 : 200,
        headers: {
          "accept-ranges": "bytes",
          "content-length": String(end - start + 1),
          ...(m ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
        },
      });
    },
  });
}, 60_000);

afterAll(() => origin?.stop(true));

describe("probing through a URL reads only what ffprobe needs", () => {
  for (const name of ["front.mp4", "end.mp4"]) {
    test(name, async () => {
      served = 0;
      const size = Bun.file(join(dir, name)).size;
      const url = `http://127.0.0.1:${origin.port}/${name}`;
      const head = async () => new Uint8Array(await Bun.file(join(dir, name)).slice(0, 189).arrayBuffer());
      const out = await probeUrl(url, { timeoutMs: 30_000, sandbox, fileName: name, head });
      expect(out.kind).toBe("media");
      if (out.kind === "media") expect(out.info).toMatchObject({ codec: "h264", width: 1280, height: 720 });
      await Bun.sleep(50);
      console.log(`${name}: ${size} bytes, ffprobe read ${served} (${((served / size) * 100).toFixed(1)}%)`);
      expect(size).toBeGreaterThan(25_000_000);
      expect(served).toBeLessThan(size * 0.4);
    });
  }
});

describe("an idle-priority probe that runs past its grace is restarted at normal priority", () => {
  // A stand-in for a starved probe: the origin holds its first answer back for 1.5 s, so the first ffprobe
  // (grace 0.5 s) is killed; the second one, at normal priority, gets answers at once.
  let hits = 0;
  let slow: ReturnType<typeof Bun.serve>;
  beforeAll(() => {
    slow = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        if (++hits === 1) await Bun.sleep(1500);
        const target = new URL(req.url);
        target.port = String(origin.port);
        return fetch(target, { headers: req.headers });
      },
    });
  });
  afterAll(() => slow?.stop(true));

  const head = async () => new Uint8Array(await Bun.file(join(dir, "front.mp4")).slice(0, 189).arrayBuffer());
  const probe = (idle: boolean) =>
    probeUrl(`http://127.0.0.1:${slow.port}/front.mp4`, {
      timeoutMs: 30_000,
      sandbox,
      fileName: "front.mp4",
      head,
      idle,
      idleGraceMs: 500,
    });

  test("idle: the first attempt is cut at the grace, the second succeeds", async () => {
    hits = 0;
    const t0 = performance.now();
    const out = await probe(true);
    expect(out.kind).toBe("media");
    if (out.kind === "media") expect(out.info).toMatchObject({ codec: "h264", width: 1280 });
    // Well before the held-back answer (1.5 s) plus a probe: the restart did not wait for it.
    expect(performance.now() - t0).toBeLessThan(1500 + 1000);
    expect(hits).toBeGreaterThanOrEqual(2);
  });

  test("not idle: one attempt, which simply waits for the slow answer", async () => {
    hits = 0;
    const t0 = performance.now();
    const out = await probe(false);
    expect(out.kind).toBe("media");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1500);
  });
});
