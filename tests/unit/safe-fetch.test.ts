/**
 * safe-fetch: SSRF policy, redirects, size and time caps, filename helpers.
 * All traffic stays on loopback. Hostnames other than `localhost` never reach real DNS: they use the
 * `resolve` seam. Refusals are proved by a zero request count on the fixture servers and by a spy on
 * the global fetch, which must not be called at all.
 */
import { afterAll, afterEach, beforeAll, describe, expect, spyOn, test } from "bun:test";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { classifyIp, isAddressAllowed, resolveDestination } from "../../src/net/ip-policy";
import {
  contentDispositionFilename,
  FetchError,
  type FetchErrorCode,
  filenameFromUrl,
  type SafeFetchOptions,
  safeFetch,
  validateUrlStatic,
} from "../../src/net/safe-fetch";

// Self-signed P-256 certificate for DNS:fixture.example, valid 2000–2100; test-only key.
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBdDCCARmgAwIBAgIBATAKBggqhkjOPQQDAjAaMRgwFgYDVQQDDA9maXh0dXJl
LmV4YW1wbGUwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBoxGDAW
BgNVBAMMD2ZpeHR1cmUuZXhhbXBsZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IA
BHXPYGd0n8JRK0pz8dIgg2ez1Bpt37V83EMrnkuup/EcO9myeUuRo2fN0fFOKQJp
pS0io4mMx02sTx3QOUBg0gajTjBMMBoGA1UdEQQTMBGCD2ZpeHR1cmUuZXhhbXBs
ZTAPBgNVHRMBAf8EBTADAQH/MB0GA1UdDgQWBBS9zGdztKZsMXBRnBWU27Zm0yVd
NjAKBggqhkjOPQQDAgNJADBGAiEAztqDWQeZKSbwMwbAJ1LjA3iNEaS7fujYeMOm
x10buAACIQCW10klBivILNjv1vbxy2dDWXKk7WfX9ezhEQliykgTXw==
-----END CERTIFICATE-----`;
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRHnFfrMQqww/msNt
2exFw1gbPglOUov91UVbDRnfYJahRANCAAR1z2BndJ/CUStKc/HSIINns9Qabd+1
fNxDK55LrqfxHDvZsnlLkaNnzdHxTikCaaUtIqOJjMdNrE8d0DlAYNIG
-----END PRIVATE KEY-----`;

const MEDIA = Uint8Array.from({ length: 256 * 1024 }, (_, i) => (i * 31) % 251);
const MiB = 1024 * 1024;

type Seen = { path: string; host: string | null; method: string; acceptEncoding: string | null };
const seen: Seen[] = [];
let otherHits = 0;
let releaseStall = () => {};
const stalled = new Promise<void>((resolve) => {
  releaseStall = resolve;
});

const other = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch() {
    otherHits++;
    return new Response("internal secret");
  },
});

function chunked(chunks: number, size: number, delayMs = 0): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    async pull(c) {
      if (sent++ >= chunks) return c.close();
      if (delayMs) await Bun.sleep(delayMs);
      c.enqueue(new Uint8Array(size));
    },
  });
}

