/** Direct bucket access for the benches: size checks and removing everything under a bench prefix. */
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";

/** Size of an object, or -1 when it does not exist. */
export async function objectSize(c: S3Client, bucket: string, key: string): Promise<number> {
  try {
    return (await c.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength ?? -1;
  } catch {
    return -1;
  }
}

/** The key under `prefix` whose path holds `/<fileId>/` (renderio's `<account>/<file_id>/<name>`). */
export async function findObject(c: S3Client, bucket: string, prefix: string, fileId: string) {
  const r = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  const o = (r.Contents ?? []).find((x) => x.Key?.includes(`/${fileId}/`));
  return o?.Key ? { key: o.Key, size: o.Size ?? -1 } : null;
}

/** Deletes every object and aborts every multipart upload under `prefix` (bounded: 100 pages). */
export async function clearPrefix(c: S3Client, bucket: string, prefix: string): Promise<number> {
  let n = 0;
  for (let page = 0; page < 100; page++) {
    const r = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    const keys = (r.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
    if (!keys.length) break;
    // One by one: DeleteObjects needs a Content-MD5/CRC header that not every S3 clone accepts.
    for (const Key of keys) await c.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
    n += keys.length;
  }
  const mp = await c.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  for (const u of mp.Uploads ?? []) {
    if (u.Key && u.UploadId)
      await c.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
  }
  return n;
}
