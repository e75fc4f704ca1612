import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { notFound } from "../../errors";
import type { Metrics } from "../../http/metrics";
import type { Logger } from "../../log";
import type { StorageDriver } from "../../storage/driver";
import type { StoredFile } from "./model";
import { presentFile } from "./present";
import { receiveUpload } from "./upload";

export interface FilesDeps {
  db: Db;
  storage: StorageDriver;
  log: Logger;
  probes: { enqueue(fileId: string): void };
  maxUploadBytes: number;
  metrics?: Metrics;
  now?: () => number;
}

/** Files: upload, read, list, delete. Knows nothing of HTTP beyond the Request it streams from. */
export function createFilesService({
  db,
  storage,
  log,
  probes,
  maxUploadBytes,
  metrics,
  now = Date.now,
}: FilesDeps) {
  const { files } = db.t;
  const p = sql.placeholder;
  // Prepared once, on first use (after migrations): building the statement costs more than running it.
  const prepareInsert = () =>
    db
      .insert(files)
      .values({
        id: p("id"),
        accountId: p("accountId"),
        storeType: "UPLOAD",
        status: "PROCESSING",
        filename: p("filename"),
        storageKey: p("key"),
        sizeBytes: p("size"),
        createdAt: p("at"),
        updatedAt: p("at"),
      })
      .prepare("insert_upload");
  let insertUpload: ReturnType<typeof prepareInsert> | undefined;
  const own = async (accountId: string, fileId: string) =>
    (
      await db
        .select()
        .from(files)
        .where(and(eq(files.id, fileId), eq(files.accountId, accountId)))
    )[0];

  return {
    /** Stores the upload, records it as PROCESSING and queues the probe. Answers once bytes are safe. */
    async upload(accountId: string, request: Request): Promise<{ file_id: string }> {
      const fileId = crypto.randomUUID();
      const got = await receiveUpload(request, { storage, accountId, fileId, maxBytes: maxUploadBytes });
      try {
        insertUpload ??= prepareInsert();
        await insertUpload.execute({
          id: fileId,
          accountId,
          filename: got.filename,
          key: got.key,
          size: got.size,
          at: new Date(now()),
        });
      } catch (e) {
        await storage.delete(got.key);
        throw e;
      }
      metrics?.inc("renderio_upload_bytes_total", "Bytes received by the upload endpoint", {}, got.size);
      log.info("file uploaded", { fileId, accountId, bytes: got.size, filename: got.filename });
      probes.enqueue(fileId);
      return { file_id: fileId };
    },

    async get(accountId: string, fileId: string): Promise<StoredFile> {
      const row = await own(accountId, fileId);
      if (!row) throw notFound("File");
      return presentFile(row, storage);
    },

    async list(accountId: string, limit: number, offset: number): Promise<StoredFile[]> {
      const rows = await db
        .select()
        .from(files)
        .where(eq(files.accountId, accountId))
        .orderBy(desc(files.createdAt), desc(sql`rowid`))
        .limit(limit)
        .offset(offset);
      return Promise.all(rows.map((r) => presentFile(r, storage)));
    },

    /**
     * Removes the bytes and keeps the row with `is_deleted: true`. A file still being probed is ended
     * FAILED/CANCELLED here, so the probe's conditional update cannot bring it back.
     */
    async delete(accountId: string, fileId: string): Promise<{ deleted: true; file_id: string }> {
      const row = await own(accountId, fileId);
      if (!row || row.isDeleted) throw notFound("File");
      const t = new Date(now());
      const changed = await db
        .update(files)
        .set({
          isDeleted: true,
          deletedAt: t,
          updatedAt: t,
          ...(row.status === "PROCESSING"
            ? {
                status: "FAILED" as const,
                errorStatus: "CANCELLED",
                errorMessage: "file was deleted before processing finished",
              }
            : {}),
        })
        .where(and(eq(files.id, fileId), eq(files.isDeleted, false)))
        .returning({ id: files.id });
      if (changed.length === 0) throw notFound("File"); // a concurrent delete won
      if (row.storageKey) await storage.delete(row.storageKey);
      log.info("file deleted", { fileId, accountId });
      return { deleted: true, file_id: fileId };
    },
  };
}

export type FilesService = ReturnType<typeof createFilesService>;
