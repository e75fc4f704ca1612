/**
 * Compares the two PostgreSQL clients Drizzle supports under Bun: Bun's built-in SQL (`drizzle-orm/bun-sql`)
 * and npm `postgres` (`drizzle-orm/postgres-js`, a devDependency only for this script). Same Drizzle
 * queries, same pool size, same server; the order alternates to spread warm-up effects.
 *
 *   eval "$(scripts/pg/pg.sh env)"; bun bench/pg-client.ts     (uses $PG_URL; creates a scratch database)
 */
import { SQL } from "bun";
import { eq } from "drizzle-orm";
import { drizzle as bunSqlDrizzle } from "drizzle-orm/bun-sql";
import { bigint, pgTable, text } from "drizzle-orm/pg-core";
import { drizzle as postgresJsDrizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";

const base = process.env.PG_URL;
if (!base) throw new Error('set PG_URL (eval "$(scripts/pg/pg.sh env)")');
const dbName = `bench_${Date.now()}`;
const admin = new SQL(base);
await admin.unsafe(`create database ${dbName}`);
const url = base.replace(/\/[^/]*$/, `/${dbName}`);

const items = pgTable("items", {
  id: text("id").primaryKey(),
  n: bigint("n", { mode: "number" }).notNull(),
  note: text("note"),
});

type AnyDb = ReturnType<typeof bunSqlDrizzle> | ReturnType<typeof postgresJsDrizzle>;
const clients: Record<string, () => { db: AnyDb; close: () => Promise<void> }> = {
  "bun-sql": () => {
    const c = new SQL(url, { max: 10 });
    return { db: bunSqlDrizzle({ client: c }), close: () => c.close() };
  },
  "postgres (npm)": () => {
    const c = postgres(url, { max: 10 });
    return { db: postgresJsDrizzle({ client: c }), close: () => c.end() };
  },
};

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function run(name: string) {
  const { db, close } = clients[name]!();
  const d = db as ReturnType<typeof bunSqlDrizzle>;
  await d.execute("drop table if exists items");
  await d.execute("create table items (id text primary key, n bigint not null, note text)");
  const N = 2000;
  const seqInsert = await timeIt(async () => {
    for (let i = 0; i < N; i++) await d.insert(items).values({ id: `s${i}`, n: i, note: "x" });
  });
  const parInsert = await timeIt(async () => {
    let i = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (i < N) {
          const k = i++;
          await d.insert(items).values({ id: `p${k}`, n: k, note: "y" });
        }
      }),
    );
  });
  const lat: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await d
      .select()
      .from(items)
      .where(eq(items.id, `s${i}`));
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  await close();
  return {
    name,
    seqInsertPerS: Math.round(N / (seqInsert / 1000)),
    parInsertPerS: Math.round(N / (parInsert / 1000)),
    selectP50Ms: lat[Math.floor(N / 2)]!.toFixed(3),
    selectP99Ms: lat[Math.floor(N * 0.99)]!.toFixed(3),
  };
}

const results: Awaited<ReturnType<typeof run>>[] = [];
for (const round of [0, 1]) {
  const order = round === 0 ? Object.keys(clients) : Object.keys(clients).reverse();
  for (const name of order) results.push(await run(name));
}
console.log("| client | sequential inserts/s | 16-way concurrent inserts/s | select by key p50 | p99 |");
console.log("|---|---|---|---|---|");
for (const r of results)
  console.log(
    `| ${r.name} | ${r.seqInsertPerS} | ${r.parInsertPerS} | ${r.selectP50Ms} ms | ${r.selectP99Ms} ms |`,
  );
await admin.unsafe(`drop database ${dbName}`);
await admin.close();
