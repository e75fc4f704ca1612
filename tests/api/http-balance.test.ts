import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { startServer, type TestServer, workerPids } from "../helpers/server";

// HTTP_REBALANCE with HTTP_WORKERS=2: a process answering while it carries more than one request above
// the average of the node's processes sends `Connection: close`. The test picks, through /proc, which
// process holds each of its raw connections, so it can load one process and leave the other idle.

/** The server process holding the other end of a loopback connection (from /proc; no tools needed). */
function ownerOf(pids: number[], serverPort: number, clientPort: number): number | undefined {
  const inodes = new Set<string>();
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const [local, remote, inode] = [f[1], f[2], f[9]];
    if (!local || !remote || !inode) continue;
    if (
      Number.parseInt(local.split(":")[1] ?? "", 16) === serverPort &&
      Number.parseInt(remote.split(":")[1] ?? "", 16) === clientPort
    )
      inodes.add(inode);
  }
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m?.[1] && inodes.has(m[1])) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

interface Reply {
  head: string;
  body: string;
}

/** One raw HTTP/1.1 keep-alive connection: write requests, read replies, see when the server closes. */
async function connect(port: number) {
  let buf = "";
  let closed = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, d) {
        buf += d.toString();
        poke();
      },
      close() {
        closed = true;
        poke();
      },
      error() {},
    },
  });
  const until = async (ready: () => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  return {
    localPort: socket.localPort,
    write: (s: string) => socket.write(s),
    async reply(): Promise<Reply> {
      let end = -1;
      let len = 0;
      await until(() => {
        end = buf.indexOf("\r\n\r\n");
        if (end < 0) return false;
        len = Number(/^content-length: *(\d+)/im.exec(buf.slice(0, end))?.[1] ?? 0);
        return buf.length >= end + 4 + len;
      }, "a reply");
      const r = { head: buf.slice(0, end), body: buf.slice(end + 4, end + 4 + len) };
      buf = buf.slice(end + 4 + len);
      return r;
    },
    closedByServer: async () => {
      await until(() => closed, "the server to close");
      return true;
    },
    isClosed: () => closed,
    end: () => socket.end(),
  };
}

type Conn = Awaited<ReturnType<typeof connect>>;

/** The load board a process has mapped, from its memory map. */
function boardOf(pid: number): string | undefined {
  return readFileSync(`/proc/${pid}/maps`, "utf8")
    .split("\n")
    .map((l) => l.split(/\s+/).slice(5).join(" "))
    .find((p) => p.includes("/renderio-board-"));
}

