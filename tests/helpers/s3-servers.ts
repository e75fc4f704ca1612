/**
 * S3-compatible servers for tests, both on loopback.
 *
 * - `startS3rver()`: npm `s3rver` 3.7.1 as a child process on a free port with a throw-away directory
 *   (starts in well under a second). Credentials S3RVER/S3RVER. Caveats: it does NOT verify SigV4
 *   signatures (a wrong secret or a tampered presigned URL is accepted; only an unknown access key id
 *   is rejected), and it lacks ListMultipartUploads (501) and AbortMultipartUpload (405).
 * - `rgwFromEnv()`: the Ceph RADOS Gateway started by `scripts/s3/rgw.sh start` (real SigV4, real
 *   multipart). The test script exports its settings with `eval "$(scripts/s3/rgw.sh env RGW_S3_)"`:
 *
 *     RGW_S3_ENDPOINT           http://127.0.0.1:7480   required; unset → rgwFromEnv() returns null
 *     RGW_S3_ACCESS_KEY_ID      renderio-test           required
 *     RGW_S3_SECRET_ACCESS_KEY  (40 chars)              required
 *     RGW_S3_BUCKET             renderio-test           optional, this default
 *     RGW_S3_REGION             us-east-1               optional, this default
 *     RGW_S3_FORCE_PATH_STYLE   true                    exported too, ignored: always path style
 */
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { freePort, tempDir } from "./server";

const ROOT = resolve(import.meta.dir, "../..");
const S3RVER_BIN = join(ROOT, "node_modules/s3rver/bin/s3rver.js");

/** Connection settings for an S3-compatible endpoint (maps onto the app's S3_* config). */
export interface S3Settings {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: true;
}

export type RunningS3 = S3Settings & {
  /** Kills the server (SIGTERM, then SIGKILL after 5 s) and deletes its directory. */
  stop(): Promise<void>;
};

/** Starts s3rver with one bucket (default `renderio-test`) and resolves once the bucket answers. */
export async function startS3rver(opts: { bucket?: string; timeoutMs?: number } = {}): Promise<RunningS3> {
  const bucket = opts.bucket ?? "renderio-test";
  const dir = tempDir("renderio-s3rver-");
  const port = freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // process.execPath is bun under `bun test`; s3rver 3.7.1 runs under bun and node alike.
  const proc = Bun.spawn(
    [
      process.execPath,
      S3RVER_BIN,
      ...["-d", dir, "-p", String(port), "-a", "127.0.0.1", "--configure-bucket", bucket, "--silent"],
    ],
    { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  let output = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) output += dec.decode(chunk, { stream: true });
  };
  void pump(proc.stdout);
  void pump(proc.stderr);

  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      await proc.exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`s3rver exited with ${proc.exitCode}:\n${output}`);
    }
    try {
      // s3rver accepts unsigned requests; 200 means it listens and the bucket exists.
      if ((await fetch(`${endpoint}/${bucket}`, { method: "HEAD" })).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `s3rver did not answer on ${endpoint} within ${opts.timeoutMs ?? 10_000} ms:\n${output}`,
      );
    }
    await Bun.sleep(25);
  }
  return {
    endpoint,
    region: "us-east-1",
    bucket,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    forcePathStyle: true,
    stop,
  };
}

/**
 * Settings of the RGW started by `scripts/s3/rgw.sh start`, from the RGW_S3_* variables documented at
 * the top of this file; null when RGW_S3_ENDPOINT or a credential is missing (RGW not started).
 */
export function rgwFromEnv(env: Record<string, string | undefined> = process.env): S3Settings | null {
  const endpoint = env.RGW_S3_ENDPOINT;
  const accessKeyId = env.RGW_S3_ACCESS_KEY_ID;
  const secretAccessKey = env.RGW_S3_SECRET_ACCESS_KEY;
  if (!endpoint || !accessKeyId || !secretAccessKey) return null;
  return {
    endpoint,
    region: env.RGW_S3_REGION || "us-east-1",
    bucket: env.RGW_S3_BUCKET || "renderio-test",
    accessKeyId,
    secretAccessKey,
    forcePathStyle: true,
  };
}

/** An S3 client configured the way the app's S3 driver is (path style, checksums only when required). */
export function s3ClientFor(s: S3Settings, secretAccessKey = s.secretAccessKey): S3Client {
  return new S3Client({
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/**
 * The local Ceph RGW: from the environment when the test script exported it, else started here with
 * `scripts/s3/rgw.sh start` (idempotent: 0.1 s when running, ~10 s to boot, longer on first install).
 */
export async function ensureRgw(): Promise<S3Settings> {
  const fromEnv = rgwFromEnv();
  if (fromEnv) return fromEnv;
  const script = join(ROOT, "scripts/s3/rgw.sh");
  const start = Bun.spawn(["bash", script, "start"], { stdout: "ignore", stderr: "pipe" });
  if ((await start.exited) !== 0) {
    throw new Error(`scripts/s3/rgw.sh start failed:\n${await new Response(start.stderr).text()}`);
  }
  const env = Bun.spawn(["bash", script, "env", "RGW_S3_"], { stdout: "pipe", stderr: "ignore" });
  const text = await new Response(env.stdout).text();
  const vars: Record<string, string> = {};
  for (const m of text.matchAll(/(?:export\s+)?(RGW_S3_[A-Z_]+)=['"]?([^'"\n]*)['"]?/g))
    vars[m[1] as string] = m[2] as string;
  const settings = rgwFromEnv(vars);
  if (!settings) throw new Error(`scripts/s3/rgw.sh env printed no settings:\n${text}`);
  return settings;
}
