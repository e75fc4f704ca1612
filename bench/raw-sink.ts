/**
 * The baseline for bench/upload.ts: a loopback HTTP server that writes each request body to a file
 * with no parsing at all — no multipart, no auth, no database — and answers `{"size": N}`. By default
 * it writes the obvious way: each chunk as it arrives, through `Bun.file().writer()` (1 MiB high-water
 * mark, flushed every 4 MiB). With `--blocks` it uses renderio's own file writer instead
 * (`writeStreamToFile`: aligned 256 KiB blocks), to show how much of renderio's result is its writer.
 *
 * Usage: `bun bench/raw-sink.ts <dir> [--blocks]`; binds 127.0.0.1 on a free port and prints
 * `listening <url>` once ready.
 */
import { join } from "node:path";
import { writeStreamToFile } from "../src/lib/streams";

const FLUSH_EVERY = 4 * 1024 * 1024;

const dir = process.argv[2];
if (!dir) {
  console.error("usage: bun bench/raw-sink.ts <dir>");
  process.exit(2);
}

const blocks = process.argv.includes("--blocks");

async function store(body: ReadableStream<Uint8Array>): Promise<number> {
  if (blocks) return writeStreamToFile(join(dir as string, crypto.randomUUID()), body);
  const writer = Bun.file(join(dir as string, crypto.randomUUID())).writer({ highWaterMark: 1024 * 1024 });
  let size = 0;
  let unflushed = 0;
  for await (const chunk of body) {
    writer.write(chunk);
    size += chunk.byteLength;
    unflushed += chunk.byteLength;
    if (unflushed >= FLUSH_EVERY) {
      await writer.flush();
      unflushed = 0;
    }
  }
  await writer.end();
  return size;
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  // Bun's default cap is 128 MiB; the bench sends up to 1 GiB plus multipart framing.
  maxRequestBodySize: 4 * 1024 ** 3,
  async fetch(request) {
    if (!request.body) return Response.json({ size: 0 });
    return Response.json({ size: await store(request.body) });
  },
});

console.log(`listening ${server.url.href.replace(/\/$/, "")}`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
