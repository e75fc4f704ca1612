import { Elysia } from "elysia";
import { authGuard } from "./auth/plugin";
import type { Deps } from "./deps";
import { AppError } from "./errors";
import { docs } from "./http/docs";
import { errorHandler, errorResponse } from "./http/errors";
import { requestContext, requestMeta } from "./http/request-context";
import { type LoadBoard, rebalancing } from "./http-workers/balance";
import { commandsRoutes } from "./modules/commands";
import { filesRoutes } from "./modules/files";
import { healthRoutes } from "./modules/health";
import { mediaRoutes } from "./modules/media";
import { presetsRoutes } from "./modules/presets";
import { webhookRoutes } from "./modules/webhooks";

/** Routes whose bodies are streamed by their handler rather than buffered by the framework. */
const STREAMED_BODY = new Set(["/api/v1/files/upload"]);

/**
 * Builds the HTTP app from its dependencies: request context → error handler → docs → health and
 * media (no key) → `/api/v1` (API key). No listening and no side effects here.
 */
export function createApp(deps: Deps, opts: { balance?: LoadBoard } = {}) {
  const guard = authGuard(deps.auth, deps.rateLimiter);
  // Bun's own body limit is only a backstop: uploads are capped while streaming (a JSON 413), JSON
  // bodies by Content-Length in onRequest below.
  return new Elysia({ serve: { maxRequestBodySize: deps.config.MAX_UPLOAD_BYTES + 1024 ** 3 } })
    .use(rebalancing(opts.balance))
    .use(requestContext(deps.log, deps.metrics))
    .use(errorHandler(deps.log))
    .onRequest(({ request }) => {
      if (deps.lifecycle.shuttingDown) {
        return errorResponse(
          new AppError("SERVICE_UNAVAILABLE", "server is shutting down"),
          requestMeta(request)?.id,
        );
      }
      // JSON routes are buffered by the framework: cap them before a byte is read.
      if (
        request.method === "GET" ||
        request.method === "HEAD" ||
        STREAMED_BODY.has(new URL(request.url).pathname)
      )
        return;
      const len = request.headers.get("content-length");
      if (len !== null && Number(len) > deps.config.MAX_JSON_BODY_BYTES) {
        return errorResponse(
          new AppError("PAYLOAD_TOO_LARGE", `request body exceeds ${deps.config.MAX_JSON_BODY_BYTES} bytes`),
          requestMeta(request)?.id,
        );
      }
      if (len === null && request.headers.get("transfer-encoding")) {
        return errorResponse(
          new AppError("LENGTH_REQUIRED", "JSON bodies need a Content-Length"),
          requestMeta(request)?.id,
        );
      }
    })
    .use(docs(deps.version))
    .use(healthRoutes(deps))
    .use(mediaRoutes(deps.media))
    .group("/api/v1", (api) =>
      api
        .use(filesRoutes(deps.files, deps.storeFile, guard))
        .use(commandsRoutes(deps.commands, guard))
        .use(presetsRoutes(deps.presets, guard))
        .use(webhookRoutes(deps.webhookConfig, guard)),
    );
}

export type App = ReturnType<typeof createApp>;
