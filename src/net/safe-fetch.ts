/**
 * The one outbound HTTP client for user-supplied URLs: store-file downloads, ffmpeg inputs, webhooks.
 *
 * Invariants (each one closes a hole measured in Bun's global fetch):
 * - Every hop passes `validateUrlStatic` (http/https only, no userinfo, default ports), then DNS, and
 *   is refused if ANY resolved address is not public — unless its host is in `allowedHosts`.
 * - We connect to the checked IP literal (Host header = original host, TLS SNI and certificate name =
 *   original host), so a second DNS answer cannot move the connection (rebinding). No proxy is used.
 * - Redirects are followed here, never by fetch, each Location re-checked; at most `MAX_REDIRECTS`.
 * - Error messages name only the host as the user gave it: never a resolved address, never a body.
 */
import {
  isIpLiteral,
  type Resolver,
  resolveDestination,
  type UrlPolicy,
  validateUrlStatic,
} from "./ip-policy";

export type { AddressClass, Resolver, StaticCheck, UrlPolicy } from "./ip-policy";
export { classifyIp, isAddressAllowed, validateUrlStatic } from "./ip-policy";

export type FetchErrorCode =
  | "BLOCKED_URL"
  | "BLOCKED_ADDRESS"
  | "DNS_FAILED"
  | "CONNECT_TIMEOUT"
  | "IDLE_TIMEOUT"
  | "DEADLINE"
  | "TOO_LARGE"
  | "TOO_MANY_REDIRECTS"
  | "HTTP_STATUS"
  | "NETWORK";

/** The only error `safeFetch` and its body stream raise (a caller's own abort re-raises its reason). */
export class FetchError extends Error {
  override readonly name = "FetchError";
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    /** Set for `HTTP_STATUS`: the final response status. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export type SafeFetchOptions = UrlPolicy & {
  /** Byte cap on the decoded body, counted while streaming. Default 1 GiB. */
  maxBytes?: number;
  /** Per hop: DNS + connect + TLS + response headers. Default 10 s. */
  connectTimeoutMs?: number;
  /** Longest wait for the next body chunk. Default 30 s. */
  idleTimeoutMs?: number;
  /** Whole request including the body. Default 1 h. */
  totalTimeoutMs?: number;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /** Extra trusted CA certificate(s), PEM, replacing the defaults — intranet deployments and tests. */
  ca?: string;
  /** DNS seam, default `node:dns` lookup of all addresses. Every returned address is checked. */
  resolve?: Resolver;
};

export type SafeResponse = {
  status: number;
  headers: Headers;
  /** The last URL requested, with the host as named (before IP substitution). */
  finalUrl: string;
  /** Enforces `maxBytes`, idle and total timeouts; errors with a `FetchError`. */
  body: ReadableStream<Uint8Array>;
};

export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];

/** Cancellation shared by every hop and the body: the first failure wins and aborts the socket. */
function createGuard(callerSignal: AbortSignal | undefined, totalMs: number, host: string) {
  const ac = new AbortController();
  const fail = (err: unknown) => {
    if (!ac.signal.aborted) ac.abort(err);
    dispose();
  };
  /** Fails with `code` unless the returned function is called within `ms`. */
  const arm = (ms: number, code: FetchErrorCode, message: string) => {
    const timer = setTimeout(() => fail(new FetchError(code, message)), ms);
    timer.unref();
    return () => clearTimeout(timer);
  };
  const onCallerAbort = () => fail(callerSignal?.reason);
  const disarmDeadline = arm(totalMs, "DEADLINE", `request to ${host} exceeded ${totalMs} ms`);
  const dispose = () => {
    disarmDeadline();
    callerSignal?.removeEventListener("abort", onCallerAbort);
  };
  if (callerSignal?.aborted) fail(callerSignal.reason);
  else callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
  const aborted = new Promise<never>((_, reject) => {
    ac.signal.addEventListener("abort", () => reject(ac.signal.reason), { once: true });
  });
  aborted.catch(() => {});
  /** The recorded failure if we aborted, else `err` as a NETWORK error: Bun's messages contain the IP URL. */
  const toError = (err: unknown): unknown => {
    if (ac.signal.aborted) return ac.signal.reason;
    if (err instanceof FetchError) return err;
    const code = typeof err === "object" && err !== null && "code" in err ? ` (${String(err.code)})` : "";
    return new FetchError("NETWORK", `request to ${host} failed${code}`);
  };
  return { signal: ac.signal, fail, arm, dispose, aborted, toError };
}
type Guard = ReturnType<typeof createGuard>;

