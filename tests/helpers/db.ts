/**
 * The database of a test server, whichever dialect the suite runs on.
 *
 * - SQLite (default): the file `renderio.db` in the server's data directory.
 * - PostgreSQL (`TEST_DATABASE=pg`): one database per data directory on the local PostgreSQL of
 *   `scripts/pg/pg.sh` (admin URL from `TEST_PG_URL`, which `scripts/test` exports; started here when
 *   unset). A server restarted on the same data directory finds the same database again.
 *
 * `openTestDb(dataDir)` runs raw SQL for the few tests that reach behind the API (simulated crashes,
 * "nothing was written" checks): `?` placeholders, Dates and booleans converted per dialect.
 */
import { Database } from "bun:sqlite";
import { join, resolve } from "node:path";
import { SQL } from "bun";

const ROOT = resolve(import.meta.dir, "../..");

export const testDatabase: "sqlite" | "pg" = process.env.TEST_DATABASE === "pg" ? "pg" : "sqlite";

let adminUrl: Promise<string> | undefined;
const byDataDir = new Map<string, string>();

/** The admin URL of the local PostgreSQL (started with scripts/pg/pg.sh when not exported). */
export function ensurePostgres(): Promise<string> {
  adminUrl ??= (async () => {
    if (process.env.TEST_PG_URL) return process.env.TEST_PG_URL;
    const script = join(ROOT, "scripts/pg/pg.sh");
    const start = Bun.spawn(["bash", script, "start"], { stdout: "ignore", stderr: "pipe" });
    if ((await start.exited) !== 0)
      throw new Error(`scripts/pg/pg.sh start failed:\n${await new Response(start.stderr).text()}`);
    const env = Bun.spawn(["bash", script, "env", "TEST_PG_"], { stdout: "pipe", stderr: "ignore" });
    const m = /TEST_PG_URL=(\S+)/.exec(await new Response(env.stdout).text());
    if (!m?.[1]) throw new Error("scripts/pg/pg.sh env printed no URL");
    return m[1];
  })();
  return adminUrl;
}

/** A fresh, empty PostgreSQL database; returns its URL. */
export async function createPgDatabase(): Promise<string> {
  const admin = await ensurePostgres();
  const name = `t_${crypto.randomUUID().replaceAll("-", "")}`;
  const sql = new SQL(admin, { max: 1 });
  try {
    await sql.unsafe(`create database ${name}`);
  } finally {
    await sql.close();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Environment naming the database of a data directory: nothing on SQLite (DATA_DIR says it all),
 * `DATABASE_URL` of the directory's own database on PostgreSQL (created on first use), plus what a
 * PostgreSQL node on local storage must assert.
 */
export async function databaseEnv(dataDir: string): Promise<Record<string, string>> {
  if (testDatabase === "sqlite") return {};
  let url = byDataDir.get(dataDir);
  if (!url) {
    url = await createPgDatabase();
    byDataDir.set(dataDir, url);
  }
  // One node per database here, on its own disk: asserting "shared" local storage is true enough; the
  // secret is what several nodes would need to share.
  return {
    DATABASE_URL: url,
    LOCAL_STORAGE_SHARED: "true",
    SIGNING_SECRET: "test-signing-secret-0123456789",
  };
}

export interface TestDb {
  all<T>(query: string, params?: unknown[]): Promise<T[]>;
  run(query: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

/** Raw SQL on a test server's database (`?` placeholders); `databaseUrl` for one given by the test. */
export async function openTestDb(dataDir: string, databaseUrl?: string): Promise<TestDb> {
  if (testDatabase === "sqlite" && !databaseUrl) {
    const db = new Database(join(dataDir, "renderio.db"));
    type Param = string | number | null;
    const one = (p: unknown) => (p instanceof Date ? p.getTime() : typeof p === "boolean" ? Number(p) : p);
    const conv = (params: unknown[]) => params.map(one) as Param[];
    return {
      async all<T>(q: string, params: unknown[] = []) {
        return db.query(q).all(...conv(params)) as T[];
      },
      async run(q, params = []) {
        db.run(q, conv(params));
      },
      async close() {
        db.close();
      },
    };
  }
  const url = databaseUrl ?? (await databaseEnv(dataDir)).DATABASE_URL;
  const sql = new SQL(url as string, { max: 1 });
  const numbered = (q: string) => {
    let i = 0;
    return q.replace(/\?/g, () => `$${++i}`);
  };
  return {
    async all<T>(q: string, params: unknown[] = []) {
      return [...(await sql.unsafe(numbered(q), params))] as T[];
    },
    async run(q, params = []) {
      await sql.unsafe(numbered(q), params);
    },
    async close() {
      await sql.close();
    },
  };
}
