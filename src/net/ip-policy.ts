/**
 * Address and URL policy for outbound requests to user-supplied URLs (SSRF defence).
 *
 * Invariants:
 * - Only public unicast addresses pass by default. IPv4-mapped and IPv4-compatible IPv6 addresses are
 *   judged by the IPv4 address they carry; every IPv6 address outside 2000::/3 is refused.
 * - Cloud metadata endpoints, multicast, reserved and documentation ranges are refused even with
 *   `allowPrivateNetworks`; only an exact `allowedHosts` entry skips the address check.
 * - `validateUrlStatic` judges what the URL text alone decides (no DNS); `resolveDestination` then
 *   resolves the host and refuses when ANY address is blocked, returning the one address to connect to.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

export type AddressClass =
  | "public"
  | "unspecified"
  | "loopback"
  | "private"
  | "link-local"
  | "shared"
  | "metadata"
  | "multicast"
  | "broadcast"
  | "reserved"
  | "documentation"
  | "benchmarking"
  | "ietf"
  | "nat64"
  | "6to4"
  | "teredo";

/** Classes that `allowPrivateNetworks` lets through (intranet deployments). */
const PRIVATE_CLASSES: ReadonlySet<AddressClass> = new Set(["loopback", "private", "link-local", "shared"]);

const unbracket = (host: string) => host.replace(/^\[(.*)\]$/, "$1");

/** True for an IP literal, bracketed or not (as `url.hostname` gives IPv6). */
export const isIpLiteral = (host: string) => isIP(unbracket(host)) !== 0;

/** Parses a textual IPv4 or IPv6 address (no brackets, no zone) into 4 or 16 bytes. */
export function parseIp(text: string): Uint8Array | null {
  const family = isIP(text);
  if (family === 4) return Uint8Array.from(text.split(".").map(Number));
  if (family !== 6) return null;
  let head = text;
  let v4Tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    v4Tail = text
      .slice(lastColon + 1)
      .split(".")
      .map(Number);
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left = "", right] = head.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const l = groups(left);
  const r = right === undefined ? [] : groups(right);
  const words = [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[i * 2] = w >> 8;
    bytes[i * 2 + 1] = w & 0xff;
  });
  if (v4Tail.length === 4) bytes.set(v4Tail, 12);
  return bytes;
}

type Range = { bytes: Uint8Array; bits: number; cls: AddressClass };

function range(cidr: string, cls: AddressClass): Range {
  const [addr = "", bits = ""] = cidr.split("/");
  const bytes = parseIp(addr);
  if (!bytes) throw new Error(`bad CIDR ${cidr}`);
  return { bytes, bits: Number(bits), cls };
}

// Most specific entries first: the first match wins.
const V4_RANGES: Range[] = [
  range("169.254.169.254/32", "metadata"), // AWS, GCP, Azure, OpenStack instance metadata
  range("100.100.100.200/32", "metadata"), // Alibaba Cloud metadata
  range("168.63.129.16/32", "metadata"), // Azure WireServer: a public address that only answers inside Azure
  range("255.255.255.255/32", "broadcast"),
  range("0.0.0.0/8", "unspecified"),
  range("10.0.0.0/8", "private"),
  range("100.64.0.0/10", "shared"),
  range("127.0.0.0/8", "loopback"),
  range("169.254.0.0/16", "link-local"),
  range("172.16.0.0/12", "private"),
  range("192.0.0.0/24", "ietf"),
  range("192.0.2.0/24", "documentation"),
  range("192.88.99.0/24", "6to4"), // deprecated 6to4 relay anycast
  range("192.168.0.0/16", "private"),
  range("198.18.0.0/15", "benchmarking"),
  range("198.51.100.0/24", "documentation"),
  range("203.0.113.0/24", "documentation"),
  range("224.0.0.0/4", "multicast"),
  range("240.0.0.0/4", "reserved"),
];

const V6_RANGES: Range[] = [
  range("::/128", "unspecified"),
  range("::1/128", "loopback"),
  range("fd00:ec2::254/128", "metadata"), // AWS IMDS over IPv6
  range("64:ff9b::/96", "nat64"),
  range("64:ff9b:1::/48", "nat64"),
  range("2001::/32", "teredo"),
  range("2001:db8::/32", "documentation"),
  range("3fff::/20", "documentation"),
  range("2001::/23", "ietf"),
  range("2002::/16", "6to4"),
  range("fc00::/7", "private"),
  range("fec0::/10", "private"), // deprecated site-local
  range("fe80::/10", "link-local"),
  range("ff00::/8", "multicast"),
  range("2000::/3", "public"),
  range("::/0", "reserved"), // everything outside global unicast
];

