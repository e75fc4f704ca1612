/**
 * Smoke test of an S3-compatible server with the SDK settings the app uses.
 *
 *   eval "$(scripts/s3/rgw.sh env)" && bun scripts/s3/smoke.ts   # S3_* from the environment, strict
 *   bun scripts/s3/smoke.ts --s3rver                              # starts its own s3rver 3.7.1
 *
 * Checks PutObject, HeadObject, a ranged GetObject (byte-exact), a presigned GET fetched with fetch,
 * CreateMultipartUpload + UploadPart + ListMultipartUploads + AbortMultipartUpload, that a wrong secret
 * and a tampered presigned URL are rejected, then DeleteObject. With --s3rver the checks s3rver cannot
 * pass (no SigV4 verification, no list/abort of multipart uploads) instead assert that known gap, so a
 * change in s3rver's behaviour shows up. Exits 1 on the first failed check.
 */
import { randomBytes } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { type S3Settings, s3ClientFor, startS3rver } from "../../tests/helpers/s3-servers";

const useS3rver = process.argv.includes("--s3rver");

function fromEnv(): S3Settings {
  const e = process.env;
  if (!e.S3_ENDPOINT || !e.S3_ACCESS_KEY_ID || !e.S3_SECRET_ACCESS_KEY) {
    console.error(
      'usage: eval "$(scripts/s3/rgw.sh env)" && bun scripts/s3/smoke.ts  |  bun scripts/s3/smoke.ts --s3rver',
    );
    process.exit(2);
  }
  return {
    endpoint: e.S3_ENDPOINT,
    region: e.S3_REGION || "us-east-1",
    bucket: e.S3_BUCKET || "renderio-test",
    accessKeyId: e.S3_ACCESS_KEY_ID,
    secretAccessKey: e.S3_SECRET_ACCESS_KEY,
    forcePathStyle: true,
  };
}

/** The S3 error code of a failed call (`name` for SDK errors), or "OK" when it did not fail. */
async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (e) {
    if (e instanceof S3ServiceException) return `${e.name} (${e.$metadata.httpStatusCode})`;
    throw e;
  }
}

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

const server = useS3rver ? await startS3rver() : null;
const s = server ?? fromEnv();
const s3 = s3ClientFor(s);
const Bucket = s.bucket;
const Key = `smoke/${Date.now()}-${randomBytes(4).toString("hex")}.bin`;
const body = randomBytes(256 * 1024);
let failed = false;

async function check(name: string, fn: () => Promise<string | undefined>) {
  const t = performance.now();
  try {
    const note = await fn();
    console.log(`ok    ${name} (${Math.round(performance.now() - t)} ms)${note ? ` — ${note}` : ""}`);
  } catch (e) {
    console.log(`FAIL  ${name}: ${e instanceof Error ? e.message : String(e)}`);
    failed = true;
  }
}

console.log(
  `S3 smoke against ${s.endpoint} bucket ${Bucket}${useS3rver ? " (s3rver, known gaps asserted)" : ""}`,
);
try {
  await check("PutObject 256 KiB", async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: body, ContentType: "application/octet-stream" }));
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
    assert(head.ContentLength === body.length, `HeadObject ContentLength ${head.ContentLength}`);
    return undefined;
  });
  if (failed) throw new Error("cannot continue without the object");

  await check("ranged GetObject bytes=1000-66535", async () => {
    const r = await s3.send(new GetObjectCommand({ Bucket, Key, Range: "bytes=1000-66535" }));
    assert(r.Body, "no body");
    const got = Buffer.from(await r.Body.transformToByteArray());
    assert(r.$metadata.httpStatusCode === 206, `status ${r.$metadata.httpStatusCode}, want 206`);
    assert(r.ContentRange === `bytes 1000-66535/${body.length}`, `Content-Range ${r.ContentRange}`);
    assert(got.equals(body.subarray(1000, 66536)), "range bytes differ");
    return undefined;
  });

  await check("presigned GET via fetch", async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key }), { expiresIn: 60 });
    const res = await fetch(url);
    assert(res.status === 200, `status ${res.status}`);
    assert(Buffer.from(await res.arrayBuffer()).equals(body), "body differs");
    const tampered = url.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_, c) => `X-Amz-Signature=${c === "0" ? "1" : "0"}`,
    );
    const bad = await fetch(tampered);
    await bad.arrayBuffer();
    if (useS3rver) assert(bad.status === 200, `s3rver now rejects a tampered URL (${bad.status})`);
    else assert(bad.status === 403, `tampered presigned URL answered ${bad.status}, want 403`);
    return `tampered signature → ${bad.status}`;
  });

  await check("multipart create + part + list + abort", async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: `${Key}.mpu` }));
    assert(UploadId, "no UploadId");
    await s3.send(
      new UploadPartCommand({ Bucket, Key: `${Key}.mpu`, UploadId, PartNumber: 1, Body: randomBytes(1024) }),
    );
    const listed = () => s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: `${Key}.mpu` }));
    const abort = () => s3.send(new AbortMultipartUploadCommand({ Bucket, Key: `${Key}.mpu`, UploadId }));
    if (useS3rver) {
      const l = await errorCode(listed());
      const a = await errorCode(abort());
      assert(l.includes("501") && a.includes("405"), `s3rver gap changed: list ${l}, abort ${a}`);
      return `s3rver gap confirmed: ListMultipartUploads ${l}, AbortMultipartUpload ${a}`;
    }
    const before = await listed();
    assert(
      before.Uploads?.some((u) => u.UploadId === UploadId),
      "upload not listed",
    );
    await abort();
    const after = await listed();
    assert(!after.Uploads?.some((u) => u.UploadId === UploadId), "upload still listed after abort");
    return undefined;
  });

  await check(useS3rver ? "wrong secret (s3rver accepts it)" : "wrong secret rejected", async () => {
    const bad = s3ClientFor(s, `${s.secretAccessKey.slice(0, -1)}X`);
    const get = await errorCode(bad.send(new GetObjectCommand({ Bucket, Key })));
    const put = await errorCode(bad.send(new PutObjectCommand({ Bucket, Key: `${Key}.bad`, Body: "x" })));
    if (useS3rver) {
      assert(get === "OK" && put === "OK", `s3rver now checks signatures: GET ${get}, PUT ${put}`);
      return "s3rver gap confirmed: wrong secret accepted";
    }
    assert(get.startsWith("SignatureDoesNotMatch"), `GET with wrong secret: ${get}`);
    assert(put.startsWith("SignatureDoesNotMatch"), `PUT with wrong secret: ${put}`);
    return `GET and PUT: ${get}`;
  });

  await check("DeleteObject then 404", async () => {
    await s3.send(new DeleteObjectCommand({ Bucket, Key }));
    await s3.send(new DeleteObjectCommand({ Bucket, Key: `${Key}.bad` }));
    const code = await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key })));
    assert(code.includes("404"), `HeadObject after delete: ${code}`);
    return undefined;
  });
} catch (e) {
  console.log(`FAIL  ${e instanceof Error ? e.message : String(e)}`);
  failed = true;
} finally {
  s3.destroy();
  await server?.stop();
}
console.log(failed ? "S3 smoke FAILED" : "S3 smoke passed");
process.exit(failed ? 1 : 0);
