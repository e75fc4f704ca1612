import { t } from "elysia";

export const WebhookConfig = t.Union(
  [
    t.Object({ configured: t.Literal(false) }),
    t.Object({
      configured: t.Literal(true),
      url: t.String(),
      is_active: t.Boolean(),
      consecutive_failures: t.Integer(),
      disabled_at: t.Union([t.String({ format: "date-time" }), t.Null()], {
        description: "When it was auto-disabled",
      }),
    }),
  ],
  { description: "The account webhook; the secret is never returned" },
);

export const PutWebhookBody = t.Object({
  url: t.String({ description: "http(s) URL that receives POST {data, timestamp}" }),
  secret: t.Optional(
    t.String({
      description: "Signs deliveries: X-Webhook-Signature = hex HMAC-SHA256(secret, raw body)",
      examples: ["whsec_..."],
    }),
  ),
});

export const PutWebhookResult = t.Object({ success: t.Literal(true), url: t.String() });
export const DeleteWebhookResult = t.Object({ success: t.Literal(true) });
