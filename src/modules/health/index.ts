import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { AppError } from "../../errors";

/**
 * `GET /health`: liveness (the process answers; nothing else is touched).
 * `GET /metrics`: Prometheus text format (requests, upload bytes, jobs, queue depth), no auth.
 * `GET /ready`: readiness — the database answers and the storage backend is reachable, and the server
 * is not shutting down; otherwise 503 SERVICE_UNAVAILABLE, so a load balancer stops sending traffic.
 */
export function healthRoutes(deps: Pick<Deps, "version" | "db" | "storage" | "lifecycle" | "metrics">) {
  const detail = { tags: ["System"], security: [] };
  return new Elysia()
    .get("/health", () => ({ status: "ok" as const, version: deps.version }), {
      response: { 200: t.Object({ status: t.Literal("ok"), version: t.String() }) },
      detail: { ...detail, operationId: "health.get", summary: "Liveness check" },
    })
    .get(
      "/metrics",
      async () =>
        new Response(await deps.metrics.text(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        }),
      {
        response: { 200: t.String({ description: "Prometheus text exposition format" }) },
        detail: { ...detail, operationId: "health.metrics", summary: "Prometheus metrics (text format)" },
      },
    )
    .get(
      "/ready",
      async () => {
        if (deps.lifecycle.shuttingDown) throw new AppError("SERVICE_UNAVAILABLE", "shutting down");
        try {
          await deps.db.ping();
        } catch {
          throw new AppError("SERVICE_UNAVAILABLE", "database unavailable");
        }
        try {
          await deps.storage.ping();
        } catch {
          throw new AppError("SERVICE_UNAVAILABLE", "storage unavailable");
        }
        return { status: "ready" as const, database: "ok" as const, storage: deps.storage.kind };
      },
      {
        response: {
          200: t.Object({ status: t.Literal("ready"), database: t.Literal("ok"), storage: t.String() }),
          503: t.Object({ error: t.String(), message: t.String() }),
        },
        detail: {
          ...detail,
          operationId: "health.ready",
          summary: "Readiness: database and storage reachable",
        },
      },
    );
}
