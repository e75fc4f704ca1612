import { afterAll, beforeAll, expect, test } from "bun:test";
import { openTestDb } from "../helpers/db";
import { makeSamples, type Samples } from "../helpers/media";
import { client, startServer, type TestServer, tempDir, waitForFile } from "../helpers/server";

let samples: Samples;
let server: TestServer | undefined;
beforeAll(async () => {
  samples = await makeSamples(tempDir("renderio-samples-"));
}, 120_000);
afterAll(async () => {
  await server?.stop();
}, 120_000);

test("files left PROCESSING by a crash are probed again after a restart; nothing stays PROCESSING", async () => {
  server = await startServer();
  const key = server.firstKey as string;
  const dataDir = server.dataDir;
  let api = client(server.url, key);
  const form = new FormData();
  form.append("file", Bun.file(samples.mp4), "clip.mp4");
  const id = (await api("POST", "/api/v1/files/upload", { body: form })).json.file_id as string;
  await waitForFile(api, id);
  // Simulate a crash mid-probe: kill the server hard and put the row back as an unfinished probe.
  await server.stop("SIGKILL");
  const db = await openTestDb(dataDir);
  await db.run(
    "update files set status = 'PROCESSING', codec = null, width = null, file_type = null, probe_attempts = 1 where id = ?",
    [id],
  );
  const exhausted = crypto.randomUUID();
  const [row] = await db.all<{ account_id: string }>("select account_id from files where id = ?", [id]);
  const accountId = row?.account_id as string;
  await db.run(
    `insert into files (id, account_id, store_type, status, filename, storage_key, size_bytes, probe_attempts, created_at)
     values (?, ?, 'UPLOAD', 'PROCESSING', 'stuck.mp4', ?, 1, 3, ?)`,
    [exhausted, accountId, `${accountId}/${exhausted}/stuck.mp4`, new Date()],
  );
  await db.close();

  server = await startServer({ dataDir, s3Prefix: server.s3Prefix });
  expect(server.firstKey).toBeUndefined(); // keys exist: no new key is printed
  api = client(server.url, key);
  const f = await waitForFile(api, id);
  expect(f).toMatchObject({ status: "STORED", codec: "h264", width: 320, file_type: "video" });
  const stuck = await waitForFile(api, exhausted);
  expect(stuck).toMatchObject({ status: "FAILED", error_status: "PROBE_FAILED" });
});

test("SIGTERM stops the server cleanly (exit code 0)", async () => {
  const s = await startServer();
  expect(await s.stop("SIGTERM")).toBe(0);
  expect(s.output()).toContain('"msg":"stopped"');
});
