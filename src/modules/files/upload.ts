import { getMultipartBoundary, MultipartParseError, parseMultipart } from "@mjackson/multipart-parser";
import { AppError, validationError } from "../../errors";
import { sanitizeFilename } from "../../lib/filename";
import { abortable, createGate } from "../../lib/streams";
import { objectKey, type StorageDriver, TooLargeError } from "../../storage/driver";

/** Room for multipart boundaries and part headers on top of the file itself. */
const MULTIPART_OVERHEAD = 1024 * 1024;
/** Request chunks the upload keeps track of to free them early (4× HIGH_WATER at 64 KiB per chunk). */
const TRACKED = 256;
/** Parts beyond the file (form fields) a client may send; bounds header overhead and work. */
const MAX_PARTS = 20;
/**
 * Bytes the parser may hold ahead of the storage writer. 4 MiB (was 8): the 1 GiB upload peaked at 96–98
 * instead of 97–102 MB, at the same speed (bench/upload.ts 1 GiB case, four A/B pairs).
 */
const HIGH_WATER = 4 * 1024 * 1024;

export interface ReceivedFile {
  key: string;
  filename: string;
  size: number;
}

/**
 * Streams the single `file` part of a multipart/form-data request into storage without buffering it.
 *
 * The parser (@mjackson/multipart-parser 0.8.2) pushes part bytes without backpressure and does not
 * error a part's stream when the request fails, so it is driven from here: `feed` reads the body,
 * enforces the size cap, and waits on a gate whenever more than HIGH_WATER bytes are parsed but not
 * yet taken by the storage driver; one AbortController stops everything on the first failure (client
 * gone, too large, a second `file` part): the driver cancels the file part's stream, and ignored parts
 * drain through a wrapper that errors. Storage `put` is atomic, and the stored object is removed again
 * on any later failure, so a failed upload leaves nothing behind.
 */
export async function receiveUpload(
  request: Request,
  opts: { storage: StorageDriver; accountId: string; fileId: string; maxBytes: number },
): Promise<ReceivedFile> {
  const contentType = request.headers.get("content-type") ?? "";
  const boundary = /^multipart\/form-data\b/i.test(contentType) ? getMultipartBoundary(contentType) : null;
  const body = request.body;
  if (!boundary || !body)
    throw validationError(["body"], "expected a multipart/form-data body with one `file` part");
  if (Number(request.headers.get("content-length")) > opts.maxBytes + MULTIPART_OVERHEAD)
    throw tooLarge(opts.maxBytes);

  const ac = new AbortController();
  const fail = (e: unknown) => ac.abort(e);
  request.signal.addEventListener("abort", () => fail(new Error("client disconnected")), { once: true });
  const gate = createGate(HIGH_WATER, ac.signal);
  const release = createReleaser();

  async function* feed(): AsyncGenerator<Uint8Array> {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    let total = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        total += value.byteLength;
        if (total > opts.maxBytes + MULTIPART_OVERHEAD) throw new TooLargeError(opts.maxBytes);
        gate.fed(value.byteLength);
        const seq = release.fed(value);
        yield value;
        release.parsed(seq); // the parser asks for more only once it has gone through `value`
        await gate.ready();
      }
    } catch (e) {
      fail(ac.signal.aborted ? ac.signal.reason : e);
      throw ac.signal.reason;
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  let received: ReceivedFile | undefined;
  let parts = 0;
  let fileParts = 0;
  const handlers: Promise<unknown>[] = [];
  try {
    await parseMultipart(feed(), { boundary, maxHeaderSize: 16 * 1024 }, (part) => {
      const work = (async () => {
        if (++parts > MAX_PARTS) throw validationError(["body"], `at most ${MAX_PARTS} parts are accepted`);
        if (part.name !== "file")
          // Ignored fields are drained; the wrapper ends the drain when the upload fails.
          return abortable(part.body, ac.signal, (n) => gate.consumed(n)).pipeTo(new WritableStream());
        if (++fileParts > 1) throw validationError(["body", "file"], "exactly one `file` part is allowed");
        const filename = sanitizeFilename(part.filename, "upload");
        const key = objectKey(opts.accountId, opts.fileId, filename);
        let fileBytes = 0;
        // The driver reads the part's stream itself (a wrapping stream stage cost the 1 GiB upload
        // ~0.13 s of CPU per GiB) and stops on the signal; it shows each chunk as it takes it, which
        // is where the chunk counts as consumed and against the cap.
        const { size } = await opts.storage.put(key, part.body, {
          contentType: part.mediaType,
          signal: ac.signal,
          onChunk: (chunk) => {
            gate.consumed(chunk.byteLength);
            fileBytes += chunk.byteLength;
            if (fileBytes > opts.maxBytes) fail(new TooLargeError(opts.maxBytes));
          },
          onChunkDone: release.stored,
        });
        received = { key, filename, size };
      })().catch((e) => {
        fail(e);
        throw e;
      });
      handlers.push(work);
      return work;
    });
  } catch (e) {
    if (!isEpilogue(e)) fail(e);
  }
  const settled = await Promise.allSettled(handlers);
  if (ac.signal.aborted) {
    if (received) await opts.storage.delete(received.key);
    // Several errors race when one failure tears the pipeline down; report the one that explains it.
    const errors = [ac.signal.reason, ...settled.flatMap((r) => (r.status === "rejected" ? [r.reason] : []))];
    const cause = errors.find((e) => e instanceof AppError || e instanceof TooLargeError) ?? errors[0];
    throw mapUploadError(cause, opts.maxBytes);
  }
  if (!received) throw validationError(["body", "file"], "a `file` part is required");
  return received;
}

