import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import type { ByteRange, ObjectInfo, ObjectStream, PutOptions, StorageDriver } from "./driver";
import { putObject } from "./s3-put";

/**
 * S3-compatible driver (Cloudflare R2, AWS S3, Ceph RGW, MinIO…).
 * Invariants:
 * - Uploads stream into a multipart upload with equal-sized parts (R2 requires it) and at most
 *   `partSize × queueSize` bytes in memory; a failed or aborted upload aborts the multipart upload,
 *   so no object and no orphaned parts remain. Nothing is visible under the key before completion.
 * - Checksums only WHEN_REQUIRED: R2 and other non-AWS endpoints reject the SDK's default CRC headers,
 *   notably on presigned URLs.
 * - Object keys are `<prefix><account>/<file_id>/<name>`, all server-generated.
 */
export interface S3Options {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /** Public bucket URL or custom domain; unset → `storage_url` is a presigned GET. */
  publicBaseUrl?: string;
  prefix: string;
  urlTtlSeconds: number;
  partSize: number;
  queueSize: number;
}

export type S3Storage = StorageDriver & {
  readonly client: S3Client;
  /** A short-lived presigned GET for internal readers (ffprobe, ffmpeg inputs). */
  presignedGet(key: string, ttlSeconds: number): Promise<string>;
  /** Aborts multipart uploads under our prefix older than `olderThanMs`; returns how many. */
  abortStaleUploads(olderThanMs: number): Promise<number>;
};

const notFound = (e: unknown) =>
  e instanceof S3ServiceException &&
  (e.$metadata.httpStatusCode === 404 || e.name === "NoSuchKey" || e.name === "NotFound");

export function createS3Storage(o: S3Options): S3Storage {
  const client = new S3Client({
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    forcePathStyle: o.forcePathStyle,
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
    // fetch-based transport: web streams in and out, and measurably less memory under Bun than node:http.
    requestHandler: new FetchHttpHandler(),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const full = (key: string) => o.prefix + key;
  const infoOf = (r: { ContentLength?: number; LastModified?: Date; ETag?: string }): ObjectInfo => ({
    size: r.ContentLength ?? 0,
    lastModified: r.LastModified ?? new Date(0),
    etag: r.ETag ?? `"${r.ContentLength ?? 0}"`,
  });

  const driver: S3Storage = {
    kind: "s3",
    client,

    put: (key: string, body: ReadableStream<Uint8Array>, opts?: PutOptions) =>
      putObject(client, o, full(key), body, opts),

    async get(key: string, range?: ByteRange): Promise<ObjectStream | null> {
      try {
        const r = await client.send(
          new GetObjectCommand({
            Bucket: o.bucket,
            Key: full(key),
            ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          }),
        );
        if (!r.Body) return null;
        const total = r.ContentRange ? Number(r.ContentRange.split("/")[1]) : (r.ContentLength ?? 0);
        const body = r.Body.transformToWebStream() as ReadableStream<Uint8Array>;
        const base = { ...infoOf(r), size: total, body };
        return range ? { ...base, range } : base;
      } catch (e) {
        if (notFound(e)) return null;
        throw e;
      }
    },

    async head(key: string) {
      try {
        return infoOf(await client.send(new HeadObjectCommand({ Bucket: o.bucket, Key: full(key) })));
      } catch (e) {
        if (notFound(e)) return null;
        throw e;
      }
    },

    async delete(key: string) {
      await client.send(new DeleteObjectCommand({ Bucket: o.bucket, Key: full(key) }));
    },

    localPath: () => null,

    async storageUrl({ key }) {
      if (o.publicBaseUrl)
        return `${o.publicBaseUrl}/${full(key).split("/").map(encodeURIComponent).join("/")}`;
      return driver.presignedGet(key, o.urlTtlSeconds);
    },

    presignedGet(key: string, ttlSeconds: number) {
      return getSignedUrl(client, new GetObjectCommand({ Bucket: o.bucket, Key: full(key) }), {
        expiresIn: ttlSeconds,
      });
    },

    async ping() {
      await client.send(new HeadBucketCommand({ Bucket: o.bucket }));
    },

    async abortStaleUploads(olderThanMs: number) {
      const cutoff = Date.now() - olderThanMs;
      let aborted = 0;
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (let page = 0; page < 100; page++) {
        const r = await client.send(
          new ListMultipartUploadsCommand({
            Bucket: o.bucket,
            ...(o.prefix ? { Prefix: o.prefix } : {}),
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
          }),
        );
        for (const u of r.Uploads ?? []) {
          if (!u.Key || !u.UploadId || (u.Initiated && u.Initiated.getTime() > cutoff)) continue;
          await client.send(
            new AbortMultipartUploadCommand({ Bucket: o.bucket, Key: u.Key, UploadId: u.UploadId }),
          );
          aborted++;
        }
        if (!r.IsTruncated) break;
        keyMarker = r.NextKeyMarker;
        uploadIdMarker = r.NextUploadIdMarker;
      }
      return aborted;
    },
  };
  return driver;
}
