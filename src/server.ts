import type { Server } from "bun";
import { createApp } from "./app";
import { type Config, ConfigError } from "./config";
import { runMigrations } from "./db/migrate";
import { createDeps, type Deps } from "./deps";
import { BOARD_ENV, createBoardFile, type LoadBoard, openLoadBoard } from "./http-workers/balance";
import { startHttpWorkers } from "./http-workers/primary";
import { connectToPrimary, WORKER_ENV } from "./http-workers/worker";
import { chrtPath } from "./media/runner";
import type { LocalStorage } from "./storage/local";
import type { S3Storage } from "./storage/s3";

export interface RunningServer {
  deps: Deps;
  url: string;
  /** Graceful stop: refuse new requests, let in-flight ones and running probes finish, close the DB. */
  stop(): Promise<void>;
}

/**
 * Starts renderio: migrate → sweep temp files → ensure a first API key → start the job workers (which
 * also take up work left unfinished by a previous run) → listen. Prints the first key once when the
 * database has none.
 */
export async function startServer(config: Config): Promise<RunningServer> {
  const worker = process.env[WORKER_ENV];
  if (worker !== undefined) return startHttpWorker(config, Number(worker));
  const deps = await createDeps(config);
  const { log } = deps;
  let firstKey: string | undefined;
  await runMigrations(deps.db, config.DATABASE_URL, async () => {
    if ((await deps.auth.countActiveKeys()) === 0)
      firstKey = (await deps.auth.createKey({ name: "first key" })).key;
  });
  await sweepStorage(deps);
  if (config.PROBE_IDLE_PRIORITY && !chrtPath())
    log.warn("PROBE_IDLE_PRIORITY: util-linux chrt not found; probes run at MEDIA_NICE only");

  // The workers start claiming (a few quick queries) before the port opens, so that once /health answers
  // the start-up lines below, and the first key, are out.
  const recovered =
    (await deps.probes.recover()) + (await deps.storeFile.recover()) + (await deps.commandQueue.recover());
  await deps.webhooks.start();
  deps.retention.start();
  const shared = config.HTTP_WORKERS > 1;
  // With SO_REUSEPORT a second server on the port would silently share it: check it is free first.
  if (shared) assertPortFree(config.HOST, config.PORT);
  const board = shared && config.HTTP_REBALANCE ? createBoardFile(config.HTTP_WORKERS) : undefined;
  const balance = board ? openLoadBoard(board.path, config.HTTP_WORKERS, 0) : undefined;
  const app = createApp(deps, { balance }).listen({
    hostname: config.HOST,
    port: config.PORT,
    reusePort: shared,
  });
  const server = app.server;
  if (!server) throw new Error("server did not start");
  if (balance) keepPublishing(balance, server);
  // Job kinds (LeaseKind names) a worker may hand over, and the queue that runs each.
  const queues: Record<string, (id: string) => void> = {
    probe: deps.probes.enqueue,
    download: (id) => deps.storeFile.enqueue(id),
    command: deps.commandQueue.enqueue,
  };
  const workers = shared
    ? startHttpWorkers({
        count: config.HTTP_WORKERS - 1,
        port: server.port as number,
        publicBaseUrl: config.PUBLIC_BASE_URL,
        env: board ? { [BOARD_ENV]: board.path } : {},
        log: log.child({ component: "http-workers" }),
        answer: (op, arg) => {
          if (op === "take" && arg !== undefined) return deps.rateLimiter.take(arg);
          if (op === "metrics") return deps.metrics.text();
          throw new Error(`unknown request "${op}"`);
        },
        onEnqueue: (kind, id) => {
          const enqueue = queues[kind];
          if (enqueue) enqueue(id);
          else log.warn("http worker handed over an unknown job kind", { kind, id });
        },
        onAbort: (kind, id) => {
          if (kind === "command") deps.commandQueue.abort(id);
        },
      })
    : undefined;
  if (workers) deps.metrics.setSource(async () => deps.metrics.render(await workers.snapshots()));
  const url = `http://${config.HOST === "0.0.0.0" ? "localhost" : config.HOST}:${server.port}`;
  // Start-up garbage (migration SQL, the generated OpenAPI document, module init) is large and never
  // reused; collecting it once here lowers the server's resting memory for the rest of its life.
  Bun.gc(true);
  log.info("renderio listening", {
    url,
    docs: `${config.PUBLIC_BASE_URL}/docs`,
    dataDir: config.DATA_DIR,
    storage: deps.storage.kind,
    database: deps.db.engine,
    node: deps.nodeId,
    sandbox: deps.sandbox.available ? "bwrap" : "none",
    httpWorkers: config.HTTP_WORKERS,
    recoveredJobs: recovered,
    retentionDays: config.RETENTION_DAYS || "off",
  });
  if (firstKey) {
    process.stdout.write(
      `\n  renderio is ready at ${config.PUBLIC_BASE_URL}  (docs: ${config.PUBLIC_BASE_URL}/docs)\n` +
        `  Your first API key (shown once, store it now):\n\n    ${firstKey}\n\n` +
        `  Try: curl -H "X-API-KEY: ${firstKey}" -F file=@video.mp4 ${config.PUBLIC_BASE_URL}/api/v1/files/upload\n\n`,
    );
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      deps.lifecycle.shuttingDown = true;
      log.info("shutting down", { graceSeconds: config.SHUTDOWN_GRACE_SECONDS });
      const grace = new Promise<void>((r) => setTimeout(r, config.SHUTDOWN_GRACE_SECONDS * 1000).unref());
      // stop(false): stop accepting connections, let in-flight requests (uploads) complete.
      const drained = await Promise.race([
        Promise.all([
          workers?.stop(config.SHUTDOWN_GRACE_SECONDS * 1000),
          server.stop(false),
          deps.probes.drain(),
          deps.storeFile.drain(),
          deps.commandQueue.drain(),
          deps.webhooks.stop(),
          deps.retention.stop(),
        ]).then(() => true),
        grace.then(() => false),
      ]);
      if (!drained) {
        // Commands still running get their ffmpeg killed and go back to QUEUED for the next start;
        // probes and downloads still running stay PROCESSING and are recovered the same way.
        const requeued = await Promise.race([
          deps.commandQueue.requeueRunning(),
          new Promise<number>((r) => setTimeout(() => r(-1), 10_000).unref()),
        ]);
        log.warn("grace period over", { requeuedCommands: requeued });
      }
      await server.stop(true);
      await deps.db.close();
      board?.remove();
      log.info("stopped");
    })());
  return { deps, url, stop };
}

