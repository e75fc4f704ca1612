import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ListMultipartUploadsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createS3Storage, type S3Storage } from "../../src/storage/s3";
import { ensureRgw, type RunningS3, type S3Settings, s3ClientFor, startS3rver } from "../helpers/s3-servers";
import { storageContract } from "./storage-contract";

const driverFor = (s: S3Settings, prefix: string): S3Storage =>
  createS3Storage({
    endpoint: s.endpoint,
    region: s.region,
    bucket: s.bucket,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    forcePathStyle: true,
    prefix,
    urlTtlSeconds: 600,
    partSize: 5 * 1024 * 1024,
    queueSize: 2,
  });

describe("storage contract: s3rver (npm; does not check signatures)", () => {
  let s3: RunningS3;
  let driver: S3Storage;
  beforeAll(async () => {
    s3 = await startS3rver();
    driver = driverFor(s3, `contract-${crypto.randomUUID()}/`);
  }, 120_000);
  afterAll(() => s3?.stop());
  // s3rver has no ListMultipartUploads, so leftover parts are checked against the RGW below.
  storageContract({ name: "s3rver", driver: () => driver });
});

describe("storage contract: Ceph RGW (real S3 implementation, SigV4 enforced)", () => {
  let rgw: S3Settings;
  let driver: S3Storage;
  const prefix = `contract-${crypto.randomUUID()}/`;
  beforeAll(async () => {
    rgw = await ensureRgw();
    driver = driverFor(rgw, prefix);
  }, 300_000);

  storageContract({
    name: "rgw",
    driver: () => driver,
    leftovers: async () => {
      const r = await s3ClientFor(rgw).send(
        new ListMultipartUploadsCommand({ Bucket: rgw.bucket, Prefix: prefix }),
      );
      return (r.Uploads ?? []).map((u) => `${u.Key} ${u.UploadId}`);
    },
  });

  test("a wrong secret is refused (SignatureDoesNotMatch), so the signing path is really exercised", async () => {
    const bad = s3ClientFor(rgw, `${rgw.secretAccessKey.slice(0, -1)}X`);
    const err = await bad
      .send(new PutObjectCommand({ Bucket: rgw.bucket, Key: `${prefix}x.txt`, Body: "x" }))
      .then(
        () => null,
        (e: Error) => e,
      );
    expect(err?.name).toBe("SignatureDoesNotMatch");
    const wrongDriver = createS3Storage({
      ...{ ...rgw },
      prefix,
      urlTtlSeconds: 60,
      partSize: 5 << 20,
      queueSize: 1,
      secretAccessKey: "wrong-secret-000000000000000000000000000",
    });
    await expect(wrongDriver.ping()).rejects.toThrow();
  });

  test("a tampered presigned storage_url is refused", async () => {
    const key = `a/${crypto.randomUUID()}/t.bin`;
    await driver.put(key, new Response("hello").body as ReadableStream<Uint8Array>);
    const url = new URL(await driver.storageUrl({ fileId: "x", key, filename: "t.bin" }));
    expect((await fetch(url)).status).toBe(200);
    const sig = url.searchParams.get("X-Amz-Signature") as string;
    url.searchParams.set("X-Amz-Signature", (sig[0] === "a" ? "b" : "a") + sig.slice(1));
    expect((await fetch(url)).status).toBe(403);
  });

  test("stale multipart uploads under our prefix are aborted at start-up", async () => {
    const client = s3ClientFor(rgw);
    const { CreateMultipartUploadCommand } = await import("@aws-sdk/client-s3");
    await client.send(new CreateMultipartUploadCommand({ Bucket: rgw.bucket, Key: `${prefix}stale/x.bin` }));
    // "older than 0 ms" makes the fresh one count as stale for the test.
    expect(await driver.abortStaleUploads(0)).toBeGreaterThanOrEqual(1);
    const left = await client.send(new ListMultipartUploadsCommand({ Bucket: rgw.bucket, Prefix: prefix }));
    expect(left.Uploads ?? []).toEqual([]);
  });
});
