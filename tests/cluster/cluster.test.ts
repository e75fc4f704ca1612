import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createPgDatabase, openTestDb, type TestDb } from "../helpers/db";
import { makeSamples, type Samples } from "../helpers/media";
import {
  client,
  startServer,
  type TestServer,
  tempDir,
  uploadStored,
  waitForCommand,
} from "../helpers/server";

/**
 * Two renderio nodes on one PostgreSQL database and one S3 store (the local Ceph RGW), as behind a load
 * balancer: always on PostgreSQL (scripts/pg/pg.sh, started by the helper when not running), whatever
 * TEST_DATABASE says, since SQLite is one node by construction; it lives outside tests/api so the
 * PostgreSQL pass of the API suite does not run it twice. Leases are 2 s and nodes poll every 200 ms,
 * so a dead node's work is taken over within seconds.
 */
const clusterEnv = {
  LEASE_SECONDS: "2",
  WORK_POLL_MS: "200",
  COMMAND_CONCURRENCY: "1",
  WEBHOOK_POLL_MS: "200",
};

let samples: Samples;
let a: TestServer;
let b: TestServer;
let db: TestDb;
let key: string;
const prefix = `cluster-${crypto.randomUUID()}/`;

const nodeIdOf = (s: TestServer) =>
  /"msg":"renderio listening".*?"node":"([0-9a-f-]{36})"/.exec(s.output())?.[1];
const succeededOn = (s: TestServer, id: string) =>
  s
    .output()
    .split("\n")
    .filter((l) => l.includes('"msg":"command succeeded"') && l.includes(id)).length;

async function startNode(databaseUrl: string, env: Record<string, string> = {}) {
  return startServer({
    dataDir: tempDir(),
    storage: "s3",
    s3Prefix: prefix,
    env: { ...clusterEnv, DATABASE_URL: databaseUrl, ...env },
  });
}

/**
 * Waits until the command is PROCESSING under a node's lease; returns [that node, the other one]. Either
 * node may win the claim: the one it was submitted to (fast path) or the other one (its poll).
 */
async function runningNodes(id: string): Promise<[TestServer, TestServer]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [row] = await db.all<{ status: string; lease_owner: string | null }>(
      "select status, lease_owner from commands where id = ?",
      [id],
    );
    if (row?.status === "PROCESSING" && row.lease_owner === nodeIdOf(a)) return [a, b];
    if (row?.status === "PROCESSING" && row.lease_owner === nodeIdOf(b)) return [b, a];
    if (Date.now() > deadline) throw new Error(`command never ran on a node: ${JSON.stringify(row)}`);
    await Bun.sleep(50);
  }
}

