import { and, eq } from "drizzle-orm";
import type { Db } from "../../db/client";
import { AppError, notFound } from "../../errors";
import { type ByteRange, parseRange, type StorageDriver } from "../../storage/driver";
import type { UrlSigner } from "../../storage/signing";

/**
 * Serves `storage_url` downloads for local storage: no API key, the signed token is the credential.
 * Answers 404 for a bad token, a wrong name, a deleted or not-yet-stored file alike, so a probe learns
 * nothing about which ids exist.
 */
export function createMediaService(db: Db, storage: StorageDriver, signer: UrlSigner) {
  const { files } = db.t;
  return {
    async download(p: {
      fileId: string;
      filename: string;
      token: string | undefined;
      request: Request;
      head: boolean;
    }) {
      if (!p.token || !signer.verify(p.fileId, p.token)) throw notFound("File");
      const [row] = await db
        .select()
        .from(files)
        .where(and(eq(files.id, p.fileId), eq(files.isDeleted, false), eq(files.status, "STORED")));
      if (!row?.storageKey || row.filename !== p.filename) throw notFound("File");

      const info = await storage.head(row.storageKey);
      if (!info) throw notFound("File");
      const headers = new Headers({
        "accept-ranges": "bytes",
        "content-type": row.mimeType ?? (Bun.file(row.filename).type || "application/octet-stream"),
        etag: info.etag,
        "last-modified": info.lastModified.toUTCString(),
        "cache-control": "private, max-age=3600",
        "content-disposition": `inline; filename*=UTF-8''${encodeURIComponent(row.filename)}`,
        "x-content-type-options": "nosniff",
      });
      const inm = p.request.headers.get("if-none-match");
      if (inm?.split(",").some((t) => t.trim() === info.etag || t.trim() === "*")) {
        return new Response(null, { status: 304, headers });
      }
      let range: ByteRange | null = null;
      const ifRange = p.request.headers.get("if-range");
      if (!ifRange || ifRange === info.etag) {
        const parsed = parseRange(p.request.headers.get("range"), info.size);
        if (parsed === "unsatisfiable") {
          headers.set("content-range", `bytes */${info.size}`);
          throw new AppError(
            "RANGE_NOT_SATISFIABLE",
            "requested range not satisfiable",
            undefined,
            Object.fromEntries(headers),
          );
        }
        range = parsed;
      }
      const length = range ? range.end - range.start + 1 : info.size;
      headers.set("content-length", String(length));
      if (range) headers.set("content-range", `bytes ${range.start}-${range.end}/${info.size}`);
      const status = range ? 206 : 200;
      if (p.head) return new Response(null, { status, headers });
      const obj = await storage.get(row.storageKey, range ?? undefined);
      if (!obj) throw notFound("File");
      return new Response(obj.body, { status, headers });
    },
  };
}
