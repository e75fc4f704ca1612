import { join } from "node:path";
import { SQL } from "bun";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePg } from "drizzle-orm/bun-sql";
import sqliteJournal from "../../drizzle/meta/_journal.json";
import pgJournal from "../../drizzle/pg/meta/_journal.json";
import type { Db } from "./client";

interface Migration {
  sql: string[];
  bps: boolean;
  folderMillis: number;
  hash: string;
}

interface Journal {
  entries: { tag: string; when: number; breakpoints: boolean }[];
}

/** What drizzle's migrators call with the files they read from disk (`dialect.migrate`). */
interface DialectMigrator {
  dialect: { migrate(m: Migration[], session: unknown, config: object): unknown };
  session: unknown;
}

/** True inside the compiled single binary, whose own modules live under Bun's virtual `/$bunfs/`. */
const compiled = import.meta.path.startsWith("/$bunfs/");

/** The key of the advisory lock held while migrating: any number, the same on every node ("render"). */
const MIGRATION_LOCK_KEY = 0x72656e646572;

/**
 * The migration SQL: from the embedded files of the compiled binary (`bun build --compile … drizzle/*.sql
 * drizzle/pg/*.sql --asset-naming="[name].[ext]"`; pg tags are `NNNN_pg_*`, so names never collide) or
 * from `drizzle/` in a source checkout. The journals are bundled as JSON.
 */
async function readSql(dir: string, tag: string): Promise<string> {
  if (compiled) {
    const blob = Bun.embeddedFiles.find((f) => (f as Blob & { name?: string }).name === `${tag}.sql`);
    if (!blob) throw new Error(`migration ${tag}.sql is not embedded in this binary`);
    return blob.text();
  }
  return Bun.file(join(import.meta.dir, "../../drizzle", dir, `${tag}.sql`)).text();
}

async function load(journal: Journal, dir: string): Promise<Migration[]> {
  const list: Migration[] = [];
  for (const entry of journal.entries) {
    const text = await readSql(dir, entry.tag);
    list.push({
      sql: text.split("--> statement-breakpoint"),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: new Bun.CryptoHasher("sha256").update(text).digest("hex"),
    });
  }
  return list;
}

/**
 * Applies the committed migrations of the database's dialect in order; re-running is a no-op. Does what
 * drizzle's `migrate()` does (same hashes and bookkeeping table), but reads the SQL from wherever this
 * build keeps it. On PostgreSQL, `url` is required: migrating runs on its own connection under a
 * session advisory lock, so nodes starting together apply each migration once, one after the other
 * (`thenOnce` runs before the lock is released: the next node sees what it wrote).
 */
export async function runMigrations(
  db: Db,
  url?: string,
  /** Runs after migrating, still under the lock (first-key creation: once, not once per node). */
  thenOnce?: () => Promise<void>,
): Promise<void> {
  if (db.engine === "sqlite") {
    const list = await load(sqliteJournal, "");
    (db as unknown as DialectMigrator).dialect.migrate(list, (db as unknown as DialectMigrator).session, {});
    await thenOnce?.();
    return;
  }
  if (!url) throw new Error("runMigrations: PostgreSQL needs its URL");
  const list = await load(pgJournal, "pg");
  // One connection: the session lock, the bookkeeping reads and the migration transaction share it.
  const client = new SQL(url, { max: 1 });
  try {
    const one = drizzlePg({ client });
    await one.execute(sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`);
    try {
      await (one as unknown as DialectMigrator).dialect.migrate(
        list,
        (one as unknown as DialectMigrator).session,
        {},
      );
      await thenOnce?.();
    } finally {
      await one.execute(sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`);
    }
  } finally {
    await client.close();
  }
}
