import { join } from "node:path";
import journal from "../../drizzle/meta/_journal.json";
import type { Db } from "./client";

interface Migration {
  sql: string[];
  bps: boolean;
  folderMillis: number;
  hash: string;
}

/** True inside the compiled single binary, whose own modules live under Bun's virtual `/$bunfs/`. */
const compiled = import.meta.path.startsWith("/$bunfs/");

/**
 * The migration SQL: from the embedded files of the compiled binary (`bun build --compile … drizzle/*.sql
 * --asset-naming="[name].[ext]"`) or from `drizzle/` in a source checkout. The journal is bundled as JSON.
 */
async function readSql(tag: string): Promise<string> {
  if (compiled) {
    const blob = Bun.embeddedFiles.find((f) => (f as Blob & { name?: string }).name === `${tag}.sql`);
    if (!blob) throw new Error(`migration ${tag}.sql is not embedded in this binary`);
    return blob.text();
  }
  return Bun.file(join(import.meta.dir, "../../drizzle", `${tag}.sql`)).text();
}

/**
 * Applies the committed migrations in order; re-running is a no-op. Does what drizzle's `migrate()`
 * does (same hashes and bookkeeping table), but reads the SQL from wherever this build keeps it.
 */
export async function runMigrations(db: Db): Promise<void> {
  const list: Migration[] = [];
  for (const entry of journal.entries) {
    const text = await readSql(entry.tag);
    list.push({
      sql: text.split("--> statement-breakpoint"),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: new Bun.CryptoHasher("sha256").update(text).digest("hex"),
    });
  }
  // `dialect.migrate` is what drizzle-orm/bun-sqlite/migrator calls with the files it read from disk.
  (
    db as unknown as { dialect: { migrate(m: Migration[], s: unknown, c: object): void }; session: unknown }
  ).dialect.migrate(list, (db as unknown as { session: unknown }).session, {});
}
