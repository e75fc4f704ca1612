import { afterAll, beforeAll, expect, test } from "bun:test";
import { openTestDb } from "../helpers/db";
import { makeSamples, type Samples } from "../helpers/media";
import {
  client,
  startServer,
  storedObjects,
  type TestServer,
  tempDir,
  uploadStored,
} from "../helpers/server";

/** RETENTION_DAYS: old files are deleted at start (and hourly) like DELETE /files/:id would. */
let samples: Samples;
let server: TestServer | undefined;
beforeAll(async () => {
  samples = await makeSamples(tempDir("renderio-samples-"));
}, 120_000);
afterAll(async () => {
  await server?.stop();
}, 60_000);

const DAY = 24 * 3600 * 1000;

test("files older than RETENTION_DAYS lose their bytes and become is_deleted; newer and PROCESSING stay", async () => {
  const first = await startServer({ env: { RETENTION_DAYS: "2" } });
  const key = first.firstKey as string;
  let api = client(first.url, key);
  const [old, fresh, busy] = await Promise.all([
    uploadStored(api, samples.mp4, "old.mp4"),
    uploadStored(api, samples.mp4, "fresh.mp4"),
    uploadStored(api, samples.wav, "busy.wav"),
  ]);
  // Every file is new: the start-up sweep of this server deleted nothing.
  expect(first.output()).not.toContain("retention: deleted old files");
  expect(await storedObjects(first)).toHaveLength(3);
  await first.stop();

  // Age two of them past the limit (one still PROCESSING, as if its probe never finished), one not.
  const db = await openTestDb(first.dataDir);
  const age = (id: string, days: number) =>
    db.run("update files set created_at = ? where id = ?", [new Date(Date.now() - days * DAY), id]);
  await age(old.file_id, 3);
  await age(fresh.file_id, 1);
  await age(busy.file_id, 3);
  await db.run("update files set status = 'PROCESSING' where id = ?", [busy.file_id]);
  await db.close();

  server = await startServer({
    dataDir: first.dataDir,
    s3Prefix: first.s3Prefix,
    env: { RETENTION_DAYS: "2" },
  });
  api = client(server.url, key);
  let gone: any;
  for (let i = 0; i < 100; i++) {
    gone = (await api("GET", `/api/v1/files/${old.file_id}`)).json;
    if (gone.is_deleted) break;
    await Bun.sleep(50);
  }
  expect(gone).toMatchObject({ file_id: old.file_id, is_deleted: true, storage_url: null });
  expect((await api("GET", `/api/v1/files/${fresh.file_id}`)).json).toMatchObject({ is_deleted: false });
  const objects = await storedObjects(server);
  expect(objects.some((o) => o.includes(old.file_id))).toBe(false);
  expect(objects.some((o) => o.includes(fresh.file_id))).toBe(true);
  expect(objects.some((o) => o.includes(busy.file_id))).toBe(true);
  expect(server.output()).toContain('"msg":"retention: deleted old files"');
  expect(server.output()).toContain('"count":1');
}, 60_000);
