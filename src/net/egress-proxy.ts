/**
 * A forward HTTP proxy that is the only way out for a sandboxed downloader (yt-dlp).
 *
 * Invariants:
 * - Every request is judged by the same policy as `safeFetch` (`validateUrlStatic`, then DNS with
 *   every address checked) BEFORE any connection is opened; a refusal answers 403 and opens nothing.
 * - The upstream connection goes to the checked IP literal, so a second DNS answer cannot move it.
 * - `CONNECT host:port` opens an opaque tunnel (TLS stays end to end); a plain absolute-URI request
 *   (`GET http://…`) is re-sent to the origin with `Connection: close`, so one client connection
 *   carries requests to one checked destination only.
 * - Bounded: concurrent connections, request-head size, connect and idle timeouts, bytes per connection.
 * - Reasons recorded in `events` name only the host as the client gave it, never a resolved address.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import {
  isIpLiteral,
  type Resolver,
  resolveDestination,
  type UrlPolicy,
  validateUrlStatic,
} from "./ip-policy";

export interface EgressProxyOptions extends UrlPolicy {
  /** A Unix socket path, or a loopback TCP port (0 = any) for tests. */
  listen: { unix: string } | { port: number };
  /** Largest number of bytes one connection may bring in from upstream. */
  maxBytes: number;
  maxConnections?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  resolve?: Resolver;
}

/** What happened to one request: refused by policy, failed upstream, capped, or let through. */
export type EgressEvent =
  | { kind: "refused" | "failed" | "too-large"; target: string; reason: string }
  | { kind: "allowed"; target: string };

export interface EgressProxy {
  /** `http://127.0.0.1:<port>` in TCP mode; the socket path in Unix mode. */
  address: string;
  port: number | null;
  events: EgressEvent[];
  close(): Promise<void>;
}

const MAX_HEAD_BYTES = 16 * 1024;
const HOP_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "te",
  "upgrade",
]);
const METHODS = new Set(["GET", "HEAD", "POST"]);

/** Starts the proxy; resolves once it listens. */
export async function startEgressProxy(opts: EgressProxyOptions): Promise<EgressProxy> {
  const events: EgressEvent[] = [];
  const open = new Set<Socket>();
  let clients = 0;
  // Half-open on: a client that finishes sending its request must still get the whole answer.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    open.add(client);
    clients++;
    client.on("close", () => {
      open.delete(client);
      clients--;
    });
    client.on("error", () => {});
    if (clients > (opts.maxConnections ?? 16)) return reply(client, 503, "too many connections");
    readHead(client, opts, events, open);
  });
  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    if ("unix" in opts.listen) server.listen(opts.listen.unix, res);
    else server.listen(opts.listen.port, "127.0.0.1", res);
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : null;
  return {
    address: port === null ? String(addr) : `http://127.0.0.1:${port}`,
    port,
    events,
    close: () =>
      new Promise<void>((res) => {
        for (const s of open) s.destroy();
        server.close(() => res());
      }),
  };
}

function reply(client: Socket, status: number, reason: string) {
  const text = { 403: "Forbidden", 400: "Bad Request", 502: "Bad Gateway", 503: "Service Unavailable" }[
    status
  ];
  const body = `${reason}\n`;
  client.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function readHead(client: Socket, opts: EgressProxyOptions, events: EgressEvent[], open: Set<Socket>) {
  let buf = Buffer.alloc(0);
  client.setTimeout(opts.idleTimeoutMs ?? 30_000, () => client.destroy());
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf("\r\n\r\n");
    if (end === -1) {
      if (buf.length > MAX_HEAD_BYTES) reply(client, 400, "request head too large");
      return;
    }
    client.off("data", onData);
    client.pause();
    const head = buf.subarray(0, end).toString("latin1");
    handle(client, head, buf.subarray(end + 4), opts, events, open).catch(() => client.destroy());
  };
  client.on("data", onData);
}

