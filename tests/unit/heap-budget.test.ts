import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { heapBudgetExec } from "../../src/heap-budget";
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
      env: { PATH: "/usr/bin", BUN_JSC_forceRAMSize: String(512 * 1024 * 1024) },
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

  test("default: BUN_JSC_forceRAMSize = 512 MiB; HEAP_BUDGET_MB=0: untouched", async () => {
    expect(await start({})).toContain(`BUN_JSC_forceRAMSize=${512 * 1024 * 1024}`);
    expect((await start({ HEAP_BUDGET_MB: "0" })).some((e) => e.startsWith("BUN_JSC_"))).toBe(false);
  }, 30_000);
});