const fixture = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req): Promise<Response> {
    const { pathname } = new URL(req.url);
    const body = await req.text();
    seen.push({
      path: pathname,
      host: req.headers.get("host"),
      method: req.method,
      acceptEncoding: req.headers.get("accept-encoding"),
    });
    const redirect = (to: string, status = 302) => new Response(null, { status, headers: { location: to } });
    const chain = pathname.match(/^\/chain\/(\d+)$/);
    if (chain) {
      const n = Number(chain[1]);
      return n > 0 ? redirect(`/chain/${n - 1}`) : new Response(MEDIA);
    }
    switch (pathname) {
      case "/media.mp4":
        return new Response(MEDIA, { headers: { "content-type": "video/mp4" } });
      case "/echo":
        return Response.json({
          method: req.method,
          host: req.headers.get("host"),
          acceptEncoding: req.headers.get("accept-encoding"),
          authorization: req.headers.get("authorization"),
          body,
        });
      case "/to-other":
        return redirect(`http://127.0.0.1:${otherPort}/`);
      case "/to-other-localhost":
        return redirect(`http://localhost:${otherPort}/`);
      case "/to-other-mapped":
        return redirect(`http://[::ffff:127.0.0.1]:${otherPort}/`);
      case "/to-file":
        return redirect("file:///etc/passwd");
      case "/to-s3":
        return redirect("s3://bucket/key");
      case "/to-metadata":
        return redirect("http://169.254.169.254/latest/meta-data/");
      case "/post-303":
        return redirect("/echo", 303);
      case "/post-307":
        return redirect("/echo", 307);
      case "/to-localhost-echo":
        return redirect(`http://localhost:${fixturePort}/echo`);
      case "/slow-headers":
        await Bun.sleep(1500);
        return new Response("late");
      case "/stall":
        return new Response(
          new ReadableStream({
            async pull(c) {
              c.enqueue(new Uint8Array(1024));
              await stalled;
              c.close();
            },
          }),
        );
      case "/drip":
        return new Response(chunked(1000, 16, 50));
      case "/huge-announced":
        return new Response(new Uint8Array(4 * MiB));
      case "/huge-chunked":
        return new Response(chunked(64, 64 * 1024));
      case "/missing":
        return new Response("SECRET-ERROR-PAGE", { status: 404 });
      case "/disposition":
        return new Response(MEDIA, {
          headers: {
            "content-disposition": `attachment; filename="fallback.mp4"; filename*=UTF-8''%E2%82%AC%20rates.mp4`,
          },
        });
      default:
        return new Response("no route", { status: 500 });
    }
  },
});

function portOf(server: { port: number | undefined }): number {
  if (server.port === undefined) throw new Error("server has no TCP port");
  return server.port;
}
const fixturePort = portOf(fixture);
const otherPort = portOf(other);
const base = `http://127.0.0.1:${fixturePort}`;
/** How tests reach the fixture: the one host and port that skip the policy. */
const allowed: SafeFetchOptions = { allowedHosts: ["127.0.0.1"], allowedPorts: [fixturePort] };

async function failure(p: Promise<unknown>): Promise<FetchError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FetchError) return err;
    throw err;
  }
  throw new Error("expected a FetchError, got success");
}

async function readAll(res: { body: ReadableStream<Uint8Array> }): Promise<Uint8Array> {
  return new Uint8Array(await new Response(res.body).arrayBuffer());
}

/**
 * Network fence around the global fetch that safe-fetch calls: loopback passes, anything else is refused
 * and recorded, so even a policy regression cannot send traffic off this machine.
 */
const realFetch = globalThis.fetch;
const fenceViolations: string[] = [];
const fence = spyOn(globalThis, "fetch").mockImplementation(((input: string | URL | Request, init) => {
  const host = new URL(input instanceof Request ? input.url : input).hostname;
  if (host === "127.0.0.1" || host === "[::1]") return realFetch(input, init);
  fenceViolations.push(host);
  return Promise.reject(new Error(`test fence: refused to contact ${host}`));
}) as typeof fetch);

afterEach(() => {
  seen.length = 0;
  otherHits = 0;
  fence.mockClear();
});

afterAll(() => {
  fence.mockRestore();
  releaseStall();
  fixture.stop(true);
  other.stop(true);
});

