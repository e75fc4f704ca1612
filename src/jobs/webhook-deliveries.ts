import { and, eq, lte, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import type { Tables } from "../db/tables";
import { JOBS_HELP, JOBS_TOTAL, type Metrics } from "../http/metrics";
import type { Logger } from "../log";
import { FetchError, type SafeFetchOptions, safeFetch } from "../net/safe-fetch";
import type { LeaseKind, Leases } from "./leases";
import { createWorker, type JobRemote } from "./worker";

export interface WebhookDeps {
  db: Db;
  log: Logger;
  fetchOptions: SafeFetchOptions;
  /** Delays (s) before each retry; the first attempt is immediate. Attempts = 1 + retries. */
  retrySchedule: number[];
  timeoutMs: number;
  disableAfterFailures: number;
  pollMs: number;
  /** HTTP worker processes hand their submits to the primary instead of running jobs. */
  remote?: JobRemote;
  leases: Leases;
  metrics?: Metrics;
  /** The poll body of a command, exactly as GET /api/v1/commands/:id returns it. */
  present(accountId: string, commandId: string): Promise<unknown>;
  now?: () => number;
}

const USER_AGENT = "RenderIO-Webhook/1.0";

/** Lowercase hex HMAC-SHA256 of the raw body — what receivers recompute and compare in constant time. */
export function signBody(secret: string, body: string): string {
  return new Bun.CryptoHasher("sha256", secret).update(body).digest("hex");
}

/**
 * Webhook deliveries. Each finished command gets one row (the durable retry state) with the exact body
 * that is signed and sent; a poller sends due rows, so pending retries survive restarts. Per-command
 * `webhook_url` wins over the account webhook; both are signed with the account secret when one is
 * set (spec, Decisions 9). Failures to the account webhook count towards its auto-disable.
 */
export function createWebhookDeliveries(deps: WebhookDeps) {
  const { db, log, leases } = deps;
  const { commands, webhookConfigs, webhookDeliveries } = db.t;
  const now = deps.now ?? Date.now;
  const kind: LeaseKind = {
    name: "webhook",
    table: webhookDeliveries,
    claimable: () =>
      and(eq(webhookDeliveries.status, "PENDING"), lte(webhookDeliveries.nextAttemptAt, db.clock())) as SQL,
    order: sql`next_attempt_at`,
  };
  const mine = (id: string) =>
    and(
      eq(webhookDeliveries.id, id),
      eq(webhookDeliveries.status, "PENDING"),
      eq(webhookDeliveries.leaseOwner, leases.owner),
    );

  async function enqueueFor(commandId: string): Promise<void> {
    const [cmd] = await db.select().from(commands).where(eq(commands.id, commandId));
    if (!cmd) return;
    const account = await configOf(cmd.accountId);
    const url = cmd.webhookUrl ?? (account?.isActive ? account.url : null);
    if (!url) return;
    const body = JSON.stringify({ data: await deps.present(cmd.accountId, cmd.id), timestamp: now() });
    const t = new Date(now());
    const id = crypto.randomUUID();
    await db.insert(webhookDeliveries).values({
      id,
      accountId: cmd.accountId,
      commandId: cmd.id,
      url,
      toAccountWebhook: !cmd.webhookUrl,
      body,
      status: "PENDING",
      nextAttemptAt: t,
      createdAt: t,
      updatedAt: t,
    });
    worker.enqueue(id);
  }

  async function configOf(accountId: string) {
    return (await db.select().from(webhookConfigs).where(eq(webhookConfigs.accountId, accountId)))[0];
  }

  async function deliver(id: string): Promise<void> {
    const [d] = await db.select().from(webhookDeliveries).where(mine(id));
    if (!d) return;
    const account = await configOf(d.accountId);
    if (d.toAccountWebhook && !account?.isActive) {
      return await settle(d.id, { status: "FAILED", lastError: "account webhook is disabled" });
    }
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": USER_AGENT,
      "x-webhook-id": d.id,
    };
    if (account?.secret) headers["x-webhook-signature"] = signBody(account.secret, d.body);
    let error: string | null = null;
    let code: number | null = null;
    try {
      const res = await safeFetch(d.url, {
        ...deps.fetchOptions,
        method: "POST",
        headers,
        body: d.body,
        maxBytes: 64 * 1024,
        connectTimeoutMs: deps.timeoutMs,
        totalTimeoutMs: deps.timeoutMs,
      });
      code = res.status;
      await res.body.cancel().catch(() => {});
    } catch (e) {
      error = e instanceof FetchError ? e.message : "delivery failed";
      code = e instanceof FetchError ? (e.status ?? null) : null;
    }
    const attempts = d.attempts + 1;
    if (!error) {
      await settle(d.id, { status: "DELIVERED", attempts, lastStatusCode: code, lastError: null });
      if (d.toAccountWebhook) {
        await db
          .update(webhookConfigs)
          .set({ consecutiveFailures: 0 })
          .where(eq(webhookConfigs.accountId, d.accountId));
      }
      deps.metrics?.inc(JOBS_TOTAL, JOBS_HELP, { kind: "webhook", outcome: "delivered" });
      log.info("webhook delivered", { deliveryId: d.id, commandId: d.commandId, attempts, status: code });
      return;
    }
    const delay = deps.retrySchedule[attempts - 1];
    await settle(d.id, {
      status: delay === undefined ? "FAILED" : "PENDING",
      attempts,
      lastStatusCode: code,
      lastError: error,
      nextAttemptAt: new Date(now() + (delay ?? 0) * 1000),
    });
    deps.metrics?.inc(JOBS_TOTAL, JOBS_HELP, { kind: "webhook", outcome: "attempt_failed" });
    log.info("webhook attempt failed", {
      deliveryId: d.id,
      commandId: d.commandId,
      attempts,
      status: code,
      error,
    });
    if (d.toAccountWebhook) await countFailure(d.accountId);
  }

  async function countFailure(accountId: string): Promise<void> {
    const [r] = await db
      .update(webhookConfigs)
      .set({ consecutiveFailures: sql`${webhookConfigs.consecutiveFailures} + 1` })
      .where(eq(webhookConfigs.accountId, accountId))
      .returning({ failures: webhookConfigs.consecutiveFailures, active: webhookConfigs.isActive });
    if (r?.active && r.failures >= deps.disableAfterFailures) {
      await db
        .update(webhookConfigs)
        .set({ isActive: false, disabledAt: new Date(now()) })
        .where(eq(webhookConfigs.accountId, accountId));
      log.warn("account webhook disabled after consecutive failures", { accountId, failures: r.failures });
    }
  }

  /** Records an attempt's outcome (and drops the lease) if the delivery is still this node's. */
  async function settle(id: string, values: Partial<Tables["webhookDeliveries"]["$inferInsert"]>) {
    await db
      .update(webhookDeliveries)
      .set({ ...values, leaseUntil: null, updatedAt: new Date(now()) })
      .where(mine(id));
  }

  const worker = createWorker({
    kind,
    leases,
    log,
    concurrency: 4,
    pollMs: deps.pollMs,
    remote: deps.remote,
    run: (id) => deliver(id).catch((err) => log.error("webhook delivery crashed", { deliveryId: id, err })),
  });

  return {
    /** Called when a command reaches SUCCESS or FAILED. */
    onCommandFinished(commandId: string): void {
      enqueueFor(commandId).catch((err) => log.error("webhook enqueue failed", { commandId, err }));
    },
    /** Starts sending due deliveries (SQLite: leases of a previous run are freed first). */
    async start(): Promise<void> {
      await leases.resetAll(kind);
      worker.start();
    },
    stop: () => worker.drain(),
  };
}

export type WebhookDeliveries = ReturnType<typeof createWebhookDeliveries>;
