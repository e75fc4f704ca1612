/**
 * The heap budget (HEAP_BUDGET_MB). JavaScriptCore paces its garbage collector by the machine's RAM:
 * on a 24 GB host it lets tens of MB of dead request-body chunks pile up before collecting, and a
 * 1 GiB upload peaks at ~103 MB RSS. Told a smaller RAM size (`BUN_JSC_forceRAMSize`, read once when
 * the runtime starts) it collects sooner: ~94 MB, at the same upload speed (bench/upload.ts).
 *
 * The variable must be in the environment before the runtime starts, so `serve` re-executes itself
 * once with it set (`process.execve`: same PID, same argv). Deliberately tiny and dependency-free: it
 * runs before anything else is imported. An invalid value is left for the config check to report.
 */
const MiB = 1024 * 1024;
export const DEFAULT_HEAP_BUDGET_MB = 512;

/** The exec to perform, or null when none is needed. Pure, for tests. */
export function heapBudgetExec(p: {
  argv: string[];
  execArgv: string[];
  execPath: string;
  env: Record<string, string | undefined>;
}): { path: string; args: string[]; env: Record<string, string | undefined> } | null {
  const { argv, env } = p;
  if (env.BUN_JSC_forceRAMSize !== undefined) return null; // set by the operator, or by our own exec
  const compiled = argv[1]?.startsWith("/$bunfs/") ?? false;
  const userArgs = argv.slice(2);
  if ((userArgs[0] ?? "serve") !== "serve") return null; // CLI commands are short-lived
  const raw = env.HEAP_BUDGET_MB ?? String(DEFAULT_HEAP_BUDGET_MB);
  if (!/^\d+$/.test(raw) || Number(raw) === 0) return null; // 0 = off; invalid: the config check says so
  const args = compiled ? [p.execPath, ...userArgs] : [p.execPath, ...p.execArgv, ...argv.slice(1)];
  return { path: p.execPath, args, env: { ...env, BUN_JSC_forceRAMSize: String(Number(raw) * MiB) } };
}

/** Re-executes the process with the heap budget applied when needed; returns only if it did not. */
export function applyHeapBudget(): void {
  const exec = heapBudgetExec({
    argv: process.argv,
    execArgv: process.execArgv,
    execPath: process.execPath,
    env: process.env,
  });
  if (exec && typeof process.execve === "function") process.execve(exec.path, exec.args, exec.env);
}
