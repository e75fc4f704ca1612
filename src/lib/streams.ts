import { TooLargeError } from "../storage/driver";

/**
 * Passes bytes through and errors the stream with TooLargeError as soon as more than `limit` bytes
 * have flowed — the cap is enforced on the stream itself, never trusted from a header.
 */
export function limitBytes(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > limit) controller.error(new TooLargeError(limit));
      else controller.enqueue(chunk);
    },
  });
}
