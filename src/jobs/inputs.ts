import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import type { FileRow } from "../db/schema";
import { extensionOf } from "../lib/filename";
import { writeStreamToFile } from "../lib/streams";
import {
  contentDispositionFilename,
  FetchError,
  filenameFromUrl,
  type SafeFetchOptions,
  safeFetch,
} from "../net/safe-fetch";
import type { StorageDriver } from "../storage/driver";
import type { UrlSigner } from "../storage/signing";

/** A failure with the command's `error_status` vocabulary (spec, Decisions 12). */
export class JobFailure extends Error {
  constructor(
    readonly errorStatus: string,
    message: string,
  ) {
    super(message);
  }
}

export interface InputDeps {
  db: Db;
  storage: StorageDriver;
  signer: UrlSigner;
  s3PublicBaseUrl?: string | undefined;
  /**
   * Origins of our own bucket (S3 endpoint, public URL). Their URLs may be fetched even when the
   * store sits on a private network: the store checks the presigned signature itself, so this adds no
   * reach beyond what the URL's holder already has.
   */
  storageOrigins?: string[];
  fetchOptions: SafeFetchOptions;
}

export interface PreparedInputs {
  /** alias → path inside the job directory. */
  paths: Record<string, string>;
  /** Storage files bound read-only into the sandbox (local driver: used in place, no copy). */
  readOnly: string[];
}

/**
 * Puts every input of a command into `<jobDir>/in/`. A URL that is one of our own storage_urls is
 * read straight from storage — in place (a symlink to the stored object, bound read-only into the
 * sandbox) on local disk, streamed from the bucket on S3 — with no HTTP round trip. Any other URL
 * goes through the safe fetcher (SSRF rules, byte cap, timeouts).
 */
export async function prepareInputs(
  deps: InputDeps,
  accountId: string,
  inputFiles: Record<string, string>,
  jobDir: string,
  signal: AbortSignal,
): Promise<PreparedInputs> {
  const out: PreparedInputs = { paths: {}, readOnly: [] };
  for (const [alias, url] of Object.entries(inputFiles)) {
    const own = await findOwnFile(deps, accountId, url);
    if (own?.storageKey) {
      const target = join(jobDir, "in", `${alias}${dotExt(own.filename)}`);
      const local = deps.storage.localPath(own.storageKey);
      if (local) {
        await symlink(local, target);
        out.readOnly.push(local);
      } else {
        const obj = await deps.storage.get(own.storageKey);
        if (!obj)
          throw new JobFailure("UNREACHABLE_INPUT_FILE", `input {{${alias}}}: the stored file is gone`);
        await writeStreamToFile(target, obj.body);
      }
      out.paths[alias] = target;
      continue;
    }
    out.paths[alias] = await download(deps, alias, url, jobDir, signal);
  }
  return out;
}

async function download(deps: InputDeps, alias: string, url: string, jobDir: string, signal: AbortSignal) {
  try {
    const res = await safeFetch(url, { ...fetchPolicyFor(deps, url), signal });
    const name = contentDispositionFilename(res.headers) ?? filenameFromUrl(res.finalUrl) ?? "";
    const target = join(jobDir, "in", `${alias}${dotExt(name)}`);
    await writeStreamToFile(target, res.body);
    return target;
  } catch (e) {
    if (e instanceof FetchError) {
      const status = e.code === "TOO_LARGE" ? "INPUT_TOO_LARGE" : "UNREACHABLE_INPUT_FILE";
      throw new JobFailure(status, `input {{${alias}}} could not be downloaded: ${e.message}`);
    }
    throw e;
  }
}

/** The outbound policy for one input URL: our own bucket's origin is trusted, anything else is not. */
function fetchPolicyFor(deps: InputDeps, raw: string): SafeFetchOptions {
  const url = URL.parse(raw);
  if (!url || !deps.storageOrigins?.includes(url.origin)) return deps.fetchOptions;
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  return {
    ...deps.fetchOptions,
    allowedHosts: [...(deps.fetchOptions.allowedHosts ?? []), url.hostname],
    allowedPorts: [...(deps.fetchOptions.allowedPorts ?? []), port],
  };
}

/** `.ext` of a name when it is a plain short extension, else "" (ffmpeg probes content anyway). */
function dotExt(name: string): string {
  const ext = extensionOf(name);
  return /^[a-z0-9]{1,8}$/.test(ext) ? `.${ext}` : "";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A local storage_url (`…/media/<file_id>/<name>?token=…`) with a token we signed. The host is not
 * compared: a valid HMAC token proves the URL is ours under any of our names (public or internal).
 */
export function localMediaRef(url: URL, signer: UrlSigner): { fileId: string; filename: string } | null {
  const m = /\/media\/([0-9a-f-]{36})\/([^/]+)$/.exec(url.pathname);
  const token = url.searchParams.get("token");
  if (!m || !token || !signer.verify(m[1] as string, token)) return null;
  return { fileId: m[1] as string, filename: decodeURIComponent(m[2] as string) };
}

/**
 * Recognises our own storage_urls. Local: `<PUBLIC_BASE_URL>/media/<id>/<name>?token=` with a valid
 * token (a bearer credential, so any account may use it). S3 public URL: `<S3_PUBLIC_BASE_URL>/<key>`
 * (public anyway). S3 presigned URL: the key's file id, but only for the same account, since we do not
 * re-verify the signature.
 */
async function findOwnFile(deps: InputDeps, accountId: string, raw: string): Promise<FileRow | undefined> {
  const url = URL.parse(raw);
  if (!url) return undefined;
  const { files } = deps.db.t;
  const stored = async (id: string) =>
    UUID.test(id)
      ? (
          await deps.db
            .select()
            .from(files)
            .where(and(eq(files.id, id), eq(files.status, "STORED"), eq(files.isDeleted, false)))
        )[0]
      : undefined;
  const segments = url.pathname.split("/").map((s) => decodeURIComponent(s));

  if (deps.storage.kind === "local") {
    const ref = localMediaRef(url, deps.signer);
    const row = ref ? await stored(ref.fileId) : undefined;
    return row && row.filename === ref?.filename ? row : undefined;
  }
  const [acct, id, name] = segments.slice(-3);
  if (!id) return undefined;
  const row = await stored(id);
  if (!row?.storageKey || row.storageKey !== `${acct}/${id}/${name}`) return undefined;
  if (deps.s3PublicBaseUrl && raw.startsWith(`${deps.s3PublicBaseUrl}/`)) return row;
  if (url.searchParams.has("X-Amz-Signature") && row.accountId === accountId) return row;
  return undefined;
}
