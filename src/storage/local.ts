import { existsSync } from "node:fs";
import { mkdir, open, rename, rm, rmdir, stat } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { truncateUtf8 } from "../lib/filename";
import { writeStreamToFile } from "../lib/streams";
import type { ByteRange, ObjectInfo, ObjectStream, PutOptions, StorageDriver } from "./driver";
import type { UrlSigner } from "./signing";

/**
 * Local-disk driver. Objects live under `<root>/objects/`; uploads are written to `<root>/tmp/<uuid>`
 * and renamed into place, so a reader never sees a partial object and a failed write leaves nothing
 * (the temp file is removed; stale temp files are swept at start-up).
 *
 * A file's key is `<account>/<file_id>/<name>`; on disk it is stored flat in its account's directory as
 * `<account>/<file_id>_<name>`: one new inode per stored file instead of two (the file and a directory
 * of its own, which also takes a 4 KiB block). Creating inodes is the costly part of storing a small
 * file on ext4 (a bitmap search, long while many files were deleted recently). Files stored by earlier
 * versions at `<account>/<file_id>/<name>` are still found there. Keys of any other shape are paths
 * as they are.
 */

export interface LocalStorageOptions {
  root: string;
  /** Base of the download route, e.g. `https://media.example.com` → `<base>/media/<id>/<name>?token=…`. */
  publicBaseUrl: string;
  signer: UrlSigner;
}

export type LocalStorage = StorageDriver & { sweepTemp(): Promise<void> };

const FILE_KEY = /^([^/]+)\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/([^/]+)$/i;

/**
 * The on-disk path of a key below the objects root, and where earlier versions kept it (if elsewhere).
 * The file id keeps flat names unique; the name part is cut to fit the 255-byte limit of a file name.
 */
export function localLayout(key: string): { path: string; legacy?: string } {
  const m = FILE_KEY.exec(key);
  if (!m) return { path: key };
  const [, account, fileId, name] = m as unknown as [string, string, string, string];
  return { path: `${account}/${fileId}_${truncateUtf8(name, 255 - fileId.length - 1)}`, legacy: key };
}

export function createLocalStorage({ root, publicBaseUrl, signer }: LocalStorageOptions): LocalStorage {
  const objects = resolve(root, "objects");
  const tmp = resolve(root, "tmp");

  let tmpReady = false;

  const inside = (rel: string, key: string): string => {
    const p = resolve(objects, rel);
    // Keys are server-generated, but refuse anything that would leave the root anyway.
    if (!p.startsWith(objects + sep)) throw new Error(`invalid storage key: ${key}`);
    return p;
  };
  /** Where `key` is written, and the earlier location it may still be found at. */
  const pathsOf = (key: string): { path: string; legacy?: string } => {
    const l = localLayout(key);
    return { path: inside(l.path, key), ...(l.legacy ? { legacy: inside(l.legacy, key) } : {}) };
  };
  /** The path an existing object is at (current layout first); the current one when there is none. */
  const pathOf = (key: string): string => {
    const { path, legacy } = pathsOf(key);
    return legacy && !existsSync(path) && existsSync(legacy) ? legacy : path;
  };

  const statOf = async (path: string) => {
    try {
      const s = await stat(path);
      return s.isFile() ? s : null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  };
  /** The object's path and stat, looking in the earlier layout only when the current one has nothing. */
  const find = async (key: string) => {
    const { path, legacy } = pathsOf(key);
    const s = await statOf(path);
    if (s) return { path, s };
    const old = legacy ? await statOf(legacy) : null;
    return old && legacy ? { path: legacy, s: old } : null;
  };
  const infoOf = (s: { size: number; mtime: Date; mtimeMs: number }): ObjectInfo => ({
    size: s.size,
    lastModified: s.mtime,
    etag: `"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`,
  });

  return {
    kind: "local",

    async put(key: string, body: ReadableStream<Uint8Array>, opts?: PutOptions) {
      const final = pathsOf(key).path;
      if (!tmpReady) {
        await mkdir(tmp, { recursive: true });
        tmpReady = true;
      }
      const temp = join(tmp, crypto.randomUUID());
      try {
        const size = await writeStreamToFile(temp, body, opts);
        // The account's directory exists after its first file: try the rename before creating it.
        await rename(temp, final).catch(async (e: NodeJS.ErrnoException) => {
          if (e.code !== "ENOENT") throw e;
          await mkdir(dirname(final), { recursive: true });
          await rename(temp, final);
        });
        return { size };
      } catch (e) {
        await rm(temp, { force: true });
        throw e;
      }
    },

    async get(key: string, range?: ByteRange): Promise<ObjectStream | null> {
      const found = await find(key);
      if (!found) return null;
      const i = infoOf(found.s);
      const file = Bun.file(found.path);
      const body = range ? file.slice(range.start, range.end + 1).stream() : file.stream();
      return range ? { ...i, body, range } : { ...i, body };
    },

    async head(key: string) {
      const found = await find(key);
      return found ? infoOf(found.s) : null;
    },

    async delete(key: string) {
      const { path, legacy } = pathsOf(key);
      await rm(path, { force: true });
      if (legacy) await rm(legacy, { force: true });
      // A key's own directory (the earlier per-file one, or a key of another shape) goes once empty.
      // An account's directory stays: an upload may be renaming a file into it right now.
      await rmdir(dirname(legacy ?? path)).catch(() => {});
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
