import { Elysia } from "elysia";
import type { AuthGuard } from "../../auth/plugin";
import { ErrorBody } from "../../http/schemas";
import {
  DeleteResult,
  FileIdParams,
  FileList,
  ListQuery,
  StoredFile,
  StoreFileBody,
  UploadResult,
  uploadRequestBody,
} from "./model";
import type { FilesService } from "./service";
import type { StoreFile } from "./store-file";

const errors = { 401: ErrorBody, 404: ErrorBody, 429: ErrorBody };

/** Routes of the files API (spec §5); every route behind the API-key guard. */
export function filesRoutes(service: FilesService, storeFile: StoreFile, guard: AuthGuard) {
  return new Elysia({ prefix: "/files", tags: ["Files"] })
    .use(guard)
    .resolve(({ principal }) => ({ accountId: principal.accountId }))
    .post("/upload", ({ accountId, request }) => service.upload(accountId, request), {
      // Streamed by receiveUpload; letting Elysia parse would buffer the whole body in memory.
      parse: "none",
      response: { 200: UploadResult, 401: ErrorBody, 413: ErrorBody, 422: ErrorBody, 429: ErrorBody },
      detail: {
        operationId: "files.upload",
        summary: "Upload a file",
        description:
          "Multipart upload with exactly one `file` part. Answers as soon as the bytes are stored; the file is then " +
          "`PROCESSING` while ffprobe reads its metadata — poll Get File until `STORED`.",
        requestBody: uploadRequestBody as never,
      },
    })
    .post("/store-file", ({ accountId, body }) => storeFile.submit(accountId, body.file_url), {
      body: StoreFileBody,
      response: { 200: UploadResult, 400: ErrorBody, 401: ErrorBody, 422: ErrorBody, 429: ErrorBody },
      detail: {
        operationId: "files.storeFile",
        summary: "Store a file from a URL",
        description:
          "Answers `{file_id}` at once; the download runs in the background (`PROCESSING` → `STORED`/`FAILED` with " +
          "`UNREACHABLE_INPUT_FILE` or `INPUT_TOO_LARGE`). Private and loopback addresses are refused.",
      },
    })
    .get("/:fileId", ({ accountId, params }) => service.get(accountId, params.fileId), {
      params: FileIdParams,
      response: { 200: StoredFile, ...errors },
      detail: { operationId: "files.get", summary: "Get a file with its status and media metadata" },
    })
    .get(
      "",
      async ({ accountId, query }) => {
        const limit = query.limit ?? 50;
        const offset = query.offset ?? 0;
        return { files: await service.list(accountId, limit, offset), limit, offset };
      },
      {
        query: ListQuery,
        response: { 200: FileList, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
        detail: { operationId: "files.list", summary: "List files, newest first" },
      },
    )
    .delete("/:fileId", ({ accountId, params }) => service.delete(accountId, params.fileId), {
      params: FileIdParams,
      response: { 200: DeleteResult, ...errors },
      detail: {
        operationId: "files.delete",
        summary: "Delete a file's bytes (the record stays, is_deleted: true)",
      },
    });
}
