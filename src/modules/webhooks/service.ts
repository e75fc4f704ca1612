import { eq } from "drizzle-orm";
import type { Db } from "../../db/client";
import { validationError } from "../../errors";
import { type UrlPolicy, validateUrlStatic } from "../../net/safe-fetch";

/** The account webhook configuration (spec §6.1–6.3). No HTTP here. */
export function createWebhookConfigService(db: Db, policy: UrlPolicy, now: () => number = Date.now) {
  const { webhookConfigs } = db.t;
  const row = async (accountId: string) =>
    (await db.select().from(webhookConfigs).where(eq(webhookConfigs.accountId, accountId)))[0];
  return {
    async get(accountId: string) {
      const r = await row(accountId);
      if (!r) return { configured: false as const };
      return {
        configured: true as const,
        url: r.url,
        is_active: r.isActive,
        consecutive_failures: r.consecutiveFailures,
        disabled_at: r.disabledAt ? r.disabledAt.toISOString() : null,
      };
    },

    /** Creates or replaces; also clears the failure counter and re-activates a disabled webhook. */
    async put(accountId: string, url: string, secret: string | undefined) {
      const check = validateUrlStatic(url, policy);
      if (!check.ok) throw validationError(["body", "url"], `url is not acceptable: ${check.reason}`);
      const t = new Date(now());
      const values = {
        url: check.url.href,
        secret: secret ?? null,
        isActive: true,
        consecutiveFailures: 0,
        disabledAt: null,
        updatedAt: t,
      };
      await db
        .insert(webhookConfigs)
        .values({ accountId, ...values, createdAt: t })
        .onConflictDoUpdate({ target: webhookConfigs.accountId, set: values });
      return { success: true as const, url: check.url.href };
    },

    /** Marks the configuration inactive (kept, not erased). */
    async remove(accountId: string) {
      await db
        .update(webhookConfigs)
        .set({ isActive: false, updatedAt: new Date(now()) })
        .where(eq(webhookConfigs.accountId, accountId));
      return { success: true as const };
    },
  };
}

export type WebhookConfigService = ReturnType<typeof createWebhookConfigService>;
