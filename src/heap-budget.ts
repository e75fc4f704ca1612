/**
 * The heap budget (HEAP_BUDGET_MB). JavaScriptCore paces its garbage collector by the machine's RAM:
 * on a 24 GB host it lets tens of MB of dead request-body chunks pile up before collecting, and a
 * 1 GiB upload peaks at ~108 MB RSS. Told a smaller RAM size (`BUN_JSC_forceRAMSize`, read once when
 * the runtime starts) it collects sooner: 96–97 MB for any size from 512 MiB to 8 GiB (bench/upload.ts).
 * The smaller the size, the more often it collects during many small uploads (a Bun server storing
 * 1 MiB bodies: 2.03 ms of CPU per upload at 512 MiB, ~1.85 at 2–8 GiB, 1.68 unset), so the default
 * is 4 GiB, or the memory the process may actually use (its cgroup limit, or the RAM) when that is less.
 *
 * The variable must be in the environment before the runtime starts, so `serve` re-executes itself
 * once with it set (`process.execve`: same PID, same argv). Deliberately tiny and dependency-free: it
 * runs before anything else is imported. An invalid value is left for the config check to report.
 */
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";

const MiB = 1024 * 1024;
export const DEFAULT_HEAP_BUDGET_MB = 4096;

/**
 * The memory this process may use, in bytes: the machine's RAM, or its cgroup's memory limit (v2
 * `memory.max`, v1 `memory.limit_in_bytes`) when that is lower.
 */
export function memoryLimitBytes(
  read: (path: string) => string = (p) => readFileSync(p, "utf8"),
  ram: number = totalmem(),
): number {
  const tryRead = (path: string) => {
    try {
      return read(path).trim();
    } catch {
      return "";
    }
  };
  const paths: string[] = [];
  for (const line of tryRead("/proc/self/cgroup").split("\n")) {
    const [, controllers, path] = line.split(":");
    if (controllers === "" && path) paths.push(`/sys/fs/cgroup${path}/memory.max`);
    if (controllers?.split(",").includes("memory") && path)
      paths.push(`/sys/fs/cgroup/memory${path}/memory.limit_in_bytes`);
  }
  paths.push("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes");
  let limit = ram;
  for (const path of paths) {
    const v = tryRead(path);
    // "max" (v2) or a page-rounded 2^63 (v1) mean no limit.
    if (/^\d+$/.test(v) && Number(v) > 0) limit = Math.min(limit, Number(v));
  }
  return limit;
}

/** The exec to perform, or null when none is needed. Pure, for tests. */
export function heapBudgetExec(p: {
  argv: string[];
  execArgv: string[];
  execPath: string;
  env: Record<string, string | undefined>;
  /** The memory the process may use (bytes); caps the default budget. Asked only when needed. */
  memoryBytes?: () => number;
}): { path: string; args: string[]; env: Record<string, string | undefined> } | null {
  const { argv, env } = p;
  if (env.BUN_JSC_forceRAMSize !== undefined) return null; // set by the operator, or by our own exec
  const compiled = argv[1]?.startsWith("/$bunfs/") ?? false;
  const userArgs = argv.slice(2);
  if ((userArgs[0] ?? "serve") !== "serve") return null; // CLI commands are short-lived
  const raw = env.HEAP_BUDGET_MB || undefined; // empty = unset, as in the config
  if (raw !== undefined && (!/^\d+$/.test(raw) || Number(raw) === 0)) return null; // 0 = off; invalid: the config check reports it
  const bytes =
    raw === undefined
      ? Math.min(DEFAULT_HEAP_BUDGET_MB * MiB, p.memoryBytes?.() ?? Number.POSITIVE_INFINITY)
      : Number(raw) * MiB;
  const args = compiled ? [p.execPath, ...userArgs] : [p.execPath, ...p.execArgv, ...argv.slice(1)];
  return { path: p.execPath, args, env: { ...env, BUN_JSC_forceRAMSize: String(bytes) } };
}

/** Re-executes the process with the heap budget applied when needed; returns only if it did not. */
export function applyHeapBudget(): void {
  const exec = heapBudgetExec({
    argv: process.argv,
    execArgv: process.execArgv,
    execPath: process.execPath,
    env: process.env,
    memoryBytes: () => memoryLimitBytes(),
  });
  if (exec && typeof process.execve === "function") process.execve(exec.path, exec.args, exec.env);
}
