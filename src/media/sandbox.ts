/**
 * bubblewrap (`bwrap`) sandbox for ffmpeg/ffprobe.
 *
 * Invariants when available:
 * - No network, no IPC, no view of other processes (`--unshare-all`).
 * - No controlling terminal (no TTY injection): the runner starts every process in a new session of its
 *   own. bwrap's `--new-session` is not used, because a second session would be a second autogroup,
 *   where the CPU niceness the runner gives the session does not apply (see `runner.ts`).
 * - Empty environment (`--clearenv`); the child dies with its parent (`--die-with-parent`).
 * - Only /usr, the shared-library plumbing (/etc/ld.so.cache, /etc/alternatives) and the paths the caller
 *   names are visible. Not /etc as a whole (it would expose /etc/passwd and friends), not the data dir.
 * - Paths are bound at the same location inside as outside, so argv needs no rewriting.
 * When bwrap is missing or cannot create namespaces here, `wrap` is the identity and the caller must log
 * {@link SANDBOX_UNAVAILABLE_WARNING}.
 */
import { existsSync, realpathSync } from "node:fs";
import { dirname, isAbsolute } from "node:path";
import { runProcess } from "./runner";

/** What a sandboxed process may see besides the system binaries. */
export interface WrapOptions {
  /** Bound read-only at the same path. */
  readOnly: string[];
  /** Bound read-write at the same path. */
  writable: string[];
  /** Working directory inside the sandbox; defaults to `/`. */
  chdir?: string;
  /**
   * Share the host network (and make DNS/TLS configuration visible). Only for reading our own
   * storage through a presigned URL; the caller restricts protocols and formats.
   */
  network?: boolean;
}

/** Files a networked sandbox needs to resolve names and verify TLS certificates. */
const NETWORK_FILES = ["/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl/certs"];

/**
 * The media programs to run (argv[0] of every ffmpeg/ffprobe call). Bare names are found on the
 * default PATH (inside bwrap: /bin:/usr/bin); absolute paths outside /usr are bound read-only.
 */
export interface MediaTools {
  ffmpeg: string;
  ffprobe: string;
}

export const SYSTEM_TOOLS: MediaTools = { ffmpeg: "ffmpeg", ffprobe: "ffprobe" };

/** A detected sandbox. `wrap` turns a plain argv into the argv to spawn. */
export interface Sandbox {
  available: boolean;
  /** Why the sandbox is unavailable (for the startup warning). */
  reason?: string;
  /** The programs to put at argv[0]; visible inside the sandbox. */
  tools: MediaTools;
  wrap(argv: string[], opts: WrapOptions): string[];
}

/** Logged loudly by the caller when {@link detectSandbox} returns `available: false`. */
export const SANDBOX_UNAVAILABLE_WARNING =
  "SECURITY WARNING: bubblewrap (bwrap) sandbox unavailable; ffmpeg/ffprobe will run UNSANDBOXED with " +
  "access to the network and to every file this server can read. Install bubblewrap (Debian: " +
  "`apt-get install bubblewrap`) and allow unprivileged user namespaces.";

const BWRAP = "/usr/bin/bwrap";
const PROBE_TIMEOUT_MS = 5000;

/** The fixed part of the bwrap argv, limited to what exists on this machine. */
export function baseBwrapArgs(
  exists: (p: string) => boolean = existsSync,
  toolDirs: string[] = [],
): string[] {
  const args = ["--unshare-all", "--die-with-parent", "--clearenv"];
  args.push("--ro-bind", "/usr", "/usr");
  for (const p of ["/etc/alternatives", "/etc/ld.so.cache"]) {
    if (exists(p)) args.push("--ro-bind", p, p);
  }
  // Merged-/usr layout: /lib, /lib64 and /bin are symlinks into /usr on Debian 12.
  for (const [target, link] of [
    ["usr/lib", "/lib"],
    ["usr/lib64", "/lib64"],
    ["usr/bin", "/bin"],
  ] as const) {
    if (exists(`/${target}`)) args.push("--symlink", target, link);
  }
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
  // After the /tmp tmpfs, which would otherwise hide a build kept under /tmp.
  for (const dir of toolDirs) args.push("--ro-bind", dir, dir);
  return args;
}

/** Builds the full bwrap argv around `argv`; pure given `base`. */
export function buildWrappedArgv(base: string[], argv: string[], opts: WrapOptions): string[] {
  const out = [BWRAP, ...base];
  for (const p of opts.readOnly) out.push("--ro-bind", p, p);
  for (const p of opts.writable) out.push("--bind", p, p);
  if (opts.network) {
    out.push("--share-net");
    for (const p of NETWORK_FILES) if (existsSync(p)) out.push("--ro-bind", p, p);
  }
  out.push("--chdir", opts.chdir ?? "/");
  // "--" ends bwrap's options so an argv[0] starting with "-" can never be read as one.
  out.push("--", ...argv);
  return out;
}

/** The sandbox used when bwrap cannot be used: runs commands as they are. */
export function unsandboxed(reason: string, tools: MediaTools = SYSTEM_TOOLS): Sandbox {
  return { available: false, reason, tools, wrap: (argv) => [...argv] };
}

/**
 * Detects bubblewrap once by running `/usr/bin/true` inside the exact sandbox used for real work.
 * Never throws: any failure yields `available: false` with a reason. `disabled` (operator opt-out,
 * e.g. `SANDBOX=off`) skips detection and returns the unsandboxed runner.
 */
export async function detectSandbox(opts: { disabled?: boolean; tools?: MediaTools } = {}): Promise<Sandbox> {
  const tools = opts.tools ?? SYSTEM_TOOLS;
  if (opts.disabled) return unsandboxed("disabled by configuration", tools);
  if (!existsSync(BWRAP)) return unsandboxed(`${BWRAP} not found`, tools);
  const base = baseBwrapArgs(existsSync, toolDirs(tools));
  try {
    const res = await runProcess({
      argv: buildWrappedArgv(base, ["/usr/bin/true"], { readOnly: [], writable: [] }),
      timeoutMs: PROBE_TIMEOUT_MS,
    });
    if (res.exitCode !== 0) {
      const why = res.timedOut ? "timed out" : res.stderrTail.trim().slice(-300) || `exit ${res.exitCode}`;
      return unsandboxed(`bwrap probe failed: ${why}`, tools);
    }
  } catch (err) {
    return unsandboxed(`bwrap probe could not start: ${String(err)}`, tools);
  }
  return {
    available: true,
    tools,
    wrap: (argv, opts) => buildWrappedArgv(base, argv, opts),
  };
}

/**
 * Directories to bind so the configured tools exist inside the sandbox: the directory of each
 * absolute tool path and of its symlink target, unless under /usr (always bound).
 */
export function toolDirs(tools: MediaTools, real: (p: string) => string = realpathSync): string[] {
  const dirs = new Set<string>();
  for (const p of [tools.ffmpeg, tools.ffprobe]) {
    if (!isAbsolute(p)) continue;
    for (const dir of [dirname(p), dirname(real(p))]) {
      const target = real(dir); // /bin is a symlink into /usr on merged-/usr systems
      if (target !== "/usr" && !target.startsWith("/usr/")) dirs.add(dir);
    }
  }
  return [...dirs];
}
