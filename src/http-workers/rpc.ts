/**
 * What the primary process and its HTTP worker processes say to each other over Bun's IPC channel
 * (one socket pair per worker, JSON messages), and a small request/response layer on top.
 *
 * worker → primary: `ready`; `enqueue`/`abort` a job (workers run none, see jobs/worker.ts);
 * requests `take` (a rate-limit token) and `metrics` (the whole scrape).
 * primary → worker: request `snapshot` (the worker's counters, summed into a scrape).
 */
export type Message =
  | { t: "ready" }
  | { t: "enqueue"; kind: string; id: string }
  | { t: "abort"; kind: string; id: string }
  | { t: "req"; rid: number; op: string; arg?: string }
  | { t: "res"; rid: number; value?: unknown; error?: string };

export type Answer = (op: string, arg: string | undefined) => unknown;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export function isMessage(m: unknown): m is Message {
  return typeof m === "object" && m !== null && typeof (m as { t?: unknown }).t === "string";
}

/**
 * Requests with an id and a timeout over a one-way `send`; `handle` is fed every incoming message and
 * answers requests with `answer` (a thrown error travels back as the request's rejection).
 */
export function createRpc(send: (m: Message) => void, answer: Answer) {
  const pending = new Map<number, Pending>();
  let next = 0;
  const trySend = (m: Message) => {
    try {
      send(m);
    } catch {
      // the other side is gone; its requests die with it
    }
  };
  return {
    request<T>(op: string, arg?: string, timeoutMs = 5000): Promise<T> {
      const rid = ++next;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(rid);
          reject(new Error(`no answer to "${op}" within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(rid, { resolve: resolve as (v: unknown) => void, reject, timer });
        try {
          send({ t: "req", rid, op, ...(arg === undefined ? {} : { arg }) });
        } catch (e) {
          clearTimeout(timer);
          pending.delete(rid);
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    },

    /** Handles a request or a response; false for any other message. */
    handle(m: Message): boolean {
      if (m.t === "res") {
        const p = pending.get(m.rid);
        if (p) {
          pending.delete(m.rid);
          clearTimeout(p.timer);
          if (m.error !== undefined) p.reject(new Error(m.error));
          else p.resolve(m.value);
        }
        return true;
      }
      if (m.t === "req") {
        Promise.resolve()
          .then(() => answer(m.op, m.arg))
          .then(
            (value) => trySend({ t: "res", rid: m.rid, value }),
            (err: unknown) => trySend({ t: "res", rid: m.rid, error: String(err) }),
          );
        return true;
      }
      return false;
    },

    /** Fails every request still waiting (the channel closed). */
    close(reason: string): void {
      for (const [rid, p] of pending) {
        clearTimeout(p.timer);
        p.reject(new Error(reason));
        pending.delete(rid);
      }
    },
  };
}

export type Rpc = ReturnType<typeof createRpc>;
