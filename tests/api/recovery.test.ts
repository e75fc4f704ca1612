import { afterAll, beforeAll, expect, test } from "bun:test";
import { openTestDb } from "../helpers/db";
import { makeSamples, type Samples } from "../helpers/media";
import {
  client,
  startServer,
  type TestServer,
  tempDir,
  uploadStored,
  waitForCommand,
  waitForCommandStatus,
  waitForFile,
} from "../helpers/server";

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

test("a command still running when the grace period ends goes back to QUEUED and runs after the restart", async () => {
  const s = await startServer({ env: { SHUTDOWN_GRACE_SECONDS: "1" } });
  const api = client(s.url, s.firstKey);
  const video = await uploadStored(api, samples.mp4);
  const r = await api("POST", "/api/v1/run-ffmpeg-command", {
    body: {
      input_files: { in_v: video.storage_url },
      output_files: { out_v: "long.mp4" },
      // Runs until killed: the input loops forever.
      ffmpeg_command: "-stream_loop -1 -i {{in_v}} -c:v libx264 -preset veryslow {{out_v}}",
    },
  });
  const id = r.json.command_id as string;
  await waitForCommandStatus(api, id, "PROCESSING");
  const t0 = performance.now();
  expect(await s.stop("SIGTERM")).toBe(0);
  expect(performance.now() - t0).toBeLessThan(8000);
  expect(s.output()).toContain('"msg":"command put back on the queue (shutdown)"');
  expect(s.output()).toContain('"requeuedCommands":1');

  const db = await openTestDb(s.dataDir);
  const [row] = await db.all("select status, attempts from commands where id = ?", [id]);
  const [outputs] = await db.all<{ n: number | bigint }>(
    "select count(*) as n from files where command_id = ?",
    [id],
  );
  await db.close();
  expect(row).toEqual({ status: "QUEUED", attempts: 0 }); // the interrupted attempt is not spent
  expect(Number(outputs?.n)).toBe(0);

  // The next start runs it again; cancelling then ends it (it would loop forever).
  await server?.stop(); // the first test's server: only the last one assigned is stopped in afterAll
  server = await startServer({ dataDir: s.dataDir, s3Prefix: s.s3Prefix });
  const again = client(server.url, s.firstKey);
  expect(await waitForCommandStatus(again, id, "PROCESSING")).toMatchObject({ status: "PROCESSING" });
  expect((await again("POST", `/api/v1/commands/${id}/cancel`)).status).toBe(200);
  expect(await waitForCommand(again, id)).toMatchObject({ status: "FAILED", error_status: "CANCELLED" });
}, 60_000);
