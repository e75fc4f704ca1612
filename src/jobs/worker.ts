import PQueue from "p-queue";
import type { Logger } from "../log";
import type { LeaseKind, Leases } from "./leases";

export interface WorkerOptions {
  kind: LeaseKind;
  leases: Leases;
  log: Logger;
  /** Jobs of this kind running at once on this node. */
  concurrency: number;
  /** How often the database is asked for claimable work (other nodes' submits, lapsed leases, retries). */
  pollMs: number;
  /** Runs one claimed job; `signal` aborts when the lease is lost (or the job is cancelled by `abort`). */
  run(id: string, signal: AbortSignal): Promise<void>;
  /** After each renewal, with the ids still held (commands look for cancel requests here). */
  afterRenew?(held: string[]): Promise<void>;
  /** On every poll tick, before claiming (commands refresh their backlog gauge here). */
  onPoll?(): Promise<void>;
  /** Set in an HTTP worker process, which runs no jobs: submits and aborts go to the primary process. */
  remote?: JobRemote;
}

/** The process that runs this node's jobs, seen from an HTTP worker process (see src/http-workers). */
export interface JobRemote {
  enqueue(kind: string, id: string): void;
  abort(kind: string, id: string): void;
}

/** Why a running job's signal aborted: another node holds its lease now. */
export class LeaseLost extends Error {
  constructor() {
    super("lease lost");
  }
}

/**
 * Runs claimed jobs of one kind on this node. Work is claimed only when a slot is free (a claimed job
 * starts at once, so no node hoards work it cannot run): on `enqueue` (the local fast path right after a
 * submit), when a job ends, and every `pollMs`. p-queue bounds the node's concurrency; every `lease/3`
 * the leases of running jobs are renewed, and a job whose lease was lost is aborted.
 */
export function createWorker(o: WorkerOptions) {
  const queue = new PQueue({ concurrency: o.concurrency });
  const running = new Map<string, AbortController>();
  let claiming = 0;
  let paused = true;
  let pumping: Promise<void> | undefined;
  let again = false;
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let renewTimer: ReturnType<typeof setInterval> | undefined;

  const room = () => !paused && running.size + claiming < o.concurrency;

  function start(id: string): void {
    const ac = new AbortController();
    running.set(id, ac);
    queue
      .add(() => o.run(id, ac.signal))
      .catch((err) => o.log.error(`${o.kind.name} job crashed`, { id, err }))
      .finally(() => {
        running.delete(id);
        pump();
      });
  }

  async function claimInto(id?: string): Promise<boolean> {
    claiming++;
    try {
      const got = await o.leases.claim(o.kind, id);
      if (!got) return false;
      if (paused) {
        await o.leases.release(o.kind, got);
        return false;
      }
      start(got);
      return true;
    } finally {
      claiming--;
    }
  }

  /** Claims until the slots are full or nothing is claimable; one pump at a time, re-run if asked. */
  function pump(): void {
    if (pumping) {
      again = true;
      return;
    }
    pumping = (async () => {
      do {
        again = false;
        while (room() && (await claimInto())) {}
      } while (again && room());
    })()
      .catch((err) => o.log.error(`${o.kind.name}: claiming failed`, { err }))
      .finally(() => {
        pumping = undefined;
      });
  }

  async function renew(): Promise<void> {
    const ids = [...running.keys()];
    if (ids.length === 0) return;
    const held = await o.leases.renew(o.kind, ids);
    for (const id of ids) {
      if (held.has(id) || !running.has(id)) continue;
      o.log.warn(`${o.kind.name}: lease lost, abandoning the job`, { id });
      running.get(id)?.abort(new LeaseLost());
    }
    await o.afterRenew?.([...held]);
  }

  return {
    /** The local fast path: try to claim this row now if a slot is free; the poll finds it otherwise. */
    enqueue(id: string): void {
      if (o.remote) o.remote.enqueue(o.kind.name, id);
      else if (!running.has(id) && room())
        claimInto(id).catch((err) => o.log.error(`${o.kind.name}: claiming failed`, { id, err }));
    },
    /** Aborts a job running here (cancel); false when it does not run on this node. */
    abort(id: string, reason: Error): boolean {
      if (o.remote) {
        // Not running in this process: the primary aborts it if it runs there. Callers fall back to
        // what they do for a job on another node (the row's state decides).
        o.remote.abort(o.kind.name, id);
        return false;
      }
      const ac = running.get(id);
      if (!ac) return false;
      ac.abort(reason);
      return true;
    },
    /** Stops claiming and aborts every job running here (shutdown); returns how many there were. */
    abortAll(reason: Error): number {
      paused = true;
      for (const ac of running.values()) ac.abort(reason);
      return running.size;
    },
    isRunning: (id: string) => running.has(id),
    /** Starts claiming, polling and renewing. */
    start(): void {
      paused = false;
      const tick = () => {
        o.onPoll?.().catch((err) => o.log.warn(`${o.kind.name}: poll hook failed`, { err }));
        pump();
      };
      pollTimer ??= setInterval(tick, o.pollMs);
      const every = Math.max(50, Math.floor(o.leases.leaseMs / 3));
      renewTimer ??= setInterval(
        () => void renew().catch((err) => o.log.error(`${o.kind.name}: renewing failed`, { err })),
        every,
      );
      pump();
    },
    get depth() {
      return { queued: queue.size, running: queue.pending };
    },
    /** Stops claiming; waits for running jobs (leases are renewed meanwhile), then stops the timers. */
    async drain(): Promise<void> {
      paused = true;
      if (pollTimer) clearInterval(pollTimer);
      pollTimer = undefined;
      await pumping;
      await queue.onIdle();
      if (renewTimer) clearInterval(renewTimer);
      renewTimer = undefined;
    },
    onIdle: () => queue.onIdle(),
  };
}

export type Worker = ReturnType<typeof createWorker>;