function inRange(ip: Uint8Array, r: Range): boolean {
  for (let bit = 0; bit < r.bits; bit++) {
    const mask = 0x80 >> (bit % 8);
    const i = bit >> 3;
    if (((ip[i] ?? 0) & mask) !== ((r.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** Classifies an IP address given as text (brackets allowed); `null` when it is not an IP address. */
export function classifyIp(text: string): AddressClass | null {
  const ip = parseIp(unbracket(text));
  if (!ip) return null;
  if (ip.length === 4) return V4_RANGES.find((r) => inRange(ip, r))?.cls ?? "public";
  const first10Zero = ip.subarray(0, 10).every((b) => b === 0);
  const tail = ip.subarray(12);
  const embedded = tail.join(".");
  // ::ffff:a.b.c.d is an IPv4 connection in disguise: judge the IPv4 address.
  if (first10Zero && ip[10] === 0xff && ip[11] === 0xff) return classifyIp(embedded);
  // ::a.b.c.d (deprecated IPv4-compatible): a blocked IPv4 keeps its class, anything else is reserved.
  const isUnspecifiedOrLoopback = tail[0] === 0 && tail[1] === 0 && tail[2] === 0 && (tail[3] ?? 0) <= 1;
  if (first10Zero && ip[10] === 0 && ip[11] === 0 && !isUnspecifiedOrLoopback) {
    const v4 = classifyIp(embedded);
    return v4 === "public" ? "reserved" : v4;
  }
  return V6_RANGES.find((r) => inRange(ip, r))?.cls ?? "reserved";
}

/** Whether a connection to this address is allowed. Non-IP text is never allowed. */
export function isAddressAllowed(text: string, allowPrivateNetworks = false): boolean {
  const cls = classifyIp(text);
  if (cls === null) return false;
  return cls === "public" || (allowPrivateNetworks && PRIVATE_CLASSES.has(cls));
}

export type UrlPolicy = {
  allowPrivateNetworks?: boolean;
  allowedHosts?: string[];
  allowedPorts?: number[];
};

export type StaticCheck =
  | { ok: true; url: URL }
  | { ok: false; code: "BLOCKED_URL" | "BLOCKED_ADDRESS"; reason: string };

/** Normalises a host the way the WHATWG URL parser does, so allow-list entries compare with `url.hostname`. */
export function normaliseHost(host: string): string | null {
  try {
    return new URL(`http://${isIP(host) === 6 ? `[${host}]` : host}/`).hostname;
  } catch {
    return null;
  }
}

/** True when `hostname` (as in `url.hostname`) is in the allow-list, compared after normalisation. */
export function isHostAllowListed(hostname: string, allowedHosts: string[] = []): boolean {
  return allowedHosts.some((h) => normaliseHost(h) === hostname);
}

/**
 * Submit-time check of a user-supplied URL: scheme, userinfo, port, and IP-literal or `localhost`
 * hosts. No DNS, so a hostname that passes here may still be refused by `safeFetch`.
 */
export function validateUrlStatic(input: string, opts: UrlPolicy = {}): StaticCheck {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, code: "BLOCKED_URL", reason: "not a valid URL" };
  }
  // Bun's fetch also reads file:, s3: (with the server's credentials), data: and blob: URLs.
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, code: "BLOCKED_URL", reason: `scheme ${url.protocol} is not allowed` };
  }
  if (url.username !== "" || url.password !== "") {
    return { ok: false, code: "BLOCKED_URL", reason: "credentials in the URL are not allowed" };
  }
  // The parser empties `port` when it is the scheme's default.
  if (url.port !== "" && !(opts.allowedPorts ?? []).includes(Number(url.port))) {
    return { ok: false, code: "BLOCKED_URL", reason: `port ${url.port} is not allowed` };
  }
  const host = url.hostname;
  if (isHostAllowListed(host, opts.allowedHosts)) return { ok: true, url };
  // RFC 6761: localhost and *.localhost are loopback whatever DNS says.
  const bare = host.replace(/\.$/, "");
  if (bare === "localhost" || bare.endsWith(".localhost")) {
    return { ok: false, code: "BLOCKED_ADDRESS", reason: `host ${host} is not allowed` };
  }
  if (classifyIp(host) !== null && !isAddressAllowed(host, opts.allowPrivateNetworks)) {
    return { ok: false, code: "BLOCKED_ADDRESS", reason: `address ${host} is private or reserved` };
  }
  return { ok: true, url };
}

export type Resolver = (hostname: string) => Promise<string[]>;

const systemResolve: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

export type Destination =
  | { ok: true; address: string }
  | { ok: false; code: "DNS_FAILED" | "BLOCKED_ADDRESS"; reason: string };

/**
 * Resolves a URL that passed `validateUrlStatic` to the IP literal to connect to (bracketed for IPv6).
 * Refuses when ANY address is blocked: which one a later lookup would pick is the attacker's choice.
 */
export async function resolveDestination(
  url: URL,
  opts: UrlPolicy & { resolve?: Resolver },
): Promise<Destination> {
  const host = url.hostname;
  // IP literals are checked again here, so this function is safe on its own.
  const addresses = isIpLiteral(host)
    ? [unbracket(host)]
    : await (opts.resolve ?? systemResolve)(host).catch(() => []);
  const first = addresses[0];
  if (first === undefined) return { ok: false, code: "DNS_FAILED", reason: `could not resolve host ${host}` };
  const blocked = addresses.some((a) => !isAddressAllowed(a, opts.allowPrivateNetworks));
  if (blocked && !isHostAllowListed(host, opts.allowedHosts)) {
    return {
      ok: false,
      code: "BLOCKED_ADDRESS",
      reason: `host ${host} resolves to a private or reserved address`,
    };
  }
  return { ok: true, address: isIP(first) === 6 ? `[${first}]` : first };
}
