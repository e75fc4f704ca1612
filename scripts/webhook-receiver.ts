/**
 * A minimal webhook receiver that verifies renderio's signature — run it, point the account webhook at
 * it, and watch deliveries arrive:
 *
 *   WEBHOOK_SECRET=whsec_example bun scripts/webhook-receiver.ts      # listens on :8787
 *   curl -X PUT -H "X-API-KEY: $KEY" -H 'content-type: application/json' \
 *     -d '{"url":"http://127.0.0.1:8787/renderio","secret":"whsec_example"}' http://localhost:3000/api/v1/webhook-config
 *
 * (renderio refuses private addresses as webhook targets unless FETCH_ALLOWED_HOSTS=127.0.0.1 and
 * FETCH_ALLOWED_PORTS=8787 are set — use a public URL in production.)
 */
import { timingSafeEqual } from "node:crypto";

const secret = process.env.WEBHOOK_SECRET ?? "";
const seen = new Set<string>();

Bun.serve({
  port: Number(process.env.PORT ?? 8787),
  async fetch(req) {
    // Sign the exact bytes received: parse only after verifying.
    const raw = await req.text();
    const given = req.headers.get("x-webhook-signature") ?? "";
    const expected = new Bun.CryptoHasher("sha256", secret).update(raw).digest("hex");
    const ok = given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
    if (secret && !ok) return new Response("bad signature", { status: 401 });
    // Retries carry the same X-Webhook-Id: handle each delivery once.
    const id = req.headers.get("x-webhook-id") ?? "";
    if (seen.has(id)) return new Response("duplicate", { status: 200 });
    seen.add(id);
    const { data, timestamp } = JSON.parse(raw);
    console.log(new Date(timestamp).toISOString(), data.command_id, data.status, data.error_status ?? "");
    return new Response("ok");
  },
});
console.log("listening; verifying signatures:", secret ? "yes" : "no (WEBHOOK_SECRET unset)");
