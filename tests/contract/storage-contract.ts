import { expect, test } from "bun:test";
import type { StorageDriver } from "../../src/storage/driver";

/** What a contract run needs besides the driver: how to check for leftovers the driver cannot see. */
export interface ContractTarget {
  name: string;
  driver: () => StorageDriver;
  /** Lists incomplete uploads / temp files left behind (must be empty after a failed put). */
  leftovers?: () => Promise<string[]>;
}

const bytes = (n: number, seed = 1) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

/** A stream of `total` bytes in `chunk`-sized pieces, optionally failing after `failAfter` bytes. */
function source(data: Uint8Array, chunk = 64 * 1024, failAfter?: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (failAfter !== undefined && at >= failAfter) return c.error(new Error("client went away"));
      if (at >= data.length) return c.close();
      c.enqueue(data.slice(at, at + chunk));
      at += chunk;
    },
  });
}

const read = async (s: ReadableStream<Uint8Array>) => new Uint8Array(await new Response(s).arrayBuffer());

/** The one storage contract every driver must pass. Call inside a describe(). */
export function storageContract(t: ContractTarget): void {
  const key = (name: string) => `acct-${t.name}/${crypto.randomUUID()}/${name}`;
  /** A failed put left neither the object nor anything the driver cannot see (temp files, parts). */
  const expectNothingLeft = async (d: StorageDriver, k: string) => {
    expect(await d.head(k)).toBeNull();
    if (t.leftovers) expect(await t.leftovers()).toEqual([]);
  };

  test("put streams a body in and get streams the same bytes out", async () => {
    const d = t.driver();
    const data = bytes(3 * 1024 * 1024 + 123);
    const k = key("clip.mp4");
    expect(await d.put(k, source(data), { contentType: "video/mp4" })).toEqual({ size: data.length });
    const obj = await d.get(k);
    expect(obj?.size).toBe(data.length);
    expect(await read(obj?.body as ReadableStream<Uint8Array>)).toEqual(data);
  });

  test("get with a byte range returns exactly that slice; head reports size, etag and date", async () => {
    const d = t.driver();
    const data = bytes(100_000, 7);
    const k = key("r.bin");
    await d.put(k, source(data));
    const part = await d.get(k, { start: 1000, end: 1999 });
    expect(part?.size).toBe(data.length);
    expect(await read(part?.body as ReadableStream<Uint8Array>)).toEqual(data.slice(1000, 2000));
    const h = await d.head(k);
    expect(h?.size).toBe(data.length);
    expect(h?.etag).toBeString();
    expect(h?.lastModified).toBeInstanceOf(Date);
  });

  test("missing objects: get and head are null, delete is not an error", async () => {
    const d = t.driver();
    const k = key("nothing.bin");
    expect(await d.get(k)).toBeNull();
    expect(await d.head(k)).toBeNull();
    await d.delete(k);
  });

  test("delete removes the object", async () => {
    const d = t.driver();
    const k = key("gone.bin");
    await d.put(k, source(bytes(10)));
    await d.delete(k);
    expect(await d.head(k)).toBeNull();
  });

  test("storage_url ends with the file name, is fetchable without credentials and honours Range", async () => {
    const d = t.driver();
    const data = bytes(50_000, 3);
    const k = key("my video.mp4");
    await d.put(k, source(data));
    // Local URLs are checked by the download route's own tests (they need the server); here the
    // driver must at least produce an absolute URL whose path ends with the name.
    const url = new URL(
      await d.storageUrl({ fileId: k.split("/")[1] as string, key: k, filename: "my video.mp4" }),
    );
    expect(decodeURIComponent(url.pathname)).toEndWith("/my video.mp4");
    if (d.kind === "s3") {
      const full = await fetch(url);
      expect(full.status).toBe(200);
      expect(new Uint8Array(await full.arrayBuffer())).toEqual(data);
      const ranged = await fetch(url, { headers: { range: "bytes=10-19" } });
      expect(ranged.status).toBe(206);
      expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(data.slice(10, 20));
    }
  });

  test("onChunkDone reports every chunk once, in order, when the driver no longer needs it", async () => {
    const d = t.driver();
    const k = key("released.bin");
    // Odd chunk sizes across several S3 parts (5 MiB in the contract runs); small local ones are gathered.
    const data = bytes(12 * 1024 * 1024 + 777, 3);
    const sizes = [1, 65_371, 262_144, 300_001, 7, 5 * 1024 * 1024 + 3];
    const sent: Uint8Array[] = [];
    let at = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (at >= data.length) return c.close();
        const n = sizes[sent.length % sizes.length] as number;
        const chunk = data.slice(at, at + n);
        sent.push(chunk);
        c.enqueue(chunk);
        at += n;
      },
    });
    const done: Uint8Array[] = [];
    const onChunkDone = (chunk: Uint8Array) => {
      done.push(chunk);
      (chunk.buffer as ArrayBuffer).transfer(0); // a reported chunk may be freed at once: the stored bytes must not change
    };
    expect(await d.put(k, body, { onChunkDone })).toEqual({ size: data.length });
    expect(done.length).toBe(sent.length);
    expect(done.every((c, i) => c === sent[i])).toBe(true);
    const obj = await d.get(k);
    expect(await read(obj?.body as ReadableStream<Uint8Array>)).toEqual(data);
  });

  test("onChunk shows each chunk as the driver takes it, before onChunkDone; aborting there stores nothing", async () => {
    const d = t.driver();
    // Whole, in order, each chunk shown before it is reported done.
    const data = bytes(7 * 1024 * 1024 + 5, 7);
    const events: string[] = [];
    const seen: Uint8Array[] = [];
    const size = await d.put(key("seen.bin"), source(data, 300_001), {
      onChunk: (c) => {
        seen.push(c);
        events.push(`take ${seen.length - 1}`);
      },
      onChunkDone: (c) => events.push(`done ${seen.indexOf(c)}`),
    });
    expect(size).toEqual({ size: data.length });
    expect(seen.length).toBe(Math.ceil(data.length / 300_001));
    expect(new Uint8Array(await new Blob(seen).arrayBuffer())).toEqual(data);
    for (let i = 0; i < seen.length; i++)
      expect(events.indexOf(`take ${i}`)).toBeLessThan(events.indexOf(`done ${i}`));

    // A cap enforced from onChunk: the chunk past it never gets stored, and nothing is left.
    const k = key("capped.bin");
    const ac = new AbortController();
    let taken = 0;
    const put = d.put(k, source(bytes(12 * 1024 * 1024), 1024 * 1024), {
      signal: ac.signal,
      onChunk: (c) => {
        taken += c.byteLength;
        if (taken > 6 * 1024 * 1024) ac.abort(new Error("too large"));
      },
    });
    await expect(put).rejects.toThrow("too large");
    expect(taken).toBe(7 * 1024 * 1024);
    await expectNothingLeft(d, k);
  });

  test("aborting while the body has stalled ends the put at once and leaves nothing", async () => {
    const d = t.driver();
    const k = key("stalled.bin");
    const ac = new AbortController();
    let sent = 0;
    // 6 MiB (past one S3 part), then the body never delivers again (a client that stopped sending).
    const stalled = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 6 * 1024 * 1024) return new Promise<void>(() => {});
        c.enqueue(bytes(1024 * 1024, sent));
        sent += 1024 * 1024;
      },
    });
    const put = d.put(k, stalled, { signal: ac.signal });
    await Bun.sleep(300);
    const t0 = performance.now();
    ac.abort(new Error("client went away"));
    await expect(put).rejects.toThrow("client went away");
    expect(performance.now() - t0).toBeLessThan(2000);
    await expectNothingLeft(d, k);
  });

  test("a body that fails mid-way leaves no object and no leftovers", async () => {
    const d = t.driver();
    const k = key("broken.bin");
    // Larger than one multipart part so S3 drivers really start a multipart upload.
    const data = bytes(20 * 1024 * 1024);
    await expect(d.put(k, source(data, 1024 * 1024, 12 * 1024 * 1024))).rejects.toThrow();
    await expectNothingLeft(d, k);
  });

  test("aborting the signal stops a put and leaves nothing", async () => {
    const d = t.driver();
    const k = key("aborted.bin");
    const ac = new AbortController();
    let sent = 0;
    const slow = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (sent >= 16 * 1024 * 1024) return c.close();
        if (sent >= 9 * 1024 * 1024) ac.abort(new Error("cancelled"));
        c.enqueue(new Uint8Array(512 * 1024));
        sent += 512 * 1024;
        await Bun.sleep(1);
      },
    });
    await expect(d.put(k, slow, { signal: ac.signal })).rejects.toThrow();
    await expectNothingLeft(d, k);
  });
}