/**
 * Frees request-body chunks as soon as nothing needs them, instead of leaving them to the garbage
 * collector: a 1 GiB upload otherwise leaves tens of MB of dead 64 KiB chunks resident between
 * collections, and collecting them costs CPU (bench/upload.ts, 1 GiB case). A chunk is needed until
 * both the parser is past it (it may keep a chunk's tail while looking for a boundary) and the
 * storage driver reports the file bytes cut from it done; both happen in body order, so the
 * chunks are released from the oldest. Only chunks that own their whole buffer are released, by
 * detaching it (`ArrayBuffer.prototype.transfer(0)`); any views left on it read as empty. Chunks of
 * other parts are never reported, so at most TRACKED chunks are held here: older ones are left to
 * the collector, as every chunk was before.
 */
function createReleaser() {
  const seqOf = new Map<ArrayBufferLike, number>();
  const queue: { seq: number; buffer: ArrayBuffer }[] = [];
  let next = 0;
  let parsedBelow = 0;
  let storedUpTo = -1;
  const sweep = () => {
    for (let head = queue[0]; head && head.seq < parsedBelow && head.seq <= storedUpTo; head = queue[0]) {
      queue.shift();
      seqOf.delete(head.buffer);
      try {
        head.buffer.transfer(0);
      } catch {
        // not detachable: the collector frees it as before
      }
    }
  };
  return {
    /** A chunk read from the request; returns its sequence number. */
    fed(chunk: Uint8Array): number {
      const seq = next++;
      const { buffer } = chunk;
      if (buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) {
        seqOf.set(buffer, seq);
        queue.push({ seq, buffer });
        if (queue.length > TRACKED) seqOf.delete((queue.shift() as { buffer: ArrayBuffer }).buffer);
      }
      return seq;
    },
    /** The parser is done with every chunk before `seq`. */
    parsed(seq: number): void {
      parsedBelow = seq;
      sweep();
    },
    /** The driver is done with a piece of the file part (cut from a request chunk or a parser copy). */
    stored: (piece: Uint8Array): void => {
      const seq = seqOf.get(piece.buffer);
      if (seq === undefined || seq <= storedUpTo) return;
      storedUpTo = seq;
      sweep();
    },
  };
}

/**
 * Bytes after the closing boundary (RFC 2046's epilogue, at least the CRLF most clients send) are to be
 * ignored. The parser ignores them in the chunk that closes the body but throws on a later chunk, so a
 * valid upload whose final CRLF arrived in a packet of its own failed with a 422. By then every part
 * is complete, so the upload simply ends there and the rest of the body is not read.
 */
function isEpilogue(e: unknown): boolean {
  return e instanceof MultipartParseError && e.message === "Unexpected data after end of stream";
}

function tooLarge(max: number): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", `file exceeds the upload limit of ${max} bytes`);
}

function mapUploadError(e: unknown, max: number): unknown {
  if (e instanceof AppError) return e;
  if (e instanceof TooLargeError) return tooLarge(max);
  if (e instanceof MultipartParseError)
    return validationError(["body"], `malformed multipart body: ${e.message}`);
  return e;
}