async function health(c: Conn): Promise<Reply> {
  c.write("GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
  return c.reply();
}

const closes = (r: Reply) => /^connection: *close/im.test(r.head);

describe("HTTP_WORKERS=2: keep-alive connections are spread over the processes", () => {
  let server: TestServer;
  let pids: number[];
  const open: Conn[] = [];

  beforeAll(async () => {
    server = await startServer({ env: { HTTP_WORKERS: "2" } });
    const deadline = Date.now() + 15_000;
    while (!server.output().includes('"msg":"http worker listening"')) {
      if (Date.now() > deadline) throw new Error(`no http worker started:\n${server.output()}`);
      await Bun.sleep(25);
    }
    pids = [server.proc.pid, ...workerPids(server.proc.pid)];
    expect(pids).toHaveLength(2);
  }, 60_000);
  afterAll(async () => {
    for (const c of open) c.end();
    await server?.stop().catch(() => null);
  }, 30_000);

  /** `n` connections held by the same process (the kernel picks; the others are closed again). */
  async function onOneProcess(n: number): Promise<{ pid: number; conns: Conn[] }> {
    const by = new Map<number, Conn[]>();
    for (let i = 0; i < 200; i++) {
      const c = await connect(server.port);
      open.push(c);
      // Bun's listener accepts a connection only once data arrives (deferred accept): one request first.
      expect((await health(c)).head).toStartWith("HTTP/1.1 200");
      let pid: number | undefined;
      for (let k = 0; k < 50 && pid === undefined; k++) {
        pid = ownerOf(pids, server.port, c.localPort);
        if (pid === undefined) await Bun.sleep(10);
      }
      if (pid === undefined)
        throw new Error(`no server process holds the connection from port ${c.localPort}`);
      const list = by.get(pid) ?? [];
      list.push(c);
      by.set(pid, list);
      if (list.length === n) {
        for (const [p, cs] of by) if (p !== pid) for (const x of cs) x.end();
        return { pid, conns: list };
      }
    }
    throw new Error("the kernel never put enough connections on one process");
  }

  /** A multipart upload sent in two halves: the request stays in flight until `finish()`. */
  function startUpload(c: Conn, key: string) {
    const boundary = "----renderio-balance";
    const head = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`;
    const tail = `\r\n--${boundary}--\r\n`;
    const data = "x".repeat(1000);
    const body = head + data + tail;
    c.write(
      `POST /api/v1/files/upload HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: ${key}\r\n` +
        `content-type: multipart/form-data; boundary=${boundary}\r\ncontent-length: ${body.length}\r\n\r\n` +
        body.slice(0, 300),
    );
    return { finish: () => c.write(body.slice(300)) };
  }

  test("a process alone with one request in flight keeps the connection open", async () => {
    const { conns } = await onOneProcess(1);
    const c = conns[0] as Conn;
    const r = await health(c);
    expect(r.head).toStartWith("HTTP/1.1 200");
    expect(closes(r)).toBe(false);
    // Still usable: a second request on the same connection.
    expect((await health(c)).head).toStartWith("HTTP/1.1 200");
    expect(c.isClosed()).toBe(false);
  }, 30_000);

  test("a process with requests piling up while the other idles answers with Connection: close", async () => {
    const key = server.firstKey as string;
    const { conns } = await onOneProcess(4);
    const [a, b, c, d] = conns as [Conn, Conn, Conn, Conn];
    // Three uploads held in flight on that process; the other process has none.
    const uploads = [startUpload(a, key), startUpload(b, key), startUpload(c, key)];
    await Bun.sleep(200);
    // A fourth request there: 4 in flight against an average of 2 → more than one above it.
    const r = await health(d);
    expect(r.head).toStartWith("HTTP/1.1 200");
    expect(closes(r)).toBe(true);
    expect(await d.closedByServer()).toBe(true);

    // The uploads complete normally; the first to be answered (3 in flight, average 1.5) is told to
    // reconnect, the later ones (2 against 1, then 1 against 0.5) are not.
    uploads[0]?.finish();
    const first = await a.reply();
    expect(first.head).toStartWith("HTTP/1.1 200");
    expect(JSON.parse(first.body)).toHaveProperty("file_id");
    expect(closes(first)).toBe(true);
    uploads[1]?.finish();
    const second = await b.reply();
    expect(second.head).toStartWith("HTTP/1.1 200");
    expect(closes(second)).toBe(false);
    uploads[2]?.finish();
    const third = await c.reply();
    expect(third.head).toStartWith("HTTP/1.1 200");
    expect(closes(third)).toBe(false);
    expect(c.isClosed()).toBe(false);
  }, 30_000);

  test("the counts live in one small file both processes map; it is removed on shutdown", async () => {
    const paths = pids.map(boardOf);
    expect(paths[0]).toMatch(/\/renderio-board-[^/]+\/load$/);
    expect(paths[1]).toBe(paths[0]);
    for (const c of open) c.end();
    expect(await server.stop()).toBe(0);
    expect(existsSync(paths[0] as string)).toBe(false);
  }, 30_000);
});

test("HTTP_REBALANCE=false: no process ever closes a keep-alive connection to rebalance", async () => {
  const server = await startServer({ env: { HTTP_WORKERS: "2", HTTP_REBALANCE: "false" } });
  try {
    // Eight requests in flight on eight connections: whatever the split, nobody is told to reconnect.
    const conns = await Promise.all(Array.from({ length: 8 }, () => connect(server.port)));
    const replies = await Promise.all(
      conns.map(async (c) => {
        c.write("GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
        return c.reply();
      }),
    );
    for (const r of replies) {
      expect(r.head).toStartWith("HTTP/1.1 200");
      expect(closes(r)).toBe(false);
    }
    for (const c of conns) c.end();
    for (const pid of [server.proc.pid, ...workerPids(server.proc.pid)]) expect(boardOf(pid)).toBeUndefined();
  } finally {
    await server.stop();
  }
}, 60_000);
