import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openTestDb } from "../helpers/db";
import { makeSamples, type Samples } from "../helpers/media";
import {
  cli,
  client,
  startServer,
  storedObjects,
  type TestServer,
  tempDir,
  waitForFile,
} from "../helpers/server";

let server: TestServer;
let samples: Samples;
let key: string;
let otherKey: string;
let api: ReturnType<typeof client>;
let other: ReturnType<typeof client>;

const upload = (call: ReturnType<typeof client>, path: string, name?: string) => {
  const form = new FormData();
  form.append("file", Bun.file(path), name ?? path.split("/").pop());
  return call("POST", "/api/v1/files/upload", { body: form });
};

beforeAll(async () => {
  const dir = tempDir("renderio-samples-");
  [samples, server] = await Promise.all([makeSamples(dir), startServer()]);
  key = server.firstKey as string;
  expect(key).toMatch(/^ffsk_[0-9a-f]{64}$/);
  otherKey = (await cli(server.dataDir, ["keys", "create", "--name", "other"])).trim();
  api = client(server.url, key);
  other = client(server.url, otherKey);
}, 120_000);

afterAll(async () => {
  await server?.stop();
}, 120_000);

describe("upload → probe → get", () => {
  test("an MP4 upload answers {file_id} and becomes STORED with its metadata", async () => {
    const r = await upload(api, samples.mp4);
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(["file_id"]);
    const f = await waitForFile(api, r.json.file_id);
    expect(f).toMatchObject({
      file_id: r.json.file_id,
      status: "STORED",
      rendi_store_type: "UPLOAD",
      is_deleted: false,
      filename: "sample.mp4",
      original_file_url: null,
      file_type: "video",
      file_format: "mp4",
      codec: "h264",
      pixel_format: "yuv420p",
      mime_type: "video/mp4",
      width: 320,
      height: 240,
      frame_rate: 25,
      sample_rate: 44100,
      channels: 1,
      error_status: null,
      error_message: null,
    });
    expect(f.duration).toBeCloseTo(2, 1);
    expect(f.size_mbytes).toBeCloseTo(Bun.file(samples.mp4).size / 1048576, 5);
    expect(typeof f.bitrate_video_kb).toBe("number");
    expect(typeof f.bitrate_audio_kb).toBe("number");
    if (server.storage === "local")
      expect(f.storage_url).toStartWith(`${server.url}/media/${f.file_id}/sample.mp4?token=`);
    else expect(new URL(f.storage_url).pathname).toEndWith(`/${f.file_id}/sample.mp4`);
    expect(new Date(f.created_at).toISOString()).toBe(f.created_at);
  });

  test("every documented key is present on every file, null where it does not apply", async () => {
    const r = await upload(api, samples.mp3);
    const f = await waitForFile(api, r.json.file_id);
    const keys = [
      "file_id",
      "storage_url",
      "status",
      "rendi_store_type",
      "is_deleted",
      "original_file_url",
      "size_mbytes",
      "duration",
      "file_type",
      "file_format",
      "codec",
      "pixel_format",
      "mime_type",
      "width",
      "height",
      "frame_rate",
      "bitrate_video_kb",
      "bitrate_audio_kb",
      "sample_rate",
      "channels",
      "error_status",
      "error_message",
      "created_at",
    ];
    for (const k of keys) expect(f).toHaveProperty(k);
    expect(f).toMatchObject({
      status: "STORED",
      file_type: "audio",
      file_format: "mp3",
      codec: "mp3",
      mime_type: "audio/mpeg",
    });
    expect(f.width).toBeNull();
    expect(f.pixel_format).toBeNull();
    expect(f.bitrate_video_kb).toBeNull();
  });

  test("a file that is not media is STORED as file_type other; a broken MP4 is FAILED with PROBE_FAILED", async () => {
    const text = await waitForFile(api, (await upload(api, samples.text)).json.file_id);
    expect(text).toMatchObject({
      status: "STORED",
      file_type: "other",
      codec: null,
      duration: null,
      width: null,
    });
    expect(text.storage_url).toBeString();

    const bad = await waitForFile(api, (await upload(api, samples.truncatedMp4)).json.file_id);
    expect(bad).toMatchObject({ status: "FAILED", error_status: "PROBE_FAILED", storage_url: null });
    expect(bad.error_message).toBeString();
    expect(bad.error_message).not.toContain(server.dataDir);
  });

  test("the client's file name is display data only: paths, control and bidi characters are stripped", async () => {
    const r = await upload(api, samples.png, "../../etc/\u202Eevil\u0007.png");
    const f = await waitForFile(api, r.json.file_id);
    expect(f.filename).toBe("evil.png");
    expect(new URL(f.storage_url).pathname).toEndWith(`/${f.file_id}/evil.png`);
    const where = server.storage === "local" ? join(server.dataDir, "files") : server.s3Prefix;
    expect((await storedObjects(server)).every((p) => p.startsWith(where) && !p.includes(".."))).toBe(true);
  });
});

