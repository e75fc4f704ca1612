import { eq } from "drizzle-orm";
import type { Db } from "../../db/client";
import { webhookConfigs } from "../../db/schema";
import { validationError } from "../../errors";
import { type UrlPolicy, validateUrlStatic } from "../../net/safe-fetch";

/** The account webhook configuration (spec §6.1–6.3). No HTTP here. */
export function createWebhookConfigService(db: Db, policy: UrlPolicy, now: () => number = Date.now) {
  const row = (accountId: string) =>
    db.select().from(webhookConfigs).where(eq(webhookConfigs.accountId, accountId)).get();
  return {
    get(accountId: string) {
      const r = row(accountId);
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
    put(accountId: string, url: string, secret: string | undefined) {
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
      db.insert(webhookConfigs)
        .values({ accountId, ...values, createdAt: t })
        .onConflictDoUpdate({ target: webhookConfigs.accountId, set: values })
        .run();
      return { success: true as const, url: check.url.href };
    },

    /** Marks the configuration inactive (kept, not erased). */
    remove(accountId: string) {
      db.update(webhookConfigs)
        .set({ isActive: false, updatedAt: new Date(now()) })
        .where(eq(webhookConfigs.accountId, accountId))
        .run();
      return { success: true as const };
    },
  };
}

export type WebhookConfigService = ReturnType<typeof createWebhookConfigService>;
