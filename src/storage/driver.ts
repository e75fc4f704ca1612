/**
 * The storage seam. Routes and services only see this interface; `src/deps.ts` picks the driver.
 * Invariants every driver keeps:
 * - `put` is atomic: the object appears complete under its key or not at all (a failed or aborted
 *   stream leaves no object and no temporary data behind).
 * - Keys are server-generated (`objectKey`); nothing a user sends becomes a path.
 */
export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface ObjectInfo {
  size: number;
  lastModified: Date;
  etag: string;
}

export interface ObjectStream extends ObjectInfo {
  body: ReadableStream<Uint8Array>;
  /** The range actually served, when one was asked for. */
  range?: ByteRange;
}

export interface PutOptions {
  contentType?: string;
  signal?: AbortSignal;
  /**
   * Called with each chunk as the driver takes it from the body, before it stores it: the caller
   * counts bytes and enforces caps here (aborting `signal` from it stops the put before that chunk).
   */
  onChunk?: (chunk: Uint8Array) => void;
  /**
   * Called, in body order, once the driver holds no reference to a chunk any more (written to the
   * file, or copied into a part buffer), so the caller may free the chunk's memory at once.
   */
  onChunkDone?: (chunk: Uint8Array) => void;
}

export interface StorageDriver {
  readonly kind: "local" | "s3";
  /** Streams `body` into `key`; resolves with the stored size once the bytes are durable. */
  put(key: string, body: ReadableStream<Uint8Array>, opts?: PutOptions): Promise<{ size: number }>;
  /** Streams an object (or one byte range of it); null when it does not exist. */
  get(key: string, range?: ByteRange): Promise<ObjectStream | null>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Removes the object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Where ffprobe/ffmpeg can read the object directly, when the driver allows it (local disk);
   * null means the caller must stream it (or use `readUrl`).
   */
  localPath(key: string): string | null;
  /**
   * Optional capability of remote drivers: a short-lived URL internal readers (ffprobe, ffmpeg) can
   * fetch with Range instead of copying the object.
   */
  presignedGet?(key: string, ttlSeconds: number): Promise<string>;
  /**
   * The `storage_url` handed to clients: an absolute URL anyone holding it can GET (with Range),
   * ending in the file name (spec, Decisions 7).
   */
  storageUrl(ref: { fileId: string; key: string; filename: string }): Promise<string>;
  /** Checks the backend is reachable (readiness). */
  ping(): Promise<void>;
}

/** Thrown by the byte-limit stream when a body grows past its cap. */
export class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
  }
}

/** Builds the object key for a file: `<account>/<file_id>/<sanitised name>`. */
export function objectKey(accountId: string, fileId: string, filename: string): string {
  return `${accountId}/${fileId}/${filename}`;
}

/**
 * Parses a `Range` header for a single byte range (RFC 9110 §14.1.2). Returns null when absent or
 * unsupported (then the whole object is served) and "unsatisfiable" for a range past the end.
 */
export function parseRange(header: string | null, size: number): ByteRange | null | "unsatisfiable" {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}
