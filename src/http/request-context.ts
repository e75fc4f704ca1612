import { Elysia } from "elysia";
import type { Logger } from "../log";
import type { Metrics } from "./metrics";

/** Per-request facts shared by the logging, auth and error layers, keyed by the Request object. */
export interface RequestMeta {
  id: string;
  start: number;
  keyId?: string;
}

const metas = new WeakMap<Request, RequestMeta>();

export const requestMeta = (req: Request): RequestMeta | undefined => metas.get(req);

/**
 * Gives each request an id (a valid incoming `X-Request-Id` is kept, so proxies can correlate), echoes
 * it in the response header, and writes one structured log line per request when the response is done.
 */
export function requestContext(log: Logger, metrics: Metrics) {
  return new Elysia({ name: "request-context" })
    .onRequest(({ request, set }) => {
      const incoming = request.headers.get("x-request-id");
      const id = incoming && /^[\w.-]{1,100}$/.test(incoming) ? incoming : crypto.randomUUID();
      metas.set(request, { id, start: performance.now() });
      set.headers["x-request-id"] = id;
    })
    .onAfterResponse({ as: "global" }, ({ request, set, path, route, responseValue }) => {
      const meta = metas.get(request);
      const status =
        responseValue instanceof Response
          ? responseValue.status
          : typeof set.status === "number"
            ? set.status
            : 200;
      metrics.inc("renderio_http_requests_total", "HTTP requests by route pattern, method and status", {
        route: route || "unmatched",
        method: request.method,
        status,
      });
      log.info("request", {
        requestId: meta?.id,
        method: request.method,
        path,
        status,
        ms: meta ? Math.round((performance.now() - meta.start) * 10) / 10 : undefined,
        keyId: meta?.keyId,
      });
    });
}
