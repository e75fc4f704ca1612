import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { heapBudgetExec, memoryLimitBytes } from "../../src/heap-budget";
import { freePort, tempDir } from "../helpers/server";

const ROOT = resolve(import.meta.dir, "../..");
const base = { execArgv: [], execPath: "/usr/bin/bun", env: {} };

describe("heapBudgetExec (pure)", () => {
  test("serve from source re-executes bun with its flags, the script and the args, budget in bytes", () => {
    const exec = heapBudgetExec({
      ...base,
      execArgv: ["--smol"],
      argv: ["/usr/bin/bun", "/app/src/index.ts", "serve"],
      env: { PATH: "/usr/bin" },
    });
    expect(exec).toEqual({
      path: "/usr/bin/bun",
      args: ["/usr/bin/bun", "--smol", "/app/src/index.ts", "serve"],
      env: { PATH: "/usr/bin", BUN_JSC_forceRAMSize: String(4096 * 1024 * 1024) },
    });
  });

  test("the compiled binary re-executes itself with the user's args; no args means serve", () => {
    const exec = heapBudgetExec({
      ...base,
      execPath: "/usr/local/bin/renderio",
      argv: ["bun", "/$bunfs/root/renderio"],
      env: { HEAP_BUDGET_MB: "256" },
    });
    expect(exec?.args).toEqual(["/usr/local/bin/renderio"]);
    expect(exec?.env.BUN_JSC_forceRAMSize).toBe(String(256 * 1024 * 1024));
  });

  test("the default is capped by the memory the process may use; an explicit budget is not", () => {
    const argv = ["/usr/bin/bun", "/app/src/index.ts", "serve"];
    const budget = (env: Record<string, string>, memoryBytes?: number) =>
      heapBudgetExec({ ...base, argv, env, ...(memoryBytes ? { memoryBytes: () => memoryBytes } : {}) })?.env
        .BUN_JSC_forceRAMSize;
    expect(budget({}, 1024 * 1024 * 1024)).toBe(String(1024 * 1024 * 1024));
    expect(budget({ HEAP_BUDGET_MB: "" }, 1024 * 1024 * 1024)).toBe(String(1024 * 1024 * 1024));
    expect(budget({}, 64 * 1024 ** 3)).toBe(String(4096 * 1024 * 1024));
    expect(budget({ HEAP_BUDGET_MB: "8192" }, 1024 * 1024 * 1024)).toBe(String(8192 * 1024 * 1024));
  });

  test("no exec: already set (operator or our own exec), budget 0 or invalid, or a CLI command", () => {
    const serve = ["/usr/bin/bun", "/app/src/index.ts", "serve"];
    expect(heapBudgetExec({ ...base, argv: serve, env: { BUN_JSC_forceRAMSize: "1" } })).toBeNull();
    expect(heapBudgetExec({ ...base, argv: serve, env: { HEAP_BUDGET_MB: "0" } })).toBeNull();
    expect(heapBudgetExec({ ...base, argv: serve, env: { HEAP_BUDGET_MB: "lots" } })).toBeNull();
    expect(
      heapBudgetExec({ ...base, argv: ["/usr/bin/bun", "/app/src/index.ts", "keys", "list"] }),
    ).toBeNull();
  });
});

describe("memoryLimitBytes", () => {
  const files = (map: Record<string, string>) => (p: string) => {
    if (p in map) return map[p] as string;
    throw new Error("ENOENT");
  };
  const GiB = 1024 ** 3;

  test("no cgroup limit: the RAM", () => {
    const v1 = files({
      "/proc/self/cgroup": "4:memory:/svc\n1:cpu:/",
      "/sys/fs/cgroup/memory/svc/memory.limit_in_bytes": "9223372036854771712",
    });
    expect(memoryLimitBytes(v1, 24 * GiB)).toBe(24 * GiB);
    const v2 = files({
      "/proc/self/cgroup": "0::/app.slice/x",
      "/sys/fs/cgroup/app.slice/x/memory.max": "max",
    });
    expect(memoryLimitBytes(v2, 24 * GiB)).toBe(24 * GiB);
    expect(memoryLimitBytes(files({}), 8 * GiB)).toBe(8 * GiB);
  });

  test("a cgroup limit below the RAM wins (v2 and v1, also when only the namespace root is visible)", () => {
    const v2 = files({
      "/proc/self/cgroup": "0::/app.slice/x",
      "/sys/fs/cgroup/app.slice/x/memory.max": "536870912",
    });
    expect(memoryLimitBytes(v2, 24 * GiB)).toBe(512 * 1024 * 1024);
    const v1 = files({
      "/proc/self/cgroup": "7:memory:/docker/abc",
      "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": String(2 * GiB),
    });
    expect(memoryLimitBytes(v1, 24 * GiB)).toBe(2 * GiB);
    const ns = files({ "/proc/self/cgroup": "0::/", "/sys/fs/cgroup/memory.max": String(GiB) });
    expect(memoryLimitBytes(ns, 24 * GiB)).toBe(GiB);
  });

  test("this machine: a positive number no larger than the RAM", async () => {
    const { totalmem } = await import("node:os");
    const n = memoryLimitBytes();
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(totalmem());
  });
});

describe("serve applies it to the running server", () => {
  const start = async (env: Record<string, string>) => {
    const port = freePort();
    const proc = Bun.spawn(["bun", join(ROOT, "src/index.ts"), "serve"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DATA_DIR: tempDir(), PORT: String(port), ...env },
      stdout: "ignore",
      stderr: "ignore",
    });
    for (let i = 0; i < 200; i++) {
      const up = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      await Bun.sleep(50);
    }
    // Same PID after the exec: /proc shows the environment the runtime started with.
    const environ = readFileSync(`/proc/${proc.pid}/environ`, "utf8").split("\0");
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    return environ;
  };

  test("default: BUN_JSC_forceRAMSize = 4 GiB (or less memory); HEAP_BUDGET_MB=0: untouched", async () => {
    const want = Math.min(4096 * 1024 * 1024, memoryLimitBytes());
    expect(await start({})).toContain(`BUN_JSC_forceRAMSize=${want}`);
    expect(await start({ HEAP_BUDGET_MB: "512" })).toContain(`BUN_JSC_forceRAMSize=${512 * 1024 * 1024}`);
    expect((await start({ HEAP_BUDGET_MB: "0" })).some((e) => e.startsWith("BUN_JSC_"))).toBe(false);
  }, 30_000);
});