type Hop = { method: "GET" | "POST"; headers: Headers; body: string | Uint8Array | undefined };

async function requestOnce(url: URL, hop: Hop, opts: SafeFetchOptions, guard: Guard): Promise<Response> {
  const check = validateUrlStatic(url.href, opts);
  if (!check.ok) throw new FetchError(check.code, check.reason);
  const ms = opts.connectTimeoutMs ?? 10_000;
  const disarm = guard.arm(ms, "CONNECT_TIMEOUT", `no response from ${url.hostname} within ${ms} ms`);
  try {
    const dest = await Promise.race([resolveDestination(url, opts), guard.aborted]);
    if (!dest.ok) throw new FetchError(dest.code, dest.reason);
    const target = new URL(url);
    target.hostname = dest.address;
    // The setter silently ignores what it cannot parse (e.g. a zone id); never let fetch resolve the name.
    if (!isIpLiteral(target.hostname)) {
      throw new FetchError("BLOCKED_ADDRESS", `host ${url.hostname} resolves to an unusable address`);
    }
    const headers = new Headers(hop.headers);
    headers.set("host", url.host);
    headers.set("accept-encoding", "identity");
    // SNI and certificate check use the name the user gave, although we connect to the IP literal.
    const serverName = isIpLiteral(url.hostname) ? {} : { serverName: url.hostname };
    const tls =
      url.protocol === "https:" ? { ...serverName, ...(opts.ca ? { ca: opts.ca } : {}) } : undefined;
    return await fetch(target, {
      method: hop.method,
      headers,
      body: hop.body,
      redirect: "manual",
      signal: guard.signal,
      proxy: false, // a proxy would connect on our behalf, outside this policy
      tls,
    });
  } finally {
    disarm();
  }
}

