import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { inArray, sql } from "drizzle-orm";
import { type Db, openPostgres, openSqlite } from "../../src/db/client";
import { runMigrations } from "../../src/db/migrate";
import { createLeases, type LeaseKind } from "../../src/jobs/leases";
import { createPgDatabase, testDatabase } from "../helpers/db";
import { tempDir } from "../helpers/server";

/**
 * The claim primitive itself, on the suite's database (SQLite, or PostgreSQL in the TEST_DATABASE=pg
 * pass): two "nodes" — each its own connection pool on PostgreSQL — claiming at the same time never take
 * the same row; leases are renewed only by their holder; a lapsed lease is taken over.
 */
let one: Db;
let two: Db;
let url: string | undefined;

beforeAll(async () => {
  if (testDatabase === "pg") {
    url = await createPgDatabase();
    one = await openPostgres(url, { max: 4 });
    two = await openPostgres(url, { max: 4 });
  } else {
    const path = join(tempDir(), "leases.db");
    one = openSqlite(path);
    two = one; // SQLite is one node: one connection, claims still atomic
  }
  await runMigrations(one, url);
});

afterAll(async () => {
  await one?.close();
  if (two !== one) await two?.close();
});

async function addCommands(n: number): Promise<string[]> {
  const { accounts, commands } = one.t;
  const accountId = crypto.randomUUID();
  await one.insert(accounts).values({ id: accountId, name: "leases" });
  const ids = Array.from({ length: n }, () => crypto.randomUUID());
  await one.insert(commands).values(
    ids.map((id) => ({
      id,
      accountId,
      commandType: "FFMPEG_COMMAND" as const,
      status: "QUEUED" as const,
      inputFiles: {},
      outputFiles: {},
      ffmpegCommands: [],
      originalRequest: {},
      maxRunSeconds: 60,
    })),
  );
  return ids;
}

const kindFor = (db: Db, ids: string[]): LeaseKind => ({
  name: "command",
  table: db.t.commands,
  claimable: () => inArray(db.t.commands.id, ids),
  order: db.t.commands.createdAt.getSQL(),
});

async function drain(claim: () => Promise<string | null>): Promise<string[]> {
  const got: string[] = [];
  for (let id = await claim(); id; id = await claim()) got.push(id);
  return got;
}

test("two nodes claiming at once split the rows: every row once, none twice", async () => {
  const ids = await addCommands(60);
  const a = createLeases(one, "node-a", 60_000);
  const b = createLeases(two, "node-b", 60_000);
  // Four claimers per node, all at once.
  const takes = await Promise.all(
    [a, a, a, a, b, b, b, b].map((l, i) => drain(() => l.claim(kindFor(i < 4 ? one : two, ids)))),
  );
  const all = takes.flat();
  expect(all.length).toBe(ids.length);
  expect(new Set(all)).toEqual(new Set(ids));
});

test("renewal keeps only the holder's leases; a lapsed lease is taken over, a live one is not", async () => {
  const [x, y] = await addCommands(2);
  const short = createLeases(one, "node-short", 300);
  const other = createLeases(two, "node-other", 60_000);
  const kind1 = kindFor(one, [x as string, y as string]);
  const kind2 = kindFor(two, [x as string, y as string]);
  expect(await short.claim(kind1, x)).toBe(x as string);
  expect(await other.claim(kind2, y)).toBe(y as string);
  expect([...(await short.renew(kind1, [x as string, y as string]))]).toEqual([x as string]);
  expect(await other.claim(kind2, x)).toBeNull(); // still leased (just renewed)
  await Bun.sleep(450);
  expect(await other.claim(kind2, x)).toBe(x as string); // lapsed: taken over
  expect((await short.renew(kind1, [x as string])).size).toBe(0); // and the old holder knows it
});

test("claims find the oldest claimable row through a (status, created_at) index, not a sort of the backlog", async () => {
  if (testDatabase === "pg") {
    // PostgreSQL's planner picks by table statistics (a seq scan on a near-empty table); the index must exist.
    const rows = await one.rows<{ indexname: string }>(
      sql.raw(
        "select indexname from pg_indexes where indexname like '%status_created_idx' order by indexname",
      ),
    );
    expect(rows.map((r) => r.indexname)).toEqual(["commands_status_created_idx", "files_status_created_idx"]);
    return;
  }
  const plan = JSON.stringify(
    await one.rows(
      sql.raw(`explain query plan select id from files where status = 'PROCESSING' and storage_key is not null
        and (lease_until is null or lease_until < 1) order by created_at limit 1`),
    ),
  );
  expect(plan).toContain("USING INDEX files_status_created_idx");
  expect(plan).not.toContain("TEMP B-TREE");
});
