import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { receiveUpload } from "../../src/modules/files/upload";
import { createLocalStorage } from "../../src/storage/local";
import { createUrlSigner } from "../../src/storage/signing";
import { tempDir } from "../helpers/server";

// receiveUpload frees request chunks as soon as both the parser and the storage driver are past them.
// These uploads split the body where the parser has to keep a chunk's tail (a chunk ending in what may
// be the start of a boundary), with fields before and after the file, into the real local driver.

const boundary = "----renderioTestQ7Zk2";
const enc = new TextEncoder();

/** Deterministic bytes with false boundary starts ("\r\n--" and pieces of the boundary) in them. */
function fileData(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >> 16;
  }
  const traps = [`\r\n--${boundary.slice(0, 7)}`, "\r\n-", "\r\n--", `\r\n--${boundary.slice(0, -1)}`, "\r"];
  for (let at = 1000, t = 0; at < n - 64; at += 9_973, t++) out.set(enc.encode(traps[t % traps.length]), at);
  return out;
}

function multipart(file: Uint8Array): Uint8Array {
  const head = enc.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nbefore\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.bin"\r\n` +
      "Content-Type: application/octet-stream\r\n\r\n",
  );
  const tail = enc.encode(
    `\r\n--${boundary}\r\nContent-Disposition: form-data; name="after"\r\n\r\nafter\r\n--${boundary}--\r\n`,
  );
  const body = new Uint8Array(head.length + file.length + tail.length);
  body.set(head);
  body.set(file, head.length);
  body.set(tail, head.length + file.length);
  return body;
}

/** Cut points: every few KiB, and right after each "\r" (a chunk that ends where a boundary might start). */
function cuts(body: Uint8Array, step: number): number[] {
  const at = new Set<number>();
  for (let i = step; i < body.length; i += step) at.add(i);
  for (let i = 0; i < body.length; i++) if (body[i] === 13) at.add(i + 1 + (i % 5));
  return [...at].filter((i) => i > 0 && i < body.length).sort((a, b) => a - b);
}

async function upload(body: Uint8Array, points: number[], root = tempDir("renderio-upload-")) {
  // Each chunk owns its buffer, as Bun's request chunks do, so the uploader may free it.
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, body.length]) {
    chunks.push(body.slice(prev, p));
    prev = p;
  }
  let i = 0;
  const request = new Request("http://127.0.0.1/upload", {
    method: "POST",
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
    body: new ReadableStream<Uint8Array>({
      pull(c) {
        const chunk = chunks[i++];
        if (chunk) c.enqueue(chunk);
        else c.close();
      },
    }),
  });
  const storage = createLocalStorage({
    root,
    publicBaseUrl: "http://127.0.0.1:1",
    signer: createUrlSigner("s"),
  });
  const received = await receiveUpload(request, {
    storage,
    accountId: "acct",
    fileId: crypto.randomUUID(),
    maxBytes: 1 << 30,
  });
  const stored = new Uint8Array(
    await new Response((await storage.get(received.key))?.body as ReadableStream<Uint8Array>).arrayBuffer(),
  );
  return { received, stored, chunks, root };
}

describe("upload: request chunks freed early", () => {
  test("the stored file is exact however the body is cut, also where the parser keeps chunk tails", async () => {
    for (const [size, step, seed] of [
      [700_000, 65_536, 1],
      [700_000, 4_099, 2],
      [300_001, 997, 3],
      [1_000, 1, 4], // one byte per chunk: the parser keeps tails across many chunks
    ] as const) {
      const file = fileData(size, seed);
      const body = multipart(file);
      const { received, stored } = await upload(body, cuts(body, step));
      expect(received.size).toBe(size);
      expect(received.filename).toBe("clip.bin");
      expect(stored.length).toBe(size);
      expect(Buffer.compare(stored, file)).toBe(0);
    }
  });

  test("64 KiB request chunks are freed as soon as they are written, not left to the collector", async () => {
    const file = fileData(3 * 1024 * 1024 + 5, 6);
    const body = multipart(file);
    const points: number[] = [];
    for (let i = 65_536; i < body.length; i += 65_536) points.push(i);
    const { stored, chunks } = await upload(body, points);
    expect(Buffer.compare(stored, file)).toBe(0);
    // Freed chunks are detached. The last ones hold the closing boundary and the trailing field.
    const freed = chunks.filter((c) => c.byteLength === 0).length;
    expect(freed).toBeGreaterThanOrEqual(chunks.length - 2);
    expect(freed).toBeLessThan(chunks.length);
  });

  test("a final CRLF in a chunk of its own is ignored (RFC 2046 epilogue), not a malformed body", async () => {
    const file = fileData(10_000, 7);
    const body = multipart(file);
    const { stored } = await upload(body, [body.length - 2]); // "…--boundary--" | "\r\n"
    expect(Buffer.compare(stored, file)).toBe(0);
  });
});

test("an upload cut off inside the file part is a 422 and leaves no object and no temp file", async () => {
  const body = multipart(fileData(200_000, 9));
  const cut = body.slice(0, body.length - 200);
  const root = tempDir("renderio-upload-");
  await expect(upload(cut, cuts(cut, 8_192), root)).rejects.toMatchObject({ code: "VALIDATION_ERROR" });
  expect(readdirSync(join(root, "tmp"))).toEqual([]);
  expect(readdirSync(root)).not.toContain("objects");
});

test("the multipart parser is installed with our patch: boundary search by Buffer.indexOf under Bun", async () => {
  // scripts/patches (package.json patchedDependencies): 0.8.2 skips indexOf when it sees Bun and searches
  // in JavaScript instead, ~0.25 ms more CPU per 1 MiB upload. A stale install cache can drop the patch.
  const entry = Bun.resolveSync("@mjackson/multipart-parser", import.meta.dir);
  const source = await Bun.file(entry).text();
  expect(source).toContain('if ("Buffer" in globalThis && !("Deno" in globalThis))');
  expect(source).not.toContain('"Bun" in globalThis');
});
