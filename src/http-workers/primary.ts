import type { Subprocess } from "bun";
import type { MetricsSnapshot } from "../http/metrics";
import type { Logger } from "../log";
import { type Answer, createRpc, isMessage, type Rpc } from "./rpc";
import { WORKER_ENV } from "./worker";

export interface HttpWorkersOptions {
  /** Worker processes to run besides the primary. */
  count: number;
  /** The port the primary bound (with SO_REUSEPORT); workers bind the same one. */
  port: number;
  /** The primary's effective base URL, so that workers build the same links even when PORT was 0. */
  publicBaseUrl: string;
  /** More internal settings for the workers' environment. */
  env?: Record<string, string>;
  log: Logger;
  /** Answers a worker's requests (`take`, `metrics`). */
  answer: Answer;
  /** A worker handed over a job submit or an abort. */
  onEnqueue(kind: string, id: string): void;
  onAbort(kind: string, id: string): void;
}

interface Slot {
  index: number;
  proc?: Subprocess;
  rpc?: Rpc;
  /** Restarts in the last minute, for the back-off. */
  restarts: number[];
}

/** Same binary, same entry: the compiled executable takes its subcommand directly. */
function workerCommand(): string[] {
  const entry = process.argv[1] ?? "";
  if (entry.startsWith("/$bunfs/") || entry.startsWith("B:/~BUN/")) return [process.execPath, "serve"];
  return [process.execPath, ...process.execArgv, entry, "serve"];
}

/**
 * Runs the HTTP worker processes of this node: spawns them with an IPC channel, relays what they hand
 * over, restarts one that dies (at once, then backing off when it keeps dying), and stops them on
 * shutdown. Each worker serves the full API on the shared port but runs no background jobs.
 */
export function startHttpWorkers(o: HttpWorkersOptions) {
  const cmd = workerCommand();
  const slots: Slot[] = Array.from({ length: o.count }, (_, i) => ({ index: i + 1, restarts: [] }));
  let stopping = false;

  function spawn(slot: Slot): void {
    const log = o.log.child({ worker: slot.index });
    const proc = Bun.spawn(cmd, {
      env: {
        ...process.env,
        ...o.env,
        [WORKER_ENV]: String(slot.index),
        PORT: String(o.port),
        PUBLIC_BASE_URL: o.publicBaseUrl,
      },
      stdin: "ignore",
      stdout: "inherit",
      stderr: "inherit",
      serialization: "json",
      ipc(message) {
        if (!isMessage(message) || rpc.handle(message)) return;
        if (message.t === "enqueue") o.onEnqueue(message.kind, message.id);
        else if (message.t === "abort") o.onAbort(message.kind, message.id);
        else if (message.t === "ready") log.debug("http worker ready", { pid: proc.pid });
      },
    });
    const rpc = createRpc((m) => proc.send(m), o.answer);
    slot.proc = proc;
    slot.rpc = rpc;
    void proc.exited.then((code) => {
      rpc.close("http worker exited");
      if (slot.proc === proc) {
        slot.proc = undefined;
        slot.rpc = undefined;
      }
      if (stopping) return;
      const now = Date.now();
      slot.restarts = [...slot.restarts.filter((t) => now - t < 60_000), now];
      // The first restarts are immediate; a worker that keeps dying is restarted every 5 s at most.
      const delay = slot.restarts.length > 3 ? 5000 : 0;
      log.error("http worker exited; restarting it", {
        pid: proc.pid,
        code,
        signal: proc.signalCode,
        restartInMs: delay,
      });
      setTimeout(() => {
        if (!stopping) spawn(slot);
      }, delay).unref();
    });
  }

  for (const slot of slots) spawn(slot);

  return {
    pids: () => slots.flatMap((s) => (s.proc ? [s.proc.pid] : [])),

    /** Every live worker's counters (a worker that does not answer within 2 s is left out). */
    async snapshots(): Promise<MetricsSnapshot[]> {
      const asks = slots.map((s) =>
        s.rpc ? s.rpc.request<MetricsSnapshot>("snapshot", undefined, 2000).catch(() => null) : null,
      );
      return (await Promise.all(asks)).filter((x): x is MetricsSnapshot => x !== null);
    },

    /**
     * SIGTERM to every worker (each stops accepting, finishes its requests within the grace period and
     * exits); SIGKILL for any still running `graceMs` + 5 s later.
     */
    async stop(graceMs: number): Promise<void> {
      stopping = true;
      const procs = slots.flatMap((s) => (s.proc ? [s.proc] : []));
      for (const p of procs) p.kill("SIGTERM");
      const kill = setTimeout(() => {
        for (const p of procs) p.kill("SIGKILL");
      }, graceMs + 5000);
      await Promise.all(procs.map((p) => p.exited));
      clearTimeout(kill);
    },
  };
}

export type HttpWorkers = ReturnType<typeof startHttpWorkers>;
