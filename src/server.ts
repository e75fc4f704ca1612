import { createApp } from "./app";
import type { Config } from "./config";
import { runMigrations } from "./db/migrate";
import { createDeps, type Deps } from "./deps";
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
  const deps = await createDeps(config);
  const { log } = deps;
  let firstKey: string | undefined;
  await runMigrations(deps.db, config.DATABASE_URL, async () => {
    if ((await deps.auth.countActiveKeys()) === 0)
      firstKey = (await deps.auth.createKey({ name: "first key" })).key;
  });
  await sweepStorage(deps);

  // The workers start claiming (a few quick queries) before the port opens, so that once /health answers
  // the start-up lines below, and the first key, are out.
  const recovered =
    (await deps.probes.recover()) + (await deps.storeFile.recover()) + (await deps.commandQueue.recover());
  await deps.webhooks.start();
  deps.retention.start();
  const app = createApp(deps).listen({ hostname: config.HOST, port: config.PORT });
  const server = app.server;
  if (!server) throw new Error("server did not start");
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
      log.info("stopped");
    })());
  return { deps, url, stop };
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