async function handle(
  client: Socket,
  head: string,
  rest: Buffer,
  opts: EgressProxyOptions,
  events: EgressEvent[],
  open: Set<Socket>,
) {
  const [requestLine = "", ...headerLines] = head.split("\r\n");
  const [method = "", target = "", version = ""] = requestLine.split(" ");
  if (!/^HTTP\/1\.[01]$/.test(version)) return reply(client, 400, "not an HTTP/1.x request");
  const tunnel = method === "CONNECT";
  if (!tunnel && !METHODS.has(method)) return reply(client, 400, `method ${method} is not allowed`);
  // CONNECT names an authority; everything else must be an absolute http:// URI (no TLS to re-check here).
  if (tunnel && !/^[^\s/?#@]+$/.test(target)) return reply(client, 400, "bad CONNECT target");
  if (!tunnel && !target.startsWith("http://")) return reply(client, 400, "only absolute http:// URIs");
  const shown = tunnel ? target : (URL.parse(target)?.host ?? target);

  const check = validateUrlStatic(tunnel ? `https://${target}/` : target, opts);
  if (!check.ok) {
    events.push({ kind: "refused", target: shown, reason: check.reason });
    return reply(client, 403, check.reason);
  }
  const url = check.url;
  const dest = await resolveDestination(url, opts);
  if (!dest.ok || !isIpLiteral(dest.address)) {
    const reason = dest.ok ? `host ${url.hostname} resolves to an unusable address` : dest.reason;
    events.push({
      kind: dest.ok || dest.code === "BLOCKED_ADDRESS" ? "refused" : "failed",
      target: shown,
      reason,
    });
    return reply(client, dest.ok || dest.code === "BLOCKED_ADDRESS" ? 403 : 502, reason);
  }
  const port = Number(url.port || (tunnel ? 443 : 80));
  if (client.destroyed) return;
  const upstream = connect({ host: dest.address.replace(/^\[(.*)\]$/, "$1"), port, allowHalfOpen: true });
  open.add(upstream);
  upstream.on("close", () => open.delete(upstream));
  let connected = false;
  const connectMs = opts.connectTimeoutMs ?? 10_000;
  const connectTimer = setTimeout(() => upstream.destroy(new Error("connect timeout")), connectMs);
  upstream.on("error", () => {
    clearTimeout(connectTimer);
    if (connected) return void client.destroy();
    events.push({ kind: "failed", target: shown, reason: `could not connect to ${url.host}` });
    if (!client.destroyed) reply(client, 502, `could not connect to ${url.host}`);
  });
  upstream.once("connect", () => {
    connected = true;
    clearTimeout(connectTimer);
    events.push({ kind: "allowed", target: shown });
    if (tunnel) client.write("HTTP/1.1 200 Connection established\r\n\r\n");
    else upstream.write(rewriteHead(method, url, version, headerLines));
    if (rest.length) upstream.write(rest);
    splice(client, upstream, opts, () =>
      events.push({
        kind: "too-large",
        target: shown,
        reason: `more than ${opts.maxBytes} bytes from ${url.host}`,
      }),
    );
  });
}

/** The origin-form request: path only, Host from the URL, hop-by-hop headers dropped, one request per connection. */
function rewriteHead(method: string, url: URL, version: string, headerLines: string[]): string {
  const kept = headerLines.filter((l) => {
    const name = l.slice(0, l.indexOf(":")).trim().toLowerCase();
    return name !== "host" && !HOP_HEADERS.has(name);
  });
  return [
    `${method} ${url.pathname}${url.search} ${version}`,
    `Host: ${url.host}`,
    ...kept,
    "Connection: close",
    "",
    "",
  ].join("\r\n");
}

/** Pipes both ways with backpressure; the upstream→client direction is byte-capped. */
function splice(client: Socket, upstream: Socket, opts: EgressProxyOptions, onTooLarge: () => void) {
  let received = 0;
  const idle = opts.idleTimeoutMs ?? 30_000;
  const abort = () => {
    upstream.destroy();
    client.destroy();
  };
  upstream.setTimeout(idle, abort);
  client.setTimeout(idle, abort);
  upstream.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (received > opts.maxBytes) {
      onTooLarge();
      abort();
    }
  });
  // pipe() ends each side after the other's end; an upstream error or a gone client tears both down.
  upstream.on("close", (hadError) => hadError && client.destroy());
  client.on("close", () => upstream.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
}
