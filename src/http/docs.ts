import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { FormatRegistry } from "elysia/type-system";
// Embedded from the package so the docs UI works with no internet (and inside the compiled binary).
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import swaggerJs from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };

// @elysiajs/openapi registers the "uuid" format with a validator that builds a schema on every call
// (~28 µs per check, measured; it runs on every response row). A regex checks the same thing in <1 µs.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
FormatRegistry.Set("uuid", (value) => UUID.test(value));

const ASSETS: Record<string, { path: string; type: string }> = {
  "swagger-ui-bundle.js": { path: swaggerJs, type: "text/javascript; charset=utf-8" },
  "swagger-ui.css": { path: swaggerCss, type: "text/css; charset=utf-8" },
};

/** `/openapi.json` (the generated document) and the Swagger UI at `/docs`, assets served locally. */
export function docs(version: string) {
  return new Elysia()
    .get(
      "/favicon.ico",
      ({ set }) => {
        set.status = 204;
      },
      { detail: { hide: true } },
    )
    .get(
      "/assets/:name",
      ({ params, status }) => {
        const a = ASSETS[params.name];
        if (!a) return status(404, "not found");
        return new Response(Bun.file(a.path), {
          headers: { "content-type": a.type, "cache-control": "public, max-age=86400" },
        });
      },
      { detail: { hide: true } },
    )
    .use(
      openapi({
        path: "/docs",
        specPath: "/openapi.json",
        provider: "swagger-ui",
        swagger: {
          cdn: "/assets/swagger-ui-bundle.js",
          theme: "/assets/swagger-ui.css",
          persistAuthorization: true,
          tryItOutEnabled: true,
        },
        exclude: { paths: ["/assets/:name", "/docs", "/openapi.json", "/favicon.ico"] },
        documentation: {
          info: {
            title: "renderio API",
            version,
            description:
              "Self-hosted, RenderIO-compatible FFmpeg file and command API. Authorize with your `ffsk_…` key " +
              "(X-API-KEY), then use “Try it out”.",
          },
          tags: [
            {
              name: "Commands",
              description: "Run FFmpeg commands on stored or remote files; poll their results",
            },
            { name: "Files", description: "Upload, inspect, list and delete stored files" },
            {
              name: "Presets",
              description: "Saved commands (yours and built-in system presets) and running them",
            },
            { name: "Webhooks", description: "The account webhook that receives finished commands" },
            { name: "Media", description: "Signed downloads behind storage_url (no API key)" },
            { name: "System", description: "Health" },
          ],
          components: {
            securitySchemes: { ApiKeyAuth: { type: "apiKey", in: "header", name: "X-API-KEY" } },
          },
          security: [{ ApiKeyAuth: [] }],
        },
      }),
    );
}
