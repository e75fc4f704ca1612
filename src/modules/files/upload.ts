import { getMultipartBoundary, MultipartParseError, parseMultipart } from "@mjackson/multipart-parser";
import { AppError, validationError } from "../../errors";
import { sanitizeFilename } from "../../lib/filename";
import { limitBytes } from "../../lib/streams";
import { objectKey, type StorageDriver, TooLargeError } from "../../storage/driver";

/** Room for multipart boundaries and part headers on top of the file itself. */
const MULTIPART_OVERHEAD = 1024 * 1024;

export interface ReceivedFile {
  key: string;
  filename: string;
  size: number;
}

/**
 * Streams the single `file` part of a multipart/form-data request into storage, never buffering it:
 * request.body → byte cap → multipart parser → byte cap → storage.put (atomic). Other fields are
 * drained and ignored. Anything but exactly one `file` part is a 422; past `maxBytes` a 413 as soon
 * as the stream crosses the cap. On any failure the stored object (if any) is removed before the
 * error propagates, so a failed or aborted upload leaves nothing behind.
 */
export async function receiveUpload(
  request: Request,
  opts: { storage: StorageDriver; accountId: string; fileId: string; maxBytes: number },
): Promise<ReceivedFile> {
  const contentType = request.headers.get("content-type") ?? "";
  const boundary = /^multipart\/form-data\b/i.test(contentType) ? getMultipartBoundary(contentType) : null;
  if (!boundary || !request.body) {
    throw validationError(["body"], "expected a multipart/form-data body with one `file` part");
  }
  const announced = Number(request.headers.get("content-length") ?? Number.NaN);
  if (announced > opts.maxBytes + MULTIPART_OVERHEAD) throw tooLarge(opts.maxBytes);

  let received: ReceivedFile | undefined;
  let fileParts = 0;
  try {
    const body = request.body.pipeThrough(limitBytes(opts.maxBytes + MULTIPART_OVERHEAD));
    await parseMultipart(body, { boundary, maxHeaderSize: 16 * 1024 }, async (part) => {
      if (part.name !== "file") {
        await part.body.pipeTo(new WritableStream()); // drain: the parser needs the bytes consumed
        return;
      }
      fileParts += 1;
      if (fileParts > 1) throw validationError(["body", "file"], "exactly one `file` part is allowed");
      const filename = sanitizeFilename(part.filename, "upload");
      const key = objectKey(opts.accountId, opts.fileId, filename);
      const { size } = await opts.storage.put(key, part.body.pipeThrough(limitBytes(opts.maxBytes)), {
        contentType: part.mediaType,
        signal: request.signal,
      });
      received = { key, filename, size };
    });
  } catch (e) {
    if (received) await opts.storage.delete(received.key);
    throw mapUploadError(e, opts.maxBytes);
  }
  if (!received) throw validationError(["body", "file"], "a `file` part is required");
  return received;
}

function tooLarge(max: number): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", `file exceeds the upload limit of ${max} bytes`);
}

function mapUploadError(e: unknown, max: number): unknown {
  if (e instanceof AppError) return e;
  if (e instanceof TooLargeError) return tooLarge(max);
  if (e instanceof MultipartParseError) return validationError(["body"], `malformed multipart body: ${e.message}`);
  return e;
}
