/**
 * Baseline for bench/s3.ts: one object uploaded with the AWS SDK alone — `@aws-sdk/lib-storage`
 * Upload, the part size and queue size renderio's S3 driver uses by default (8 MiB × 4), and a client
 * configured like the driver's (path style, checksums only when required). Runs as its own process
 * so its memory and CPU are measured apart from the bench and from renderio.
 *
 *   bun bench/lib-s3/sdk-upload.ts --key <key> --file <path>   body: Bun.file(path).stream()
 *   bun bench/lib-s3/sdk-upload.ts --key <key> --url <url>     body: fetch(url).body (loopback origin)
 *
 * Connection settings come from S3_ENDPOINT, S3_REGION, S3_BUCKET, S3_ACCESS_KEY_ID and
 * S3_SECRET_ACCESS_KEY. Prints one JSON line: {"bytes", "seconds", "cpuSeconds", "hwmMB"} — seconds
 * and CPU of the upload only (not start-up), VmHWM of this whole process in MB (10^6 B).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const { values: opt } = parseArgs({
  options: { key: { type: "string" }, file: { type: "string" }, url: { type: "string" } },
});
const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
if (!opt.key || (!opt.file && !opt.url)) {
  console.error("usage: sdk-upload.ts --key <key> (--file <path> | --url <url>)");
  process.exit(2);
}

const client = new S3Client({
  endpoint: env("S3_ENDPOINT"),
  region: env("S3_REGION"),
  forcePathStyle: true,
  credentials: { accessKeyId: env("S3_ACCESS_KEY_ID"), secretAccessKey: env("S3_SECRET_ACCESS_KEY") },
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});

const cpu0 = process.cpuUsage();
const t0 = performance.now();
let body: ReadableStream<Uint8Array>;
if (opt.file) body = Bun.file(opt.file).stream();
else {
  const res = await fetch(opt.url as string);
  if (!res.ok || !res.body) throw new Error(`GET ${opt.url}: ${res.status}`);
  body = res.body;
}
let bytes = 0;
const counted = body.pipeThrough(
  new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      bytes += chunk.byteLength;
      c.enqueue(chunk);
    },
  }),
);
await new Upload({
  client,
  params: { Bucket: env("S3_BUCKET"), Key: opt.key, Body: counted },
  partSize: 8 * 1024 * 1024,
  queueSize: 4,
  leavePartsOnError: false,
}).done();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const hwmKB = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);
console.log(
  JSON.stringify({ bytes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, hwmMB: (hwmKB * 1024) / 1e6 }),
);
