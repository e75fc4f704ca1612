import type { InferInsertModel, InferSelectModel } from "drizzle-orm";
import type * as pg from "./pg-schema";
import * as sqlite from "./schema";

/**
 * The tables as application code sees them: PostgreSQL's table objects typed, whichever dialect runs.
 * Both schemas yield the same row types — checked below at compile time — so one query text serves both,
 * and the pg typing (promises only, no `.get()/.all()/.run()`) keeps code from relying on SQLite's sync API.
 */
export type Tables = typeof pg;
export type Dialect = "sqlite" | "pg";

// The one place where SQLite tables pass for pg ones; `SameRows` proves the rows (select and insert) alike.
export const sqliteTables = { ...sqlite } as unknown as Tables;

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type SqliteTables = { [K in keyof Tables]: (typeof sqlite)[K] };
type SameRows = {
  [K in keyof Tables]: Equal<InferSelectModel<Tables[K]>, InferSelectModel<SqliteTables[K]>> extends true
    ? Equal<InferInsertModel<Tables[K]>, InferInsertModel<SqliteTables[K]>>
    : false;
};
const sameRows: SameRows = {
  accounts: true,
  apiKeys: true,
  files: true,
  commands: true,
  presets: true,
  webhookConfigs: true,
  webhookDeliveries: true,
  rateLimits: true,
};
void sameRows;
