import { Elysia, t } from "elysia";
import { ErrorBody } from "../../http/schemas";
import type { createMediaService } from "./service";

const params = t.Object({ fileId: t.String(), filename: t.String() });
const query = t.Object({ token: t.Optional(t.String()) });

/** `GET|HEAD /media/:fileId/:filename?token=…` — the download route behind local `storage_url`s. */
export function mediaRoutes(service: ReturnType<typeof createMediaService>) {
  const detail = {
    tags: ["Media"],
    security: [],
    description:
      "Download a stored file by its signed `storage_url` (no API key). Supports Range, HEAD, ETag.",
  };
  return new Elysia()
    .get(
      "/media/:fileId/:filename",
      ({ params, query, request }) =>
        service.download({ ...params, token: query.token, request, head: false }),
      {
        params,
        query,
        response: {
          200: t.File({ description: "The file's bytes" }),
          206: t.File({ description: "The requested byte range" }),
          404: ErrorBody,
          416: ErrorBody,
        },
        detail: { ...detail, operationId: "media.download", summary: "Download a file" },
      },
    )
    .head(
      "/media/:fileId/:filename",
      ({ params, query, request }) =>
        service.download({ ...params, token: query.token, request, head: true }),
      { params, query, detail: { ...detail, operationId: "media.head", summary: "Download headers only" } },
    );
}
