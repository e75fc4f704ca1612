import { describe, expect, test } from "bun:test";
import { createRpc, isMessage } from "../../src/http-workers/rpc";

/** Two ends joined back to back; messages cross on a later tick, as over a real channel. */
function pair(
  answerA: (op: string, arg?: string) => unknown,
  answerB: (op: string, arg?: string) => unknown,
) {
  let a: ReturnType<typeof createRpc> | undefined;
  let b: ReturnType<typeof createRpc> | undefined;
  a = createRpc((m) => {
    queueMicrotask(() => b?.handle(JSON.parse(JSON.stringify(m))));
  }, answerA);
  b = createRpc((m) => queueMicrotask(() => a?.handle(JSON.parse(JSON.stringify(m)))), answerB);
  return { a, b };
}

describe("IPC request/response between the primary and its HTTP workers", () => {
  test("answers arrive at the request that asked, even out of order", async () => {
    const { a } = pair(
      () => null,
      async (op, arg) => {
        if (op === "slow") await Bun.sleep(30);
        return `${op}:${arg}`;
      },
    );
    const slow = a.request<string>("slow", "1");
    const fast = a.request<string>("fast", "2");
    expect(await fast).toBe("fast:2");
    expect(await slow).toBe("slow:1");
  });

  test("an async answer (a rate-limit take) is awaited; a thrown error rejects the request", async () => {
    const { a } = pair(
      () => null,
      async (op) => {
        if (op === "take") return 0;
        throw new Error(`unknown request "${op}"`);
      },
    );
    expect(await a.request<number>("take", "key-1")).toBe(0);
    await expect(a.request("nope")).rejects.toThrow('unknown request "nope"');
  });

  test("no answer within the timeout rejects; a late answer is ignored", async () => {
    const { a } = pair(
      () => null,
      async () => {
        await Bun.sleep(100);
        return "late";
      },
    );
    await expect(a.request("x", undefined, 20)).rejects.toThrow('no answer to "x" within 20 ms');
    await Bun.sleep(120); // the late response arrives and must not throw or resolve anything
  });

  test("close() fails every request still waiting (the other process is gone)", async () => {
    const rpc = createRpc(
      () => {},
      () => null,
    );
    const waiting = rpc.request("metrics");
    rpc.close("the primary process is gone");
    await expect(waiting).rejects.toThrow("the primary process is gone");
  });

  test("a send that throws (channel closed) rejects the request at once", async () => {
    const rpc = createRpc(
      () => {
        throw new Error("channel closed");
      },
      () => null,
    );
    await expect(rpc.request("take", "k")).rejects.toThrow("channel closed");
  });

  test("only messages with a type are taken; job hand-offs are left to the caller", () => {
    const rpc = createRpc(
      () => {},
      () => null,
    );
    expect(isMessage(null)).toBe(false);
    expect(isMessage("enqueue")).toBe(false);
    expect(isMessage({ t: "enqueue", kind: "probe", id: "f1" })).toBe(true);
    expect(rpc.handle({ t: "enqueue", kind: "probe", id: "f1" })).toBe(false);
    expect(rpc.handle({ t: "res", rid: 999, value: 1 })).toBe(true); // unknown id: ignored
  });
});