describe("storage_url download", () => {
  let file: any;
  const bytes = async () => new Uint8Array(await Bun.file(samples.mp4).arrayBuffer());
  beforeAll(async () => {
    file = await waitForFile(api, (await upload(api, samples.mp4)).json.file_id);
  }, 120_000);

  test("GET without an API key returns the exact bytes with type, length, ETag and Last-Modified", async () => {
    const res = await fetch(file.storage_url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("video/mp4");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("etag")).toBeString();
    expect(res.headers.get("last-modified")).toBeString();
    expect(Number(res.headers.get("content-length"))).toBe(Bun.file(samples.mp4).size);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(await bytes());
  });

  test("Range returns 206 with the right slice; suffix ranges and HEAD work; past-the-end is 416", async () => {
    const all = await bytes();
    const r1 = await fetch(file.storage_url, { headers: { range: "bytes=100-199" } });
    expect(r1.status).toBe(206);
    expect(r1.headers.get("content-range")).toBe(`bytes 100-199/${all.length}`);
    expect(new Uint8Array(await r1.arrayBuffer())).toEqual(all.slice(100, 200));
    const r2 = await fetch(file.storage_url, { headers: { range: "bytes=-50" } });
    expect(new Uint8Array(await r2.arrayBuffer())).toEqual(all.slice(all.length - 50));
    if (server.storage === "local") {
      // A presigned S3 URL is signed for GET only; HEAD is a feature of our own download route.
      const head = await fetch(file.storage_url, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(Number(head.headers.get("content-length"))).toBe(all.length);
    }
    const r3 = await fetch(file.storage_url, { headers: { range: `bytes=${all.length + 10}-` } });
    expect(r3.status).toBe(416);
    // RFC 9110 asks for Content-Range on a 416; our route sends it, Ceph RGW does not.
    if (server.storage === "local") expect(r3.headers.get("content-range")).toBe(`bytes */${all.length}`);
  });

  test("If-None-Match with the ETag answers 304", async () => {
    const etag = (await fetch(file.storage_url)).headers.get("etag") as string;
    const res = await fetch(file.storage_url, { headers: { "if-none-match": etag } });
    expect(res.status).toBe(304);
  });

  test("a tampered or missing token, or another file name, is refused", async () => {
    const u = new URL(file.storage_url);
    if (server.storage === "s3") {
      const sig = u.searchParams.get("X-Amz-Signature") as string;
      u.searchParams.set("X-Amz-Signature", (sig[0] === "a" ? "b" : "a") + sig.slice(1));
      expect((await fetch(u)).status).toBe(403);
      return;
    }
    const token = u.searchParams.get("token") as string;
    const tampered = new URL(u);
    tampered.searchParams.set("token", (token[0] === "A" ? "B" : "A") + token.slice(1));
    expect((await fetch(tampered)).status).toBe(404);
    const none = new URL(u);
    none.search = "";
    expect((await fetch(none)).status).toBe(404);
    const renamed = new URL(u);
    renamed.pathname = renamed.pathname.replace("sample.mp4", "other.mp4");
    expect((await fetch(renamed)).status).toBe(404);
    const body = (await (await fetch(tampered)).json()) as { error: string };
    expect(body.error).toBe("NOT_FOUND");
  });
});

describe("list", () => {
  test("newest first, with limit/offset paging and echoed values", async () => {
    const acct = client(server.url, (await cli(server.dataDir, ["keys", "create"])).trim());
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await upload(acct, samples.text, `n${i}.txt`)).json.file_id);
    const page1 = await acct("GET", "/api/v1/files?limit=2");
    expect(page1.status).toBe(200);
    expect(page1.json.limit).toBe(2);
    expect(page1.json.offset).toBe(0);
    expect(page1.json.files.map((f: any) => f.file_id)).toEqual([ids[4], ids[3]]);
    const page3 = await acct("GET", "/api/v1/files?limit=2&offset=4");
    expect(page3.json.files.map((f: any) => f.file_id)).toEqual([ids[0]]);
    const all = await acct("GET", "/api/v1/files");
    expect(all.json.limit).toBe(50);
    expect(all.json.files).toHaveLength(5);
  });

  test.each(["limit=0", "limit=101", "limit=abc", "offset=-1", "limit=1.5"])(
    "bad query %s is 400 INVALID_REQUEST",
    async (q) => {
      const r = await api("GET", `/api/v1/files?${q}`);
      expect(r.status).toBe(400);
      expect(r.json.error).toBe("INVALID_REQUEST");
      expect(r.json.message).toBeString();
    },
  );
});

