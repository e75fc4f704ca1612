import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { drizzle } from "drizzle-orm/bun-sqlite";
import * as schema from "./schema";

export type Db = ReturnType<typeof drizzle<typeof schema>>;

/**
 * Opens the SQLite database with the settings a server needs: WAL (readers never block the writer),
 * foreign keys on, and a busy timeout so the CLI and the server can share the file.
 */
export function openDatabase(path: string): { db: Db; sqlite: Database } {
  // bun:sqlite does not create the parent directory.
  mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = NORMAL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  sqlite.exec("PRAGMA busy_timeout = 5000");
  return { db: drizzle(sqlite, { schema }), sqlite };
}
