import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Elysia } from "elysia";

/** Set by the primary in the environment of its HTTP workers: the path of the shared load board. */
export const BOARD_ENV = "RENDERIO_LOAD_BOARD";

/**
 * Keeps keep-alive connections spread over a node's HTTP processes.
 *
 * The kernel hands each new connection to one of the processes sharing the port (SO_REUSEPORT) by a
 * hash of its addresses, and a keep-alive client then stays where it landed. With few long-lived
 * connections the split is often lopsided: 16 upload clients went 11/5 or 13/3 in measured bursts, and
 * then one process (one JavaScript thread) is the bottleneck while the other core idles. 1 MiB upload
 * bursts ran at 184–227 uploads/s when the split was lopsided and at 335–345 when it was even.
 *
 * So every process publishes its number of requests in flight on a board that all of a node's processes
 * map (a small file, MAP_SHARED), and a process with clearly more than its share — more than one above
 * the average — answers with `Connection: close`. The client's next connection is placed afresh by the
 * kernel, so connections drift from busy processes to idle ones until the split is even.
 */
export interface LoadBoard {
  /** This process's requests in flight (Bun's `server.pendingRequests`, which counts the current one). */
  publish(inFlight: number): void;
  /** True when this process carries more than one request above the average of all the processes. */
  overloaded(): boolean;
}

const SLOT_BYTES = 4;

const BOARD_PREFIX = "renderio-board-";

/**
 * The primary creates the board (one slot per process, zeroed) where workers can map it. Boards left
 * behind by primaries that were killed outright (their PID is in the name) are removed first.
 */
export function createBoardFile(processes: number): { path: string; remove(): void } {
  // tmpfs where there is one: the board never touches a disk.
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  for (const name of readdirSync(base)) {
    const pid = Number(/^renderio-board-(\d+)-/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !existsSync(`/proc/${pid}`))
      rmSync(join(base, name), { recursive: true, force: true });
  }
  const dir = mkdtempSync(join(base, `${BOARD_PREFIX}${process.pid}-`));
  const path = join(dir, "load");
  writeFileSync(path, new Uint8Array(Math.max(processes, 1) * SLOT_BYTES), { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Maps the board; `index` is this process's slot (0 for the primary, the worker number for a worker). */
export function openLoadBoard(path: string, processes: number, index: number): LoadBoard {
  const bytes = Bun.mmap(path, { shared: true });
  if (bytes.byteLength < processes * SLOT_BYTES || index < 0 || index >= processes)
    throw new Error(`load board ${path} has no slot ${index} of ${processes}`);
  const slots = new Int32Array(bytes.buffer, bytes.byteOffset, processes);
  return {
    publish(inFlight: number): void {
      Atomics.store(slots, index, inFlight);
    },
    overloaded(): boolean {
      let total = 0;
      for (let i = 0; i < processes; i++) total += Math.max(0, Atomics.load(slots, i));
      return Atomics.load(slots, index) * processes > total + processes;
    },
  };
}

/**
 * The hooks: a process's count goes up on the board as a request arrives; as a request is answered, an
 * overloaded process adds `Connection: close`. Nothing at all without a board (one process, or off).
 */
export function rebalancing(balance: LoadBoard | undefined) {
  const plugin = new Elysia({ name: "rebalancing" });
  if (!balance) return plugin;
  return plugin
    .onRequest(({ server }) => {
      if (server) balance.publish(server.pendingRequests);
    })
    .onAfterHandle({ as: "global" }, ({ server, set }) => {
      if (!server) return;
      balance.publish(server.pendingRequests);
      if (balance.overloaded()) set.headers.connection = "close";
    });
}