describe("two nodes, one PostgreSQL database, one bucket", () => {
  beforeAll(async () => {
    const url = await createPgDatabase();
    // Started together: migrations run once, under the advisory lock.
    [samples, a, b] = await Promise.all([
      makeSamples(tempDir("renderio-samples-")),
      startNode(url),
      startNode(url),
    ]);
    key = (a.firstKey ?? b.firstKey) as string;
    expect(key).toMatch(/^ffsk_/);
    // The first key is created under the migration lock: by one node only.
    expect([a.firstKey, b.firstKey].filter(Boolean)).toHaveLength(1);
    db = await openTestDb(a.dataDir, url);
  }, 120_000);

  afterAll(async () => {
    await db?.close();
    await Promise.all([a?.stop(), b?.stop()]);
  }, 60_000);

  test("work submitted to node A is done, and every node serves it; both nodes take work", async () => {
    const onA = client(a.url, key);
    const onB = client(b.url, key);
    const video = await uploadStored(onA, samples.mp4);
    expect((await onB("GET", `/api/v1/files/${video.file_id}`)).json.status).toBe("STORED");

    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await onA("POST", "/api/v1/run-ffmpeg-command", {
        body: {
          input_files: { in_v: video.storage_url },
          output_files: { out_t: `t${i}.jpg` },
          ffmpeg_command: `-ss 0.${i} -i {{in_v}} -frames:v 1 {{out_t}}`,
        },
      });
      expect(r.status).toBe(200);
      ids.push(r.json.command_id);
    }
    for (const id of ids) {
      const done = await waitForCommand(onB, id);
      expect(done.status).toBe("SUCCESS");
      const out = done.output_files.out_t;
      expect((await fetch(out.storage_url)).status).toBe(200);
    }
    // One slot per node and six commands submitted to A: B claimed some of them from the database.
    const owners = await db.all<{ lease_owner: string }>(
      `select distinct lease_owner from commands where id in (${ids.map(() => "?").join(",")})`,
      ids,
    );
    expect(new Set<string | undefined>(owners.map((o) => o.lease_owner))).toEqual(
      new Set([nodeIdOf(a), nodeIdOf(b)]),
    );
  }, 120_000);

  test("a cancel sent to the other node reaches the node running the command", async () => {
    const onA = client(a.url, key);
    const video = await uploadStored(onA, samples.mp4);
    const r = await onA("POST", "/api/v1/run-ffmpeg-command", {
      body: {
        input_files: { in_v: video.storage_url },
        output_files: { out_long: "long.mp4" },
        ffmpeg_command: "-stream_loop -1 -i {{in_v}} -c:v libx264 -preset veryslow {{out_long}}",
        max_command_run_seconds: 60,
      },
    });
    const id = r.json.command_id as string;
    const [, other] = await runningNodes(id);
    const onOther = client(other.url, key);
    expect((await onOther("POST", `/api/v1/commands/${id}/cancel`)).status).toBe(200);
    const done = await waitForCommand(onOther, id, 20_000);
    expect(done).toMatchObject({ status: "FAILED", error_status: "CANCELLED" });
  }, 60_000);

  test("SIGKILL of the node running a command: the other node re-runs it after the lease lapses; it completes once", async () => {
    const onA = client(a.url, key);
    const video = await uploadStored(onA, samples.mp4);
    const r = await onA("POST", "/api/v1/run-ffmpeg-command", {
      body: {
        input_files: { in_v: video.storage_url },
        output_files: { out_long: "long.mp4" },
        // Several seconds of encoding: long enough to be killed mid-way.
        ffmpeg_command: "-stream_loop -1 -i {{in_v}} -t 24 -c:v libx264 -preset medium -an {{out_long}}",
        max_command_run_seconds: 120,
      },
    });
    expect(r.status).toBe(200);
    const id = r.json.command_id as string;
    const [victim, survivor] = await runningNodes(id);
    await Bun.sleep(700); // ffmpeg is under way on the victim
    await victim.stop("SIGKILL");

    const done = await waitForCommand(client(survivor.url, key), id, 120_000);
    expect(done.status).toBe("SUCCESS");
    const [row] = await db.all<{ lease_owner: string; attempts: number }>(
      "select lease_owner, attempts from commands where id = ?",
      [id],
    );
    expect(row?.lease_owner).toBe(nodeIdOf(survivor) as string);
    expect(Number(row?.attempts)).toBe(2);
    // Completed exactly once: one success line (on the survivor, none on the victim), one output row.
    expect(succeededOn(victim, id)).toBe(0);
    expect(succeededOn(survivor, id)).toBe(1);
    const outs = await db.all<{ n: number | string }>(
      "select count(*) as n from files where command_id = ?",
      [id],
    );
    expect(Number(outs[0]?.n)).toBe(1);
    expect((await fetch(done.output_files.out_long.storage_url)).status).toBe(200);
  }, 180_000);

  test("no command of this database ran twice to completion", async () => {
    const rows = await db.all<{ id: string }>("select id from commands where status = 'SUCCESS'");
    expect(rows.length).toBeGreaterThan(0);
    for (const { id } of rows) expect(succeededOn(a, id) + succeededOn(b, id)).toBe(1);
  });
});

describe("rate limits are shared by the nodes", () => {
  let c: TestServer;
  let d: TestServer;
  beforeAll(async () => {
    const url = await createPgDatabase();
    const env = { RATE_LIMIT_PER_MINUTE: "1", RATE_LIMIT_BURST: "4" };
    c = await startNode(url, env);
    d = await startNode(url, env);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([c?.stop(), d?.stop()]);
  });

  test("one key's burst is spent across both nodes, then both answer 429 with Retry-After", async () => {
    const k = c.firstKey as string;
    const onC = client(c.url, k);
    const onD = client(d.url, k);
    const codes = [];
    for (const call of [onC, onD, onC, onD]) codes.push((await call("GET", "/api/v1/files")).status);
    expect(codes).toEqual([200, 200, 200, 200]);
    for (const call of [onC, onD]) {
      const r = await call("GET", "/api/v1/files");
      expect(r.status).toBe(429);
      expect(r.json.error).toBe("RATE_LIMITED");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
  });
});