describe("delete", () => {
  test("removes the bytes, keeps the record with is_deleted, second delete is 404", async () => {
    const f = await waitForFile(api, (await upload(api, samples.wav)).json.file_id);
    const before = (await storedObjects(server)).filter((p) => p.includes(f.file_id));
    expect(before).toHaveLength(1);
    const d = await api("DELETE", `/api/v1/files/${f.file_id}`);
    expect(d.status).toBe(200);
    expect(d.json).toEqual({ deleted: true, file_id: f.file_id });
    expect((await storedObjects(server)).filter((p) => p.includes(f.file_id))).toHaveLength(0);
    const g = await api("GET", `/api/v1/files/${f.file_id}`);
    expect(g.json).toMatchObject({
      is_deleted: true,
      storage_url: null,
      status: "STORED",
      file_type: "audio",
    });
    expect((await fetch(f.storage_url)).status).toBe(404);
    const again = await api("DELETE", `/api/v1/files/${f.file_id}`);
    expect(again.status).toBe(404);
    expect(again.json.error).toBe("NOT_FOUND");
  });

  test("deleting while the probe runs neither crashes the probe nor resurrects the file", async () => {
    const id = (await upload(api, samples.webm)).json.file_id;
    const d = await api("DELETE", `/api/v1/files/${id}`);
    expect(d.status).toBe(200);
    await Bun.sleep(1500);
    const g = await api("GET", `/api/v1/files/${id}`);
    expect(g.json.is_deleted).toBe(true);
    expect(g.json.storage_url).toBeNull();
    expect(g.json.status).not.toBe("PROCESSING");
    expect((await storedObjects(server)).filter((p) => p.includes(id))).toHaveLength(0);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe("tenancy and auth", () => {
  let fileId: string;
  beforeAll(async () => {
    fileId = (await waitForFile(api, (await upload(api, samples.png)).json.file_id)).file_id;
  }, 120_000);

  const routes = () => [
    ["GET", `/api/v1/files/${fileId}`],
    ["DELETE", `/api/v1/files/${fileId}`],
    ["GET", "/api/v1/files"],
    ["POST", "/api/v1/files/upload"],
  ];

  test("no key, a malformed key and an unknown well-formed key are 401 UNAUTHORIZED on every route", async () => {
    for (const [method, path] of routes()) {
      for (const k of [undefined, "nope", `ffsk_${"0".repeat(64)}`]) {
        const r = await client(server.url, k)(method as string, path as string);
        expect(r.status).toBe(401);
        expect(r.json.error).toBe("UNAUTHORIZED");
      }
    }
  });

  test("another account gets 404 for the file and never sees it listed", async () => {
    expect((await other("GET", `/api/v1/files/${fileId}`)).status).toBe(404);
    expect((await other("DELETE", `/api/v1/files/${fileId}`)).json.error).toBe("NOT_FOUND");
    const list = await other("GET", "/api/v1/files?limit=100");
    expect(list.json.files.some((f: any) => f.file_id === fileId)).toBe(false);
    expect((await api("GET", `/api/v1/files/${fileId}`)).json.is_deleted).toBe(false);
  });

  test("a revoked key stops working at once", async () => {
    const k = (await cli(server.dataDir, ["keys", "create", "--name", "temp"])).trim();
    expect((await client(server.url, k)("GET", "/api/v1/files")).status).toBe(200);
    const list = await cli(server.dataDir, ["keys", "list"]);
    const line = list.split("\n").find((l) => l.includes("\ttemp\t")) as string;
    expect(line).toContain(k.slice(0, 13));
    expect(list).not.toContain(k);
    await cli(server.dataDir, ["keys", "revoke", line.split("\t")[0] as string]);
    expect((await client(server.url, k)("GET", "/api/v1/files")).status).toBe(401);
  });
});

describe("upload errors leave nothing behind", () => {
  const filesCount = async () => {
    const db = await openTestDb(server.dataDir);
    const [row] = await db.all<{ n: number | string }>("select count(*) as n from files");
    await db.close();
    return Number(row?.n);
  };

  test("not multipart is 422 VALIDATION_ERROR with detail", async () => {
    const r = await api("POST", "/api/v1/files/upload", { body: { file: "x" } });
    expect(r.status).toBe(422);
    expect(r.json.error).toBe("VALIDATION_ERROR");
    expect(r.json.detail[0]).toMatchObject({ loc: ["body"], type: "value_error" });
  });

  test("multipart without a file part is 422; two file parts are 422 and store nothing", async () => {
    const before = [await filesCount(), (await storedObjects(server)).length];
    const noFile = new FormData();
    noFile.append("other", "x");
    const r1 = await api("POST", "/api/v1/files/upload", { body: noFile });
    expect(r1.status).toBe(422);
    expect(r1.json.detail[0].loc).toEqual(["body", "file"]);
    const two = new FormData();
    two.append("file", Bun.file(samples.png), "a.png");
    two.append("file", Bun.file(samples.jpg), "b.jpg");
    const r2 = await api("POST", "/api/v1/files/upload", { body: two });
    expect(r2.status).toBe(422);
    expect(r2.json.error).toBe("VALIDATION_ERROR");
    expect([await filesCount(), (await storedObjects(server)).length]).toEqual(before);
  });

  test("the closing CRLF arriving in a packet of its own still completes the upload", async () => {
    const boundary = "EpIlOgUe";
    const content = "bytes of a small text file\n";
    const body =
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="late.txt"\r\n\r\n` +
      `${content}\r\n--${boundary}--`;
    let answer = "";
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: server.port,
      socket: {
        data(_s, d) {
          answer += d.toString();
        },
      },
    });
    // Chunked, as streaming clients send it: the final CRLF comes as a chunk of its own.
    socket.write(
      `POST /api/v1/files/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: ${key}\r\nConnection: close\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${body.length.toString(16)}\r\n${body}\r\n`,
    );
    await Bun.sleep(300); // the server has parsed the closing boundary before the CRLF comes
    socket.write("2\r\n\r\n\r\n0\r\n\r\n");
    for (let i = 0; i < 100 && !answer.includes("}"); i++) await Bun.sleep(20);
    socket.end();
    expect(answer).toStartWith("HTTP/1.1 200");
    const id = JSON.parse(answer.slice(answer.indexOf("{"))).file_id;
    const f = await waitForFile(api, id);
    expect(f.filename).toBe("late.txt");
    expect(await (await fetch(f.storage_url)).text()).toBe(content);
  });

  test("a client that disconnects mid-upload leaves no object, no temp file and no row", async () => {
    const before = [await filesCount(), (await storedObjects(server)).length];
    const boundary = "XyZbOuNdArY";
    const head =
      `POST /api/v1/files/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: ${key}\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 50000000\r\n\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n`;
    const socket = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {} } });
    socket.write(head);
    const chunk = new Uint8Array(256 * 1024).fill(7);
    for (let i = 0; i < 16; i++) {
      socket.write(chunk);
      await Bun.sleep(5);
    }
    await Bun.sleep(200);
    socket.terminate();
    await Bun.sleep(500);
    expect([await filesCount(), (await storedObjects(server)).length]).toEqual(before);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});