/** Wraps the response body with the byte cap and the idle timer; the guard's deadline still applies. */
function guardBody(src: ReadableStream<Uint8Array>, opts: SafeFetchOptions, guard: Guard, host: string) {
  const reader = src.getReader();
  const maxBytes = opts.maxBytes ?? 1024 ** 3;
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  let received = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const disarm = guard.arm(idleMs, "IDLE_TIMEOUT", `${host} sent nothing for ${idleMs} ms`);
        try {
          const chunk = await reader.read();
          if (chunk.done) {
            guard.dispose();
            controller.close();
            return;
          }
          received += chunk.value.byteLength;
          if (received > maxBytes)
            throw new FetchError("TOO_LARGE", `body from ${host} exceeds ${maxBytes} bytes`);
          controller.enqueue(chunk.value);
        } catch (err) {
          const error = guard.toError(err);
          guard.fail(error);
          controller.error(error);
        } finally {
          disarm();
        }
      },
      cancel(reason) {
        guard.dispose();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * GET or POST a user-supplied URL under the SSRF policy, following up to five redirects itself.
 * Resolves once a 2xx response's headers arrive; non-2xx final answers reject with `HTTP_STATUS`
 * (the body is discarded), so callers never stream an error page as if it were the file.
 */
export async function safeFetch(input: string, opts: SafeFetchOptions = {}): Promise<SafeResponse> {
  const first = validateUrlStatic(input, opts);
  if (!first.ok) throw new FetchError(first.code, first.reason);
  let url = first.url;
  const guard = createGuard(opts.signal, opts.totalTimeoutMs ?? 3_600_000, url.hostname);
  const hop: Hop = { method: opts.method ?? "GET", headers: new Headers(opts.headers), body: opts.body };
  try {
    for (let redirects = 0; ; redirects++) {
      const res = await requestOnce(url, hop, opts, guard);
      const location = res.headers.get("location");
      if (REDIRECTS.has(res.status) && location !== null) {
        await res.body?.cancel().catch(() => {});
        if (redirects >= MAX_REDIRECTS) {
          throw new FetchError(
            "TOO_MANY_REDIRECTS",
            `more than ${MAX_REDIRECTS} redirects from ${first.url.hostname}`,
          );
        }
        const next = URL.parse(location, url.href);
        if (!next) throw new FetchError("BLOCKED_URL", `invalid redirect from ${url.hostname}`);
        // As browsers do: 303, and 301/302 after POST, continue as a GET without the body.
        if (res.status === 303 || (hop.method === "POST" && (res.status === 301 || res.status === 302))) {
          hop.method = "GET";
          hop.body = undefined;
          for (const h of ["content-type", "content-length"]) hop.headers.delete(h);
        }
        if (next.origin !== url.origin) for (const h of CREDENTIAL_HEADERS) hop.headers.delete(h);
        url = next;
        continue;
      }
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel().catch(() => {});
        throw new FetchError("HTTP_STATUS", `${url.hostname} answered HTTP ${res.status}`, res.status);
      }
      const maxBytes = opts.maxBytes ?? 1024 ** 3;
      const announced = Number(res.headers.get("content-length") ?? Number.NaN);
      if (announced > maxBytes) {
        await res.body?.cancel().catch(() => {});
        throw new FetchError("TOO_LARGE", `${url.hostname} announced ${announced} bytes, over ${maxBytes}`);
      }
      const body = res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
      return {
        status: res.status,
        headers: res.headers,
        finalUrl: url.href,
        body: guardBody(body, opts, guard, url.hostname),
      };
    }
  } catch (err) {
    const error = guard.toError(err);
    guard.fail(error);
    throw error;
  }
}

/** Filename from a Content-Disposition header (RFC 6266): `filename*` (UTF-8/ISO-8859-1) over `filename`. Unsanitised. */
export function contentDispositionFilename(headers: Headers): string | null {
  const value = headers.get("content-disposition");
  if (!value) return null;
  const params = new Map<string, string>();
  for (const m of value.matchAll(/;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g)) {
    const raw = (m[2] ?? "").trim();
    const text = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw;
    params.set((m[1] ?? "").toLowerCase(), text);
  }
  const extended = params.get("filename*")?.match(/^([\w!#$%&+^`{}~-]+)'[^']*'(.*)$/);
  if (extended) {
    const [, charset = "", encoded = ""] = extended;
    const decoded = decodeExtValue(charset.toLowerCase(), encoded);
    if (decoded) return decoded;
  }
  const plain = params.get("filename");
  return plain ? latin1AsUtf8(plain) : null;
}

function decodeExtValue(charset: string, encoded: string): string | null {
  try {
    if (charset === "utf-8") return decodeURIComponent(encoded);
    if (charset === "iso-8859-1")
      return encoded.replace(/%([0-9a-f]{2})/gi, (_, h) => String.fromCharCode(Number.parseInt(h, 16)));
  } catch {
    // malformed percent-encoding: fall back to `filename`
  }
  return null;
}

/** Headers are read as Latin-1; many servers send raw UTF-8 in `filename`, so re-decode when it is valid UTF-8. */
function latin1AsUtf8(text: string): string {
  if (!/[\u0080-\u00ff]/.test(text) || /[\u0100-\uffff]/.test(text)) return text;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(text, (c) => c.charCodeAt(0)));
  } catch {
    return text;
  }
}

/** Last path segment of a URL, percent-decoded; `null` when the path ends in `/`. Unsanitised. */
export function filenameFromUrl(url: string | URL): string | null {
  const parsed = URL.parse(String(url));
  const segment = parsed?.pathname.split("/").pop();
  if (!segment) return null;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
