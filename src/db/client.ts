import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { SQL } from "bun";
import { type SQL as Fragment, sql } from "drizzle-orm";
import type { BunSQLDatabase } from "drizzle-orm/bun-sql";
import { drizzle as drizzleSqlite } from "drizzle-orm/bun-sqlite";
import * as sqliteSchema from "./schema";
import { type Dialect, sqliteTables, type Tables } from "./tables";

/**
 * The database as the application sees it: Drizzle's query builder (typed as the PostgreSQL one; every
 * query is awaited) plus what differs between dialects. SQLite (bun:sqlite, one connection, WAL) is the
 * embedded default; PostgreSQL (Bun's built-in SQL client, a pool) when `DATABASE_URL` is set.
 *
 * Rules for callers: take tables from `db.t` (the running dialect's table objects); never call
 * `db.transaction` directly (bun:sqlite's is synchronous) — use `writeAtomically`; SQL fragments must be
 * valid in both dialects (`rowid` exists in both: see drizzle/pg/0001_pg_insert_order.sql).
 */
export type Db = Omit<BunSQLDatabase<Tables>, "transaction" | "$client" | "execute"> & DbExtras;

interface DbExtras {
  /** Which database runs (`dialect` is taken: Drizzle's own property on the same object). */
  readonly engine: Dialect;
  readonly t: Tables;
  /**
   * Runs the write queries `build` returns in one transaction, in order: all or none. Only INSERT,
   * UPDATE and DELETE builders (their results are discarded). Build them on `tx`, not on `db`.
   */
  writeAtomically(build: (tx: Db) => PromiseLike<unknown>[]): Promise<void>;
  /**
   * The database's clock plus `offsetMs`, as an SQL expression in the column encoding of timestamps
   * (timestamptz on pg, epoch milliseconds on SQLite). Leases use it so that nodes never compare
   * their own clocks.
   */
  clock(offsetMs?: number): Fragment;
  /** Runs raw SQL built with drizzle's `sql` and returns its rows (column names as in the database). */
  rows<T>(query: Fragment): Promise<T[]>;
  /** A round trip to the database (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What a query builder is at run time under bun:sqlite: it also runs synchronously. */
interface SyncRunnable {
  run(): unknown;
}

/**
 * Opens the SQLite database with the settings a server needs: WAL (readers never block the writer),
 * foreign keys on, and a busy timeout so the CLI and the server can share the file.
 */
export function openSqlite(path: string): Db {
  // bun:sqlite does not create the parent directory.
  mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = NORMAL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  sqlite.exec("PRAGMA busy_timeout = 5000");
  const inner = drizzleSqlite(sqlite, { schema: sqliteSchema });
  const extras: DbExtras = {
    engine: "sqlite",
    t: sqliteTables,
    async writeAtomically(build) {
      // Synchronous on the one connection: nothing else can interleave between BEGIN and COMMIT.
      inner.transaction((tx) => {
        for (const q of build(asDb(tx, extras))) (q as unknown as SyncRunnable).run();
      });
    },
    clock: (offsetMs = 0) => sql`(cast(unixepoch('subsec') * 1000 as integer) + ${Math.round(offsetMs)})`,
    async rows<T>(query: Fragment) {
      return inner.all<T>(query);
    },
    async ping() {
      sqlite.query("select 1").get();
    },
    async close() {
      sqlite.close();
    },
  };
  return asDb(inner, extras);
}

/**
 * Opens a PostgreSQL pool (`postgres://user:pass@host:port/db`). The pg driver and schema are loaded
 * only here, so an embedded-SQLite server does not carry them (~2 MB of resident memory).
 */
export async function openPostgres(url: string, opts: { max?: number } = {}): Promise<Db> {
  const [{ drizzle: drizzlePg }, pgSchema] = await Promise.all([
    import("drizzle-orm/bun-sql"),
    import("./pg-schema"),
  ]);
  const pgTables: Tables = pgSchema;
  const client = new SQL(url, { max: opts.max ?? 10 });
  const inner = drizzlePg({ client, schema: pgSchema });
  const extras: DbExtras = {
    engine: "pg",
    t: pgTables,
    async writeAtomically(build) {
      await inner.transaction(async (tx) => {
        for (const q of build(asDb(tx, extras))) await q;
      });
    },
    clock: (offsetMs = 0) =>
      sql`(now() + ${Math.round(offsetMs)}::double precision * interval '1 millisecond')`,
    async rows<T>(query: Fragment) {
      return [...(await inner.execute(query))] as T[];
    },
    async ping() {
      await client`select 1`;
    },
    async close() {
      await client.close();
    },
  };
  return asDb(inner, extras);
}

/** Opens whichever database the configuration names. */
export function openDatabase(cfg: {
  DATABASE_URL?: string | undefined;
  DATABASE_PATH: string;
  DATABASE_POOL_SIZE: number;
}): Promise<Db> {
  return cfg.DATABASE_URL
    ? openPostgres(cfg.DATABASE_URL, { max: cfg.DATABASE_POOL_SIZE })
    : Promise.resolve(openSqlite(cfg.DATABASE_PATH));
}

/**
 * Attaches the extras to a Drizzle database or transaction object. The cast is the facade's one lie,
 * and a checked one: SQLite's builders take the pg-typed tables' place (`tables.ts` proves the rows
 * alike) and both dialects' builders are awaitable with the same results for the calls allowed here.
 */
function asDb(inner: object, extras: DbExtras): Db {
  for (const k of Object.keys(extras))
    if (k in inner) throw new Error(`Db facade: "${k}" would shadow a Drizzle property`);
  return Object.assign(inner, extras) as unknown as Db;
}
