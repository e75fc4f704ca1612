import type { JobRemote } from "../jobs/worker";
import { type Answer, createRpc, isMessage, type Message } from "./rpc";

/** Set by the primary in the environment of the HTTP worker processes it starts: the worker's number. */
export const WORKER_ENV = "RENDERIO_HTTP_WORKER";

/** An HTTP worker process's line to its primary: job hand-off and the requests it may make. */
export interface PrimaryLink extends JobRemote {
  request<T>(op: "take" | "metrics", arg?: string): Promise<T>;
  ready(): void;
}

/**
 * In an HTTP worker process: talks to the primary over the IPC channel it was started with. When the
 * primary is gone (the channel closes, or the process was re-parented because the primary was killed),
 * `onGone` runs once, so a worker never outlives its primary and keeps a port open on its own.
 */
export function connectToPrimary(answer: Answer, onGone: () => void): PrimaryLink {
  const send = process.send?.bind(process);
  if (!send) throw new Error(`${WORKER_ENV} is internal: set by renderio for the processes it starts`);
  const post = (m: Message) => {
    send(m);
  };
  const rpc = createRpc(post, answer);
  let gone = false;
  const lost = () => {
    if (gone) return;
    gone = true;
    rpc.close("the primary process is gone");
    onGone();
  };
  process.on("message", (m: unknown) => {
    if (isMessage(m)) rpc.handle(m);
  });
  process.on("disconnect", lost);
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) lost();
  }, 500).unref();
  const quiet = (m: Message) => {
    try {
      post(m);
    } catch {
      // primary gone: `lost` shuts this process down
    }
  };
  return {
    enqueue: (kind, id) => quiet({ t: "enqueue", kind, id }),
    abort: (kind, id) => quiet({ t: "abort", kind, id }),
    request: (op, arg) => rpc.request(op, arg),
    ready: () => quiet({ t: "ready" }),
  };
}
