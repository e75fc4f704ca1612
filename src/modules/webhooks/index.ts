import { Elysia } from "elysia";
import type { AuthGuard } from "../../auth/plugin";
import { ErrorBody } from "../../http/schemas";
import { DeleteWebhookResult, PutWebhookBody, PutWebhookResult, WebhookConfig } from "./model";
import type { WebhookConfigService } from "./service";

/** `/api/v1/webhook-config` (spec §6). */
export function webhookRoutes(service: WebhookConfigService, guard: AuthGuard) {
  return new Elysia({ prefix: "/webhook-config", tags: ["Webhooks"] })
    .use(guard)
    .get("", ({ principal }) => service.get(principal.accountId), {
      response: { 200: WebhookConfig, 401: ErrorBody, 429: ErrorBody },
      detail: { operationId: "webhooks.get", summary: "Get the account webhook" },
    })
    .put("", ({ principal, body }) => service.put(principal.accountId, body.url, body.secret), {
      body: PutWebhookBody,
      response: { 200: PutWebhookResult, 401: ErrorBody, 422: ErrorBody, 429: ErrorBody },
      detail: {
        operationId: "webhooks.put",
        summary: "Set or replace the account webhook",
        description:
          "Every command reaching SUCCESS or FAILED is POSTed as `{data, timestamp}` with `User-Agent: RenderIO-Webhook/1.0`, " +
          "`X-Webhook-Id` (stable across retries) and, with a secret, `X-Webhook-Signature` (hex HMAC-SHA256 of the raw body). " +
          "Also re-activates a disabled webhook and clears its failure counter.",
      },
    })
    .delete("", ({ principal }) => service.remove(principal.accountId), {
      response: { 200: DeleteWebhookResult, 401: ErrorBody, 429: ErrorBody },
      detail: {
        operationId: "webhooks.delete",
        summary: "Deactivate the account webhook (kept, not erased)",
      },
    });
}