describe("classifyIp", () => {
  const table: [string, ReturnType<typeof classifyIp>][] = [
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["10.1.2.3", "private"],
    ["100.64.0.1", "shared"],
    ["100.127.255.255", "shared"],
    ["100.128.0.1", "public"],
    ["100.100.100.200", "metadata"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["169.254.1.1", "link-local"],
    ["169.254.169.254", "metadata"],
    ["168.63.129.16", "metadata"],
    ["172.15.255.255", "public"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.0.0.8", "ietf"],
    ["192.0.2.1", "documentation"],
    ["192.88.99.1", "6to4"],
    ["192.168.1.1", "private"],
    ["198.18.0.1", "benchmarking"],
    ["198.19.255.255", "benchmarking"],
    ["198.20.0.1", "public"],
    ["198.51.100.7", "documentation"],
    ["203.0.113.9", "documentation"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["240.0.0.1", "reserved"],
    ["255.255.255.255", "broadcast"],
    ["8.8.8.8", "public"],
    ["93.184.216.34", "public"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["[::1]", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["0:0:0:0:0:ffff:7f00:1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:a9fe:a9fe", "metadata"],
    ["::ffff:8.8.8.8", "public"],
    ["::127.0.0.1", "loopback"],
    ["::10.0.0.1", "private"],
    ["::8.8.8.8", "reserved"],
    ["::ffff:0:7f00:1", "reserved"],
    ["100::1", "reserved"],
    ["4000::1", "reserved"],
    ["fe80::1", "link-local"],
    ["febf::1", "link-local"],
    ["fec0::1", "private"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["fd00:ec2::254", "metadata"],
    ["ff02::1", "multicast"],
    ["64:ff9b::7f00:1", "nat64"],
    ["64:ff9b::8.8.8.8", "nat64"],
    ["64:ff9b:1::1", "nat64"],
    ["2002:7f00:1::", "6to4"],
    ["2001::1", "teredo"],
    ["2001:0:4136:e378::1", "teredo"],
    ["2001:10::1", "ietf"],
    ["2001:db8::1", "documentation"],
    ["3fff::1", "documentation"],
    ["2001:200::1", "public"],
    ["2001:4860:4860::8888", "public"],
    ["2606:4700:4700::1111", "public"],
    ["example.com", null],
    ["0177.0.0.1", null],
    ["", null],
  ];
  test.each(table)("%p is %p", (ip, expected) => {
    expect(classifyIp(ip)).toBe(expected);
  });

  test("allowPrivateNetworks opens private ranges but never metadata, multicast or reserved", () => {
    for (const ip of ["10.0.0.1", "127.0.0.1", "192.168.0.10", "100.64.1.1", "fd00::1", "::ffff:10.0.0.1"]) {
      expect([ip, isAddressAllowed(ip)]).toEqual([ip, false]);
      expect([ip, isAddressAllowed(ip, true)]).toEqual([ip, true]);
    }
    for (const ip of ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "0.0.0.0", "224.0.0.1", "::"]) {
      expect([ip, isAddressAllowed(ip, true)]).toEqual([ip, false]);
    }
    expect(isAddressAllowed("not an ip", true)).toBe(false);
  });
});

describe("validateUrlStatic", () => {
  test("the WHATWG parser normalises numeric host forms before we judge them", () => {
    for (const host of ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0x7f000001"]) {
      expect(new URL(`http://${host}/`).hostname).toBe("127.0.0.1");
    }
    expect(new URL("http://0xa9.0xfe.0xa9.0xfe/").hostname).toBe("169.254.169.254");
    expect(new URL("http://[::ffff:127.0.0.1]/").hostname).toBe("[::ffff:7f00:1]");
  });

  test.each([
    "https://example.com/a.mp4",
    "http://example.com:80/",
    "https://example.com:443/x",
    "http://93.184.216.34/",
    "http://[2606:4700:4700::1111]/",
  ])("accepts %s", (url) => {
    expect(validateUrlStatic(url, {}).ok).toBe(true);
  });

  const refused: [string, FetchErrorCode][] = [
    ["file:///etc/passwd", "BLOCKED_URL"],
    ["s3://bucket/key", "BLOCKED_URL"],
    ["data:text/plain,hi", "BLOCKED_URL"],
    ["blob:http://example.com/uuid", "BLOCKED_URL"],
    ["ftp://example.com/a", "BLOCKED_URL"],
    ["ws://example.com/", "BLOCKED_URL"],
    ["javascript:alert(1)", "BLOCKED_URL"],
    ["not a url", "BLOCKED_URL"],
    ["http://user:pass@example.com/", "BLOCKED_URL"],
    ["http://user@example.com/", "BLOCKED_URL"],
    ["http://example.com:8080/", "BLOCKED_URL"],
    ["https://example.com:80/", "BLOCKED_URL"],
    ["http://127.0.0.1/", "BLOCKED_ADDRESS"],
    ["http://2130706433/", "BLOCKED_ADDRESS"],
    ["http://0x7f.1/", "BLOCKED_ADDRESS"],
    ["http://0177.0.0.1/", "BLOCKED_ADDRESS"],
    ["http://0/", "BLOCKED_ADDRESS"],
    ["http://[::1]/", "BLOCKED_ADDRESS"],
    ["http://[::]/", "BLOCKED_ADDRESS"],
    ["http://[::ffff:127.0.0.1]/", "BLOCKED_ADDRESS"],
    ["http://[::127.0.0.1]/", "BLOCKED_ADDRESS"],
    ["http://[64:ff9b::127.0.0.1]/", "BLOCKED_ADDRESS"],
    ["http://169.254.169.254/latest/meta-data/", "BLOCKED_ADDRESS"],
    ["http://0xa9.0xfe.0xa9.0xfe/", "BLOCKED_ADDRESS"],
    ["http://[fd00:ec2::254]/", "BLOCKED_ADDRESS"],
    ["http://100.100.100.200/", "BLOCKED_ADDRESS"],
    ["http://10.0.0.1/", "BLOCKED_ADDRESS"],
    ["http://[fe80::1]/", "BLOCKED_ADDRESS"],
    ["http://localhost/", "BLOCKED_ADDRESS"],
    ["http://LOCALHOST./", "BLOCKED_ADDRESS"],
    ["http://a.b.localhost/", "BLOCKED_ADDRESS"],
  ];
  test.each(refused)("refuses %s with %s", (url, code) => {
    const result = validateUrlStatic(url, {});
    expect(result.ok).toBe(false);
    if (!result.ok) expect<string>(result.code).toBe(code);
  });

  test("allowPrivateNetworks allows 10/8 but still refuses metadata", () => {
    expect(validateUrlStatic("http://10.0.0.1/", { allowPrivateNetworks: true }).ok).toBe(true);
    expect(validateUrlStatic("http://169.254.169.254/", { allowPrivateNetworks: true }).ok).toBe(false);
  });

  test("allowedHosts entries are normalised like URL hosts; they do not relax ports", () => {
    expect(validateUrlStatic("http://[::1]/", { allowedHosts: ["::1"] }).ok).toBe(true);
    expect(validateUrlStatic("http://127.0.0.1/", { allowedHosts: ["0x7f.1"] }).ok).toBe(true);
    expect(validateUrlStatic("http://INTRANET.Example/", { allowedHosts: ["intranet.example"] }).ok).toBe(
      true,
    );
    expect(validateUrlStatic("http://127.0.0.1:81/", { allowedHosts: ["127.0.0.1"] }).ok).toBe(false);
    expect(validateUrlStatic("http://127.0.0.1:81/", { ...allowed, allowedPorts: [81] }).ok).toBe(true);
  });
});

describe("resolveDestination", () => {
  test("refuses when ANY resolved address is blocked, naming only the host", async () => {
    const dest = await resolveDestination(new URL("http://mixed.example/"), {
      resolve: async () => ["93.184.216.34", "10.0.0.7"],
    });
    expect(dest).toMatchObject({ ok: false, code: "BLOCKED_ADDRESS" });
    if (!dest.ok) expect(dest.reason).not.toContain("10.0.0.7");
  });

  test("returns the first address, bracketed for IPv6", async () => {
    const opts = { allowedHosts: ["v6.example"], resolve: async () => ["::1", "127.0.0.1"] };
    expect(await resolveDestination(new URL("http://v6.example/"), opts)).toEqual({
      ok: true,
      address: "[::1]",
    });
  });

  test("IP literals are checked here too, without DNS", async () => {
    const resolve = () => Promise.reject(new Error("must not be called"));
    const metadata = await resolveDestination(new URL("http://169.254.169.254/"), { resolve });
    expect(metadata).toMatchObject({ ok: false, code: "BLOCKED_ADDRESS" });
    const v6 = await resolveDestination(new URL("http://[::1]/"), { allowedHosts: ["::1"], resolve });
    expect(v6).toEqual({ ok: true, address: "[::1]" });
  });

  test("a failing or empty lookup is DNS_FAILED", async () => {
    const url = new URL("http://nxdomain.example/");
    const failing = await resolveDestination(url, { resolve: () => Promise.reject(new Error("ENOTFOUND")) });
    expect(failing).toMatchObject({ ok: false, code: "DNS_FAILED" });
    expect(await resolveDestination(url, { resolve: async () => [] })).toMatchObject({ code: "DNS_FAILED" });
  });
});

describe("safeFetch: SSRF refusals before any connection", () => {
  const fetchSpy = fence;

  const port = fixturePort;
  const forms = [
    `http://127.0.0.1:${port}/media.mp4`,
    `http://localhost:${port}/media.mp4`,
    `http://app.localhost:${port}/media.mp4`,
    `http://[::1]:${port}/media.mp4`,
    `http://[::ffff:127.0.0.1]:${port}/media.mp4`,
    `http://2130706433:${port}/media.mp4`,
    `http://0x7f.1:${port}/media.mp4`,
    `http://0177.0.0.1:${port}/media.mp4`,
    `http://0.0.0.0:${port}/media.mp4`,
  ];

  test.each(forms)("default options refuse %s", async (url) => {
    const resolve = async () => ["93.184.216.34"];
    const err = await failure(safeFetch(url, { resolve }));
    expect(["BLOCKED_URL", "BLOCKED_ADDRESS"]).toContain(err.code);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(seen).toHaveLength(0);
  });

  test.each(forms)("with the port allowed, %s is still refused for its address, without DNS", async (url) => {
    let lookups = 0;
    const resolve = async () => {
      lookups++;
      return ["93.184.216.34"];
    };
    const err = await failure(safeFetch(url, { allowedPorts: [port], resolve }));
    expect(err.code).toBe("BLOCKED_ADDRESS");
    expect(lookups).toBe(0);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(seen).toHaveLength(0);
  });

  test.each([
    ["http://169.254.169.254/latest/meta-data/", "BLOCKED_ADDRESS"],
    ["http://[fd00:ec2::254]/", "BLOCKED_ADDRESS"],
    ["file:///etc/passwd", "BLOCKED_URL"],
    ["s3://bucket/key", "BLOCKED_URL"],
    ["data:text/plain,secret", "BLOCKED_URL"],
    ["http://user:pass@example.com/", "BLOCKED_URL"],
  ])("%s is refused statically (%s)", async (url, code) => {
    let lookups = 0;
    const resolve = async () => {
      lookups++;
      return ["93.184.216.34"];
    };
    const err = await failure(safeFetch(url, { resolve }));
    expect(err.code).toBe(code as FetchErrorCode);
    expect(lookups).toBe(0);
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  test("a hostname that resolves to loopback is refused; the message does not name the address", async () => {
    const resolve = async () => ["127.0.0.1"];
    const err = await failure(safeFetch(`http://rebind.example:${port}/`, { allowedPorts: [port], resolve }));
    expect(err.code).toBe("BLOCKED_ADDRESS");
    expect(err.message).toContain("rebind.example");
    expect(err.message).not.toContain("127.0.0.1");
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(seen).toHaveLength(0);
  });

  test("one private address among public ones is enough to refuse", async () => {
    const resolve = async () => ["93.184.216.34", "::ffff:192.168.1.1"];
    const err = await failure(safeFetch("https://mixed.example/", { resolve }));
    expect(err.code).toBe("BLOCKED_ADDRESS");
    expect(err.message).not.toContain("192.168");
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  test("an address the URL parser cannot hold (zone id) is refused, never resolved by fetch", async () => {
    const resolve = async () => ["fe80::1%eth0"];
    const opts = { allowPrivateNetworks: true, resolve };
    const err = await failure(safeFetch("http://scoped.example/", opts));
    expect(err.code).toBe("BLOCKED_ADDRESS");
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  test("DNS failure is DNS_FAILED", async () => {
    const resolve = () => Promise.reject(Object.assign(new Error("queryA ENOTFOUND"), { code: "ENOTFOUND" }));
    const err = await failure(safeFetch("https://nxdomain.example/", { resolve }));
    expect(err.code).toBe("DNS_FAILED");
    expect(fetchSpy).not.toHaveBeenCalled();
  });
});

describe("safeFetch: fixture downloads", () => {
  test("downloads a file, sending Accept-Encoding: identity", async () => {
    const res = await safeFetch(`${base}/media.mp4`, allowed);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("video/mp4");
    expect(res.finalUrl).toBe(`${base}/media.mp4`);
    expect(await readAll(res)).toEqual(MEDIA);
    expect(seen).toEqual([
      { path: "/media.mp4", host: `127.0.0.1:${fixturePort}`, method: "GET", acceptEncoding: "identity" },
    ]);
    expect(fence).toHaveBeenCalledTimes(1); // the fence does see safe-fetch's requests
  });

  test("connects to the resolved address while sending the original Host (DNS pinning)", async () => {
    let lookups = 0;
    const resolve = async (host: string) => {
      lookups++;
      expect(host).toBe("media.example");
      return ["127.0.0.1"];
    };
    const opts = { allowedHosts: ["media.example"], allowedPorts: [fixturePort], resolve };
    const res = await safeFetch(`http://media.example:${fixturePort}/echo`, opts);
    expect(await res.body.json()).toMatchObject({ host: `media.example:${fixturePort}` });
    expect(res.finalUrl).toBe(`http://media.example:${fixturePort}/echo`);
    expect(lookups).toBe(1);
  });

  test("localhost through the system resolver, when allow-listed", async () => {
    const opts = { allowedHosts: ["localhost"], allowedPorts: [fixturePort] };
    const res = await safeFetch(`http://localhost:${fixturePort}/echo`, opts);
    expect(await res.body.json()).toMatchObject({ host: `localhost:${fixturePort}` });
  });

  test("follows a 5-hop redirect chain and reports the final URL", async () => {
    const res = await safeFetch(`${base}/chain/5`, allowed);
    expect(await readAll(res)).toEqual(MEDIA);
    expect(res.finalUrl).toBe(`${base}/chain/0`);
    expect(seen).toHaveLength(6);
  });

  test("a 6th redirect is TOO_MANY_REDIRECTS", async () => {
    const err = await failure(safeFetch(`${base}/chain/6`, allowed));
    expect(err.code).toBe("TOO_MANY_REDIRECTS");
    expect(seen).toHaveLength(6);
  });

  test.each([
    ["/to-other", "BLOCKED_URL"], // port not allowed
    ["/to-file", "BLOCKED_URL"],
    ["/to-s3", "BLOCKED_URL"],
    ["/to-metadata", "BLOCKED_ADDRESS"],
  ])("redirect %s is re-checked and refused (%s)", async (path, code) => {
    const err = await failure(safeFetch(`${base}${path}`, allowed));
    expect(err.code).toBe(code as FetchErrorCode);
    expect(seen).toHaveLength(1);
    expect(otherHits).toBe(0);
  });

  test.each(["/to-other", "/to-other-localhost", "/to-other-mapped"])(
    "redirect %s to another loopback port is refused by address even with its port allowed",
    async (path) => {
      // The fixture is reached as `fixture.example` (pinned to 127.0.0.1); 127.0.0.1 itself is not allow-listed.
      const opts = {
        allowedHosts: ["fixture.example"],
        allowedPorts: [fixturePort, otherPort],
        resolve: async () => ["127.0.0.1"],
      };
      const err = await failure(safeFetch(`http://fixture.example:${fixturePort}${path}`, opts));
      expect(err.code).toBe("BLOCKED_ADDRESS");
      expect(seen).toHaveLength(1);
      expect(otherHits).toBe(0);
    },
  );

  test("POST with a body; 303 continues as GET, 307 keeps POST and body", async () => {
    const post = {
      ...allowed,
      method: "POST" as const,
      body: '{"a":1}',
      headers: { "content-type": "application/json" },
    };
    const direct = await safeFetch(`${base}/echo`, post);
    expect(await direct.body.json()).toMatchObject({ method: "POST", body: '{"a":1}' });
    const after303 = await safeFetch(`${base}/post-303`, post);
    expect(await after303.body.json()).toMatchObject({ method: "GET", body: "" });
    const after307 = await safeFetch(`${base}/post-307`, post);
    expect(await after307.body.json()).toMatchObject({ method: "POST", body: '{"a":1}' });
  });

  test("credentials are dropped on a cross-origin redirect, kept on the same origin", async () => {
    const opts = {
      ...allowed,
      allowedHosts: ["127.0.0.1", "localhost"],
      headers: { authorization: "Bearer t" },
    };
    const same = await safeFetch(`${base}/echo`, opts);
    expect(await same.body.json()).toMatchObject({ authorization: "Bearer t" });
    const cross = await safeFetch(`${base}/to-localhost-echo`, opts);
    expect(await cross.body.json()).toMatchObject({ authorization: null, host: `localhost:${fixturePort}` });
  });

  test("a 404 is HTTP_STATUS with the status, and the message does not echo the body", async () => {
    const err = await failure(safeFetch(`${base}/missing`, allowed));
    expect(err.code).toBe("HTTP_STATUS");
    expect(err.status).toBe(404);
    expect(err.message).not.toContain("SECRET");
  });

  test("Content-Disposition filename from a real response", async () => {
    const res = await safeFetch(`${base}/disposition`, allowed);
    expect(contentDispositionFilename(res.headers)).toBe("€ rates.mp4");
    await res.body.cancel();
  });

  test("a connection error is NETWORK and does not name the address", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const port = portOf(closed);
    closed.stop(true);
    const opts = { allowedHosts: ["gone.example"], allowedPorts: [port], resolve: async () => ["127.0.0.1"] };
    const err = await failure(safeFetch(`http://gone.example:${port}/`, opts));
    expect(err.code).toBe("NETWORK");
    expect(err.message).toContain("gone.example");
    expect(err.message).not.toContain("127.0.0.1");
  });
});

describe("safeFetch: size and time caps", () => {
  test("an announced Content-Length over maxBytes fails before the body is read", async () => {
    const err = await failure(safeFetch(`${base}/huge-announced`, { ...allowed, maxBytes: MiB }));
    expect(err.code).toBe("TOO_LARGE");
  });

  test("a chunked body over maxBytes errors the stream once the cap is crossed", async () => {
    const res = await safeFetch(`${base}/huge-chunked`, { ...allowed, maxBytes: MiB });
    expect(res.headers.get("content-length")).toBeNull();
    const reader = res.body.getReader();
    let delivered = 0;
    const err = await failure(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          delivered += value.byteLength;
        }
      })(),
    );
    expect(err.code).toBe("TOO_LARGE");
    expect(delivered).toBeLessThanOrEqual(MiB);
  });

  test("a body exactly at maxBytes passes", async () => {
    const res = await safeFetch(`${base}/media.mp4`, { ...allowed, maxBytes: MEDIA.byteLength });
    expect((await readAll(res)).byteLength).toBe(MEDIA.byteLength);
  });

  test("slow response headers are CONNECT_TIMEOUT", async () => {
    const started = performance.now();
    const err = await failure(safeFetch(`${base}/slow-headers`, { ...allowed, connectTimeoutMs: 200 }));
    expect(err.code).toBe("CONNECT_TIMEOUT");
    expect(performance.now() - started).toBeLessThan(1200);
  });

  test("a resolver that never answers is CONNECT_TIMEOUT too", async () => {
    const resolve = () => new Promise<string[]>(() => {});
    const err = await failure(safeFetch("https://hang.example/", { resolve, connectTimeoutMs: 100 }));
    expect(err.code).toBe("CONNECT_TIMEOUT");
  });

  test("a body that stalls mid-way is IDLE_TIMEOUT", async () => {
    const res = await safeFetch(`${base}/stall`, { ...allowed, idleTimeoutMs: 200 });
    const err = await failure(readAll(res));
    expect(err.code).toBe("IDLE_TIMEOUT");
  });

  test("a body that trickles past the total deadline is DEADLINE", async () => {
    const res = await safeFetch(`${base}/drip`, { ...allowed, idleTimeoutMs: 1000, totalTimeoutMs: 300 });
    const err = await failure(readAll(res));
    expect(err.code).toBe("DEADLINE");
  });

  test("the caller's abort rejects with the caller's reason", async () => {
    const reason = new Error("shutting down");
    const ac = new AbortController();
    setTimeout(() => ac.abort(reason), 100);
    const result = await safeFetch(`${base}/slow-headers`, { ...allowed, signal: ac.signal }).catch((e) => e);
    expect(result).toBe(reason);
  });
});

describe("safeFetch: https pinned to the checked address", () => {
  const handshakes: (string | false | null)[] = [];
  const hosts: (string | undefined)[] = [];
  const tlsServer = https.createServer({ cert: TLS_CERT, key: TLS_KEY }, (req, res) => {
    hosts.push(req.headers.host);
    res.end("tls-ok");
  });
  tlsServer.on("secureConnection", (socket: TLSSocket) => handshakes.push(socket.servername));
  let tlsPort = 0;
  beforeAll(async () => {
    await new Promise<void>((resolve) => tlsServer.listen(0, "127.0.0.1", resolve));
    const address = tlsServer.address();
    tlsPort = typeof address === "object" && address ? address.port : 0;
  }, 120_000);
  afterEach(() => {
    handshakes.length = 0;
    hosts.length = 0;
  });
  afterAll(() => tlsServer.close());

  const opts = (host: string): SafeFetchOptions => ({
    allowedHosts: [host],
    allowedPorts: [tlsPort],
    resolve: async () => ["127.0.0.1"],
    ca: TLS_CERT,
  });

  test("SNI, certificate name and Host are the original host while connecting to the IP", async () => {
    const res = await safeFetch(`https://fixture.example:${tlsPort}/`, opts("fixture.example"));
    expect(await res.body.text()).toBe("tls-ok");
    expect(handshakes).toEqual(["fixture.example"]);
    expect(hosts).toEqual([`fixture.example:${tlsPort}`]);
  });

  test("a certificate for another name is refused (NETWORK), nothing is requested", async () => {
    const err = await failure(safeFetch(`https://other.example:${tlsPort}/`, opts("other.example")));
    expect(err.code).toBe("NETWORK");
    expect(err.message).not.toContain("127.0.0.1");
    expect(hosts).toHaveLength(0);
  });

  test("an untrusted certificate is refused without the ca option", async () => {
    const { ca: _ca, ...untrusted } = opts("fixture.example");
    const err = await failure(safeFetch(`https://fixture.example:${tlsPort}/`, untrusted));
    expect(err.code).toBe("NETWORK");
    expect(hosts).toHaveLength(0);
  });
});

describe("filename helpers", () => {
  const cd = (value: string) => contentDispositionFilename(new Headers({ "content-disposition": value }));

  test("filename* (UTF-8) wins over filename", () => {
    expect(cd(`attachment; filename="fallback.mp4"; filename*=UTF-8''%E2%82%AC%20rates.mp4`)).toBe(
      "€ rates.mp4",
    );
    expect(cd(`attachment; filename*=utf-8'en'caf%C3%A9.mov; filename="cafe.mov"`)).toBe("café.mov");
  });

  test("filename* in ISO-8859-1", () => {
    expect(cd(`attachment; filename*=iso-8859-1'en'%A3%20rates.txt`)).toBe("£ rates.txt");
  });

  test("plain filename: quoted with escapes, token, raw UTF-8 bytes", () => {
    expect(cd(`attachment; filename="a \\"quoted\\" name.mp4"`)).toBe('a "quoted" name.mp4');
    expect(cd("attachment; filename=plain.mp4")).toBe("plain.mp4");
    expect(
      cd(`attachment; filename="${String.fromCharCode(0xc3, 0xa9)}t${String.fromCharCode(0xc3, 0xa9)}.mp4"`),
    ).toBe("été.mp4");
    expect(cd('attachment; filename="semi;colon.mp4"')).toBe("semi;colon.mp4");
  });

  test("malformed filename* falls back to filename; none gives null", () => {
    expect(cd(`attachment; filename*=UTF-8''%E2%82; filename="fb.mp4"`)).toBe("fb.mp4");
    expect(cd("inline")).toBeNull();
    expect(contentDispositionFilename(new Headers())).toBeNull();
  });

  test("filenameFromUrl: last segment, percent-decoded, unsanitised", () => {
    expect(filenameFromUrl("https://x.example/a/b/clip%20one.mp4?x=1#f")).toBe("clip one.mp4");
    expect(filenameFromUrl(new URL("https://x.example/v.webm"))).toBe("v.webm");
    expect(filenameFromUrl("https://x.example/")).toBeNull();
    expect(filenameFromUrl("https://x.example/dir/")).toBeNull();
    expect(filenameFromUrl("https://x.example/bad%E0%A4%A")).toBe("bad%E0%A4%A");
    expect(filenameFromUrl("https://x.example/..%2F..%2Fetc%2Fpasswd")).toBe("../../etc/passwd");
    expect(filenameFromUrl("not a url")).toBeNull();
  });
});

test("the network fence saw no request leave loopback", () => {
  expect(fenceViolations).toEqual([]);
});
