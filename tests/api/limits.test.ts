import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { client, startServer, storedObjects, type TestServer } from "../helpers/server";

const LIMIT = 64 * 1024;

describe("size limits", () => {
  let server: TestServer;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    server = await startServer({ env: { MAX_UPLOAD_BYTES: String(LIMIT), MAX_JSON_BODY_BYTES: "2048" } });
    api = client(server.url, server.firstKey);
  }, 120_000);
  afterAll(() => server.stop());

  test("a file one byte over MAX_UPLOAD_BYTES is 413 PAYLOAD_TOO_LARGE and nothing is stored", async () => {
    const form = new FormData();
    form.append("file", new File([new Uint8Array(LIMIT + 1)], "big.bin"));
    const r = await api("POST", "/api/v1/files/upload", { body: form });
    expect(r.status).toBe(413);
    expect(r.json.error).toBe("PAYLOAD_TOO_LARGE");
    expect(await storedObjects(server)).toEqual([]);
    expect((await api("GET", "/api/v1/files")).json.files).toHaveLength(0);
  });

  test("a file of exactly MAX_UPLOAD_BYTES is accepted", async () => {
    const form = new FormData();
    form.append("file", new File([new Uint8Array(LIMIT)], "exact.bin"));
    const r = await api("POST", "/api/v1/files/upload", { body: form });
    expect(r.status).toBe(200);
  });

  test("the limit is enforced while streaming: a chunked body with no Content-Length is cut off", async () => {
    const boundary = "b0undary";
    const enc = new TextEncoder();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(
          enc.encode(
            `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.bin"\r\n\r\n`,
          ),
        );
      },
      pull(c) {
        // Far more than the limit if the server kept reading; it must stop us early.
        if (sent > 64 * LIMIT) return c.close();
        c.enqueue(new Uint8Array(16 * 1024));
        sent += 16 * 1024;
      },
    });
    const res = await fetch(`${server.url}/api/v1/files/upload`, {
      method: "POST",
      headers: {
        "x-api-key": server.firstKey as string,
        "content-type": `multipart/form-data; boundary=${boundary}`,
      },
      body,
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toBe("PAYLOAD_TOO_LARGE");
    expect(await storedObjects(server)).toHaveLength(1); // only the exact-size file from the previous test
  });

  test("a JSON body above MAX_JSON_BODY_BYTES is refused before it is read", async () => {
    const r = await api("DELETE", "/api/v1/files/00000000-0000-0000-0000-000000000000", {
      body: { pad: "x".repeat(4096) },
    });
    expect(r.status).toBe(413);
    expect(r.json.error).toBe("PAYLOAD_TOO_LARGE");
  });
});

describe("rate limiting", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { RATE_LIMIT_PER_MINUTE: "6", RATE_LIMIT_BURST: "3" } });
  }, 120_000);
  afterAll(() => server.stop());

  test("a key past its burst gets 429 RATE_LIMITED with Retry-After; other keys are unaffected", async () => {
    const api = client(server.url, server.firstKey);
    const codes: number[] = [];
    let limited: Awaited<ReturnType<typeof api>> | undefined;
    for (let i = 0; i < 5; i++) {
      const r = await api("GET", "/api/v1/files");
      codes.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    expect(limited?.json.error).toBe("RATE_LIMITED");
    const retry = Number(limited?.headers.get("retry-after"));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(10);
    // Unauthenticated calls are answered 401, not throttled against the key's bucket.
    expect((await client(server.url)("GET", "/api/v1/files")).status).toBe(401);
  });
});
