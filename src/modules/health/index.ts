import { Elysia, t } from "elysia";

/** `GET /health`: liveness, no auth, no dependencies touched. */
export function healthRoutes(version: string) {
  return new Elysia().get("/health", () => ({ status: "ok" as const, version }), {
    response: { 200: t.Object({ status: t.Literal("ok"), version: t.String() }) },
    detail: { tags: ["System"], security: [], operationId: "health.get", summary: "Liveness check" },
  });
}
