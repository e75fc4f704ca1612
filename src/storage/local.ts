import { mkdir, open, rename, rm, rmdir, stat } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { writeStreamToFile } from "../lib/streams";
import type { ByteRange, ObjectInfo, ObjectStream, PutOptions, StorageDriver } from "./driver";
import type { UrlSigner } from "./signing";

/**
 * Local-disk driver. Objects live under `<root>/objects/<key>`; uploads are written to
 * `<root>/tmp/<uuid>` and renamed into place, so a reader never sees a partial object and a failed
 * write leaves nothing (the temp file is removed; stale temp files are swept at start-up).
 */

export interface LocalStorageOptions {
  root: string;
  /** Base of the download route, e.g. `https://media.example.com` → `<base>/media/<id>/<name>?token=…`. */
  publicBaseUrl: string;
  signer: UrlSigner;
}

export type LocalStorage = StorageDriver & { sweepTemp(): Promise<void> };

export function createLocalStorage({ root, publicBaseUrl, signer }: LocalStorageOptions): LocalStorage {
  const objects = resolve(root, "objects");
  const tmp = resolve(root, "tmp");

  let tmpReady = false;

  const pathOf = (key: string): string => {
    const p = resolve(objects, key);
    // Keys are server-generated, but refuse anything that would leave the root anyway.
    if (!p.startsWith(objects + sep)) throw new Error(`invalid storage key: ${key}`);
    return p;
  };

  const info = async (key: string): Promise<ObjectInfo | null> => {
    try {
      const s = await stat(pathOf(key));
      if (!s.isFile()) return null;
      return {
        size: s.size,
        lastModified: s.mtime,
        etag: `"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`,
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  };

  return {
    kind: "local",

    async put(key: string, body: ReadableStream<Uint8Array>, opts?: PutOptions) {
      const final = pathOf(key);
      if (!tmpReady) {
        await mkdir(tmp, { recursive: true });
        tmpReady = true;
      }
      const temp = join(tmp, crypto.randomUUID());
      try {
        const size = await writeStreamToFile(temp, body, opts?.signal);
        await mkdir(dirname(final), { recursive: true });
        await rename(temp, final);
        return { size };
      } catch (e) {
        await rm(temp, { force: true });
        throw e;
      }
    },

    async get(key: string, range?: ByteRange): Promise<ObjectStream | null> {
      const i = await info(key);
      if (!i) return null;
      const file = Bun.file(pathOf(key));
      const body = range ? file.slice(range.start, range.end + 1).stream() : file.stream();
      return range ? { ...i, body, range } : { ...i, body };
    },

    head: info,

    async delete(key: string) {
      const p = pathOf(key);
      await rm(p, { force: true });
      // Remove the now-empty per-file directory (`<account>/<file_id>/`); ignore if not empty.
      await rmdir(dirname(p)).catch(() => {});
    },

    localPath: pathOf,

    async storageUrl({ fileId, filename }) {
      return `${publicBaseUrl}/media/${fileId}/${encodeURIComponent(filename)}?token=${signer.sign(fileId)}`;
    },

    async ping() {
      await mkdir(objects, { recursive: true });
      const fh = await open(objects, "r");
      await fh.close();
    },

    async sweepTemp() {
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true });
      tmpReady = true;
    },
  };
}
