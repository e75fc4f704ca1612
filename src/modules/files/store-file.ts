import { and, count, eq, isNull, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { validationError } from "../../errors";
import type { LeaseKind, Leases } from "../../jobs/leases";
import { createWorker, type JobRemote } from "../../jobs/worker";
import { sanitizeFilename } from "../../lib/filename";
import type { Logger } from "../../log";
import {
  contentDispositionFilename,
  FetchError,
  filenameFromUrl,
  type SafeFetchOptions,
  safeFetch,
  validateUrlStatic,
} from "../../net/safe-fetch";
import { objectKey, type StorageDriver } from "../../storage/driver";

export interface StoreFileDeps {
  db: Db;
  storage: StorageDriver;
  log: Logger;
  probes: { enqueue(fileId: string): void };
  /** Policy and caps for every download (SSRF rules, byte cap = MAX_UPLOAD_BYTES, timeouts). */
  fetchOptions: SafeFetchOptions;
  concurrency: number;
  maxAttempts: number;
  leases: Leases;
  pollMs: number;
  /** HTTP worker processes hand their submits to the primary instead of running jobs. */
  remote?: JobRemote;
  now?: () => number;
}

/**
 * store-file: `{file_url}` → a STORED_FILE row answered at once; the download runs in the background
 * through the one safe fetcher, streams into storage, then the file is probed like an upload.
 * The row is the durable job: PROCESSING with no storage key = download pending, so `recover()`
 * re-runs downloads interrupted by a crash (they start from scratch; put is atomic).
 */
export function createStoreFile(deps: StoreFileDeps) {
  const { db, storage, log, leases, now = Date.now } = deps;
  const { files } = db.t;
  const waiting = and(
    eq(files.status, "PROCESSING"),
    eq(files.isDeleted, false),
    isNull(files.storageKey),
    eq(files.storeType, "STORED_FILE"),
  ) as SQL;
  const kind: LeaseKind = {
    name: "download",
    table: files,
    claimable: () => waiting,
    order: sql`created_at`,
  };
  /** Still waiting for its bytes, and this node's to download. */
  const pending = and(waiting, eq(files.leaseOwner, leases.owner));

  const fail = async (id: string, errorStatus: string, errorMessage: string): Promise<void> => {
    await db
      .update(files)
      .set({ status: "FAILED", errorStatus, errorMessage, leaseUntil: null, updatedAt: new Date(now()) })
      .where(and(eq(files.id, id), pending));
  };

  async function download(id: string): Promise<void> {
    const [row] = await db
      .select()
      .from(files)
      .where(and(eq(files.id, id), pending));
    if (!row?.originalFileUrl) return;
    if (row.downloadAttempts >= deps.maxAttempts)
      return fail(id, "UNREACHABLE_INPUT_FILE", "download was interrupted too often");
    await db
      .update(files)
      .set({ downloadAttempts: sql`${files.downloadAttempts} + 1` })
      .where(and(eq(files.id, id), pending));

    const started = performance.now();
    const host = new URL(row.originalFileUrl).host;
    let key: string | undefined;
    try {
      const res = await safeFetch(row.originalFileUrl, deps.fetchOptions);
      const filename = sanitizeFilename(
        contentDispositionFilename(res.headers) ?? filenameFromUrl(res.finalUrl),
        "file",
      );
      key = objectKey(row.accountId, id, filename);
      const contentType = res.headers.get("content-type") ?? undefined;
      const { size } = await storage.put(key, res.body, contentType ? { contentType } : {});
      const updated = await db
        .update(files)
        // The lease is dropped with the download: the probe claims the file afresh.
        .set({
          storageKey: key,
          filename,
          sizeBytes: size,
          leaseOwner: null,
          leaseUntil: null,
          updatedAt: new Date(now()),
        })
        .where(and(eq(files.id, id), pending))
        .returning({ id: files.id });
      if (updated.length === 0) {
        // Deleted while downloading (do not resurrect the bytes), or taken over by another node after this
        // one stalled past its lease: the key is the same there, so keep it if the row now names it.
        const [current] = await db
          .select({ key: files.storageKey, deleted: files.isDeleted })
          .from(files)
          .where(eq(files.id, id));
        if (current?.key !== key || current.deleted) await storage.delete(key);
        return;
      }
      log.info("file downloaded", {
        fileId: id,
        host,
        bytes: size,
        ms: Math.round(performance.now() - started),
      });
      deps.probes.enqueue(id);
    } catch (e) {
      if (e instanceof FetchError) {
        const status = e.code === "TOO_LARGE" ? "INPUT_TOO_LARGE" : "UNREACHABLE_INPUT_FILE";
        await fail(id, status, `could not download file_url: ${e.message}`);
        log.info("file download failed", { fileId: id, host, code: e.code });
        return;
      }
      log.error("file download crashed", { fileId: id, host, err: e });
      await fail(id, "STORAGE_ERROR", "the downloaded file could not be stored");
    }
  }

  const worker = createWorker({
    kind,
    leases,
    log,
    concurrency: deps.concurrency,
    pollMs: deps.pollMs,
    remote: deps.remote,
    run: (id) => download(id),
  });

  return {
    /** Validates the URL statically, records the file and queues the download. */
    async submit(accountId: string, fileUrl: string): Promise<{ file_id: string }> {
      const check = validateUrlStatic(fileUrl, deps.fetchOptions);
      if (!check.ok)
        throw validationError(["body", "file_url"], `file_url is not acceptable: ${check.reason}`);
      const id = crypto.randomUUID();
      const t = new Date(now());
      await db.insert(files).values({
        id,
        accountId,
        storeType: "STORED_FILE",
        status: "PROCESSING",
        filename: sanitizeFilename(filenameFromUrl(check.url), "file"),
        originalFileUrl: check.url.href,
        createdAt: t,
        updatedAt: t,
      });
      this.enqueue(id);
      return { file_id: id };
    },

    enqueue(id: string): void {
      worker.enqueue(id);
    },

    /** Starts downloading: interrupted downloads (a crash here, or a dead node's once its lease lapses). */
    async recover(): Promise<number> {
      await leases.resetAll(kind);
      const [n] = await db.select({ n: count() }).from(files).where(waiting);
      worker.start();
      return n?.n ?? 0;
    },

    drain: () => worker.drain(),
  };
}

export type StoreFile = ReturnType<typeof createStoreFile>;
