import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, createServer, type Server } from "node:net";
import { type EgressProxy, type EgressProxyOptions, startEgressProxy } from "../../src/net/egress-proxy";

/** A loopback origin that counts raw TCP connections and answers every request with a fixed body. */
function countingOrigin(body = "hello from origin") {
  const state = { connections: 0, heads: [] as string[], port: 0 };
  const server: Server = createServer((s) => {
    state.connections++;
    let buf = "";
    s.on("data", (c) => {
      buf += c.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end === -1) return;
      state.heads.push(buf.slice(0, end));
      s.end(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    });
    s.on("error", () => {});
  });
  return Object.assign(state, { server });
}

/** Sends raw bytes to the proxy and collects everything it answers until it closes. */
function raw(port: number, text: string, thenSend?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: "127.0.0.1" });
    let out = "";
    s.on("data", (c) => {
      out += c.toString("latin1");
      if (thenSend && out.includes("\r\n\r\n") && out.startsWith("HTTP/1.1 200 Connection")) {
        s.write(thenSend);
        thenSend = undefined;
      }
    });
    s.on("end", () => resolve(out));
    s.on("close", () => resolve(out));
    s.on("error", reject);
    s.write(text);
  });
}

const origin = countingOrigin();
const other = countingOrigin();
const proxies: EgressProxy[] = [];

beforeAll(async () => {
  for (const o of [origin, other]) {
    await new Promise<void>((r) => o.server.listen(0, "127.0.0.1", r));
    o.port = (o.server.address() as { port: number }).port;
  }
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  origin.server.close();
  other.server.close();
});

async function proxy(extra: Partial<EgressProxyOptions> = {}) {
  const p = await startEgressProxy({
    listen: { port: 0 },
    maxBytes: 1024 * 1024,
    allowedHosts: ["127.0.0.1"],
    allowedPorts: [origin.port],
    ...extra,
  });
  proxies.push(p);
  return p;
}

describe("egress proxy", () => {
  test("a plain GET to an allowed origin is forwarded in origin form with Connection: close", async () => {
    const p = await proxy();
    const before = origin.connections;
    const url = `http://127.0.0.1:${origin.port}/clip.mp4?x=1`;
    const res = await raw(
      p.port as number,
      `GET ${url} HTTP/1.1\r\nHost: evil.example\r\nProxy-Connection: keep-alive\r\nUser-Agent: t\r\n\r\n`,
    );
    expect(res).toStartWith("HTTP/1.1 200 OK");
    expect(res).toEndWith("hello from origin");
    expect(origin.connections).toBe(before + 1);
    const head = origin.heads.at(-1) as string;
    expect(head).toStartWith("GET /clip.mp4?x=1 HTTP/1.1\r\n");
    expect(head).toContain(`Host: 127.0.0.1:${origin.port}`);
    expect(head).toContain("Connection: close");
    expect(head).not.toContain("evil.example");
    expect(head.toLowerCase()).not.toContain("proxy-connection");
    expect(p.events).toEqual([{ kind: "allowed", target: `127.0.0.1:${origin.port}` }]);
  });

  test("CONNECT to an allowed host:port opens a tunnel", async () => {
    const p = await proxy();
    const res = await raw(
      p.port as number,
      `CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`,
      "GET /tunnelled HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    expect(res).toStartWith("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK");
    expect(origin.heads.at(-1)).toStartWith("GET /tunnelled HTTP/1.1");
  });

  test.each([
    [
      "CONNECT to a port outside the allow-list",
      (port: number) => `CONNECT 127.0.0.1:${port} HTTP/1.1\r\n\r\n`,
    ],
    [
      "a GET to a port outside the allow-list",
      (port: number) => `GET http://127.0.0.1:${port}/ HTTP/1.1\r\n\r\n`,
    ],
  ])("%s is refused with 403 before any connection", async (_, request) => {
    const p = await proxy();
    const res = await raw(p.port as number, request(other.port));
    expect(res).toStartWith("HTTP/1.1 403 Forbidden");
    expect(other.connections).toBe(0);
    expect(p.events[0]).toMatchObject({ kind: "refused", reason: `port ${other.port} is not allowed` });
  });

  test("loopback is refused without the allow-list, also behind a host name (DNS checked)", async () => {
    const p = await proxy({
      allowedHosts: [],
      allowedPorts: [origin.port],
      resolve: async () => ["127.0.0.1"],
    });
    const before = origin.connections;
    for (const target of ["127.0.0.1", "media.example"]) {
      const res = await raw(p.port as number, `GET http://${target}:${origin.port}/ HTTP/1.1\r\n\r\n`);
      expect(res).toStartWith("HTTP/1.1 403");
      const tunnel = await raw(p.port as number, `CONNECT ${target}:${origin.port} HTTP/1.1\r\n\r\n`);
      expect(tunnel).toStartWith("HTTP/1.1 403");
    }
    expect(origin.connections).toBe(before);
    expect(p.events.map((e) => e.kind)).toEqual(["refused", "refused", "refused", "refused"]);
  });

  test("https URIs, other methods and malformed requests are refused without connecting", async () => {
    const p = await proxy();
    const before = origin.connections;
    for (const req of [
      `GET https://127.0.0.1:${origin.port}/ HTTP/1.1\r\n\r\n`,
      `DELETE http://127.0.0.1:${origin.port}/ HTTP/1.1\r\n\r\n`,
      `CONNECT user@127.0.0.1:${origin.port} HTTP/1.1\r\n\r\n`,
      "garbage\r\n\r\n",
    ]) {
      expect(await raw(p.port as number, req)).toStartWith("HTTP/1.1 400");
    }
    expect(origin.connections).toBe(before);
  });

  test("a response over the byte cap is cut and recorded", async () => {
    const p = await proxy({ maxBytes: 10 });
    const res = await raw(p.port as number, `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\n\r\n`);
    expect(res).not.toContain("hello from origin");
    expect(p.events.at(-1)).toMatchObject({ kind: "too-large" });
  });

  test("listens on a Unix socket", async () => {
    const path = `/tmp/egress-test-${process.pid}.sock`;
    const p = await proxy({ listen: { unix: path } });
    expect(p.port).toBeNull();
    const res = await new Promise<string>((resolve) => {
      const s = connect({ path });
      let out = "";
      s.on("data", (c) => {
        out += c.toString();
      });
      s.on("close", () => resolve(out));
      s.write(`GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\n\r\n`);
    });
    expect(res).toEndWith("hello from origin");
  });
});
