import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import type { Tables } from "../db/tables";

/**
 * Work sharing between nodes. A job row (command, file being downloaded or probed, webhook delivery) is
 * run by the node holding its lease: `lease_owner` = that node's id, `lease_until` = when it lapses on
 * the database's clock. Claiming is one atomic UPDATE: on PostgreSQL the candidate is picked with
 * `FOR UPDATE SKIP LOCKED`, so nodes claiming together never wait on or take the same row; on SQLite
 * (one node) the conditional UPDATE alone is atomic. Running nodes renew their leases; a dead node's
 * lapse and any node takes the rows over. Results are written conditionally on still owning the lease
 * (see the queues), so a job that was taken over never completes twice.
 */
export interface LeaseKind {
  /** For logs. */
  name: string;
  table: Tables["commands"] | Tables["files"] | Tables["webhookDeliveries"];
  /** The rows of this kind that want running, lease aside (a function: it may read the clock). */
  claimable(): SQL;
  /** Which claimable row goes first. */
  order: SQL;
}

export function createLeases(db: Db, owner: string, leaseMs: number) {
  // Unqualified column names: every leased table has `id`, `lease_owner` and `lease_until`.
  const lapsed = () => sql`(lease_until is null or lease_until < ${db.clock()})`;
  const lock = db.engine === "pg" ? sql` for update skip locked` : sql``;
  const list = (ids: string[]) =>
    sql.join(
      ids.map((id) => sql`${id}`),
      sql`, `,
    );

  return {
    /** This node's id: the `lease_owner` of the rows it runs. */
    owner,
    leaseMs,

    /** Claims the first claimable row (or the given one, the local fast path); null when none is free. */
    async claim(kind: LeaseKind, id?: string): Promise<string | null> {
      const which =
        id === undefined
          ? sql`(select id from ${kind.table} where ${kind.claimable()} and ${lapsed()} order by ${kind.order} limit 1${lock})`
          : sql`${id}`;
      const rows = await db.rows<{ id: string }>(
        sql`update ${kind.table} set lease_owner = ${owner}, lease_until = ${db.clock(leaseMs)}
            where id = ${which} and ${kind.claimable()} and ${lapsed()} returning id`,
      );
      return rows[0]?.id ?? null;
    },

    /** Extends the leases this node still holds among `ids`; returns those it holds. */
    async renew(kind: LeaseKind, ids: string[]): Promise<Set<string>> {
      if (ids.length === 0) return new Set();
      const rows = await db.rows<{ id: string }>(
        sql`update ${kind.table} set lease_until = ${db.clock(leaseMs)}
            where id in (${list(ids)}) and lease_owner = ${owner} returning id`,
      );
      return new Set(rows.map((r) => r.id));
    },

    /** Gives a row back (e.g. claimed while shutting down) so another node need not wait for the lapse. */
    async release(kind: LeaseKind, id: string): Promise<void> {
      await db.rows(
        sql`update ${kind.table} set lease_owner = null, lease_until = null
            where id = ${id} and lease_owner = ${owner} returning id`,
      );
    },

    /**
     * SQLite only (one node by construction): every lease in the file belongs to a previous run of this
     * node, so start-up frees them at once instead of waiting for them to lapse.
     */
    async resetAll(kind: LeaseKind): Promise<void> {
      if (db.engine !== "sqlite") return;
      await db.rows(
        sql`update ${kind.table} set lease_owner = null, lease_until = null where lease_owner is not null returning id`,
      );
    },
  };
}

export type Leases = ReturnType<typeof createLeases>;