/**
 * An HTTP worker process (started by the primary, see src/http-workers): serves the API on the shared
 * port and hands every job to the primary. No migrations, sweeps, recovery or timers: the primary ran
 * them before starting it. Stops when told to (SIGTERM from the primary) or when the primary is gone.
 */
async function startHttpWorker(config: Config, index: number): Promise<RunningServer> {
  let deps: Deps | undefined;
  let running: RunningServer | undefined;
  const link = connectToPrimary(
    (op) => {
      if (op === "snapshot" && deps) return deps.metrics.snapshot();
      throw new Error(`unknown request "${op}"`);
    },
    () => {
      deps?.log.warn("primary process gone; stopping");
      void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
    },
  );
  deps = await createDeps(config, { primary: { link, index } });
  const d = deps;
  d.metrics.setSource(() => link.request<string>("metrics"));
  const boardPath = process.env[BOARD_ENV];
  const balance = boardPath ? openLoadBoard(boardPath, config.HTTP_WORKERS, index) : undefined;
  const server = createApp(d, { balance }).listen({
    hostname: config.HOST,
    port: config.PORT,
    reusePort: true,
  }).server;
  if (!server) throw new Error("server did not start");
  if (balance) keepPublishing(balance, server);
  Bun.gc(true);
  d.log.info("http worker listening", { pid: process.pid, port: server.port });
  link.ready();
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      d.lifecycle.shuttingDown = true;
      const grace = new Promise<void>((r) => setTimeout(r, config.SHUTDOWN_GRACE_SECONDS * 1000).unref());
      await Promise.race([server.stop(false), grace]);
      await server.stop(true);
      await d.db.close();
    })());
  running = { deps: d, url: `http://${config.HOST}:${server.port}`, stop };
  return running;
}

/**
 * A process's slot is also written on every request, but an idle process gets none: refreshing it every
 * 50 ms keeps a count that dropped from going stale.
 */
function keepPublishing(balance: LoadBoard, server: Server<unknown>): void {
  setInterval(() => balance.publish(server.pendingRequests), 50).unref();
}

/** Fails like a plain listen would (EADDRINUSE) when anything already holds the port. */
function assertPortFree(hostname: string, port: number): void {
  if (port === 0) return;
  try {
    Bun.serve({ hostname, port, fetch: () => new Response(null, { status: 503 }) }).stop(true);
  } catch (e) {
    throw new ConfigError([`PORT ${port} on ${hostname} is not available: ${(e as Error).message}`]);
  }
}

/** Start-up housekeeping: stale temp files (local) and multipart uploads older than a day (S3). */
async function sweepStorage(deps: Deps): Promise<void> {
  const s = deps.storage as Partial<LocalStorage & S3Storage>;
  if (s.sweepTemp) await s.sweepTemp();
  if (s.abortStaleUploads) {
    try {
      const n = await s.abortStaleUploads(24 * 3600 * 1000);
      if (n) deps.log.info("aborted stale multipart uploads", { count: n });
    } catch (err) {
      // Some S3-compatible servers (e.g. s3rver) lack ListMultipartUploads; this is housekeeping only.
      deps.log.warn("could not list stale multipart uploads", { err: String(err) });
    }
  }
}
