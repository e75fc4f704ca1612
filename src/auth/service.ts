import { and, count, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { AppError } from "../errors";
import { displayPrefix, generateApiKey, hashApiKey, isWellFormedKey, sameDigest } from "./keys";

export interface Principal {
  accountId: string;
  keyId: string;
}

export interface KeyInfo {
  id: string;
  accountId: string;
  name: string | null;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** How often `last_used_at` is written for a busy key: avoids a write on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Accounts and API keys. Knows nothing of HTTP. */
export function createAuthService(db: Db, now: () => number = Date.now) {
  const { accounts, apiKeys } = db.t;
  const lastWritten = new Map<string, number>();
  // Prepared once, on first use (after migrations): this runs on every API request.
  const prepareLookup = () =>
    db
      .select({ id: apiKeys.id, accountId: apiKeys.accountId, keyHash: apiKeys.keyHash })
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, sql.placeholder("digest")), isNull(apiKeys.revokedAt)))
      .prepare("api_key_by_digest");
  let byDigest: ReturnType<typeof prepareLookup> | undefined;

  return {
    /** Creates a key; with no accountId a new account is created for it (the usual case). */
    async createKey(
      opts: { name?: string | null; accountId?: string } = {},
    ): Promise<{ key: string; info: KeyInfo }> {
      const key = generateApiKey();
      const id = crypto.randomUUID();
      const createdAt = new Date(now());
      const accountId = opts.accountId ?? crypto.randomUUID();
      if (opts.accountId) {
        const [acc] = await db
          .select({ id: accounts.id })
          .from(accounts)
          .where(eq(accounts.id, opts.accountId));
        if (!acc) throw new AppError("NOT_FOUND", `account ${opts.accountId} not found`);
      }
      const keyRow = {
        id,
        accountId,
        name: opts.name ?? null,
        prefix: displayPrefix(key),
        keyHash: hashApiKey(key),
        createdAt,
      };
      await db.writeAtomically((tx) => [
        ...(opts.accountId
          ? []
          : [tx.insert(accounts).values({ id: accountId, name: opts.name ?? "default", createdAt })]),
        tx.insert(apiKeys).values(keyRow),
      ]);
      return {
        key,
        info: {
          id,
          accountId,
          name: opts.name ?? null,
          prefix: displayPrefix(key),
          createdAt,
          lastUsedAt: null,
          revokedAt: null,
        },
      };
    },

    listKeys(): Promise<KeyInfo[]> {
      return db
        .select({
          id: apiKeys.id,
          accountId: apiKeys.accountId,
          name: apiKeys.name,
          prefix: apiKeys.prefix,
          createdAt: apiKeys.createdAt,
          lastUsedAt: apiKeys.lastUsedAt,
          revokedAt: apiKeys.revokedAt,
        })
        .from(apiKeys)
        .orderBy(apiKeys.createdAt);
    },

    /** Revokes by key id (or a unique id prefix). Returns false when no active key matched. */
    async revokeKey(idOrPrefix: string): Promise<boolean> {
      const all = (await this.listKeys()).filter((k) => k.id === idOrPrefix || k.id.startsWith(idOrPrefix));
      const [match] = all;
      if (all.length !== 1 || !match || match.revokedAt) return false;
      await db
        .update(apiKeys)
        .set({ revokedAt: new Date(now()) })
        .where(eq(apiKeys.id, match.id));
      return true;
    },

    async countActiveKeys(): Promise<number> {
      const [row] = await db.select({ n: count() }).from(apiKeys).where(isNull(apiKeys.revokedAt));
      return row?.n ?? 0;
    },

    /** Resolves an `X-API-KEY` value to its account, or null for a missing, malformed or revoked key. */
    async authenticate(key: string | null | undefined): Promise<Principal | null> {
      if (!key || !isWellFormedKey(key)) return null;
      const digest = hashApiKey(key);
      byDigest ??= prepareLookup();
      const [row] = await byDigest.execute({ digest });
      // The index lookup is by digest, not by key; comparing the digest in constant time as well
      // keeps the check free of early-exit timing on the stored value.
      if (!row || !sameDigest(row.keyHash, digest)) return null;
      const t = now();
      if ((lastWritten.get(row.id) ?? 0) + LAST_USED_RESOLUTION_MS < t) {
        lastWritten.set(row.id, t);
        await db
          .update(apiKeys)
          .set({ lastUsedAt: new Date(t) })
          .where(eq(apiKeys.id, row.id));
      }
      return { accountId: row.accountId, keyId: row.id };
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
