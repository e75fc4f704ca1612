/**
 * The file_url origin for bench/s3.ts's store-file case: a loopback HTTP server that streams the
 * files of one directory (`GET /<name>` → the file, sent by Bun from disk; anything else 404).
 *
 * Usage: `bun bench/lib-s3/origin.ts <dir>`; binds 127.0.0.1 on a free port, prints `listening <url>`.
 */
import { basename, join } from "node:path";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: bun bench/lib-s3/origin.ts <dir>");
  process.exit(2);
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const name = basename(decodeURIComponent(new URL(request.url).pathname));
    const file = Bun.file(join(dir as string, name));
    if (!name || !(await file.exists())) return new Response("not found", { status: 404 });
    return new Response(file, { headers: { "content-type": "application/octet-stream" } });
  },
});

console.log(`listening ${server.url.href.replace(/\/$/, "")}`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
