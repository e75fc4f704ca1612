import { createApp } from "./app";
import type { Config } from "./config";
import { runMigrations } from "./db/client";
import { createDeps, type Deps } from "./deps";

export interface RunningServer {
  deps: Deps;
  url: string;
  /** Graceful stop: refuse new requests, let in-flight ones and running probes finish, close the DB. */
  stop(): Promise<void>;
}

/**
 * Starts renderio: migrate → sweep temp files → ensure a first API key → listen → re-queue work
 * left unfinished by a previous run. Prints the first key once when the database has none.
 */
export async function startServer(config: Config): Promise<RunningServer> {
  const deps = await createDeps(config);
  const { log } = deps;
  runMigrations(deps.db);
  if (deps.storage.kind === "local")
    await (deps.storage as { sweepTemp?: () => Promise<void> }).sweepTemp?.();

  let firstKey: string | undefined;
  if (deps.auth.countActiveKeys() === 0) firstKey = deps.auth.createKey({ name: "first key" }).key;

  const app = createApp(deps).listen({ hostname: config.HOST, port: config.PORT });
  const server = app.server;
  if (!server) throw new Error("server did not start");
  const url = `http://${config.HOST === "0.0.0.0" ? "localhost" : config.HOST}:${server.port}`;
  const recovered = deps.probes.recover();
  log.info("renderio listening", {
    url,
    docs: `${config.PUBLIC_BASE_URL}/docs`,
    dataDir: config.DATA_DIR,
    storage: deps.storage.kind,
    sandbox: deps.sandbox.available ? "bwrap" : "none",
    recoveredProbes: recovered,
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
      await Promise.race([Promise.all([server.stop(false), deps.probes.drain()]), grace]);
      await server.stop(true);
      deps.sqlite.close();
      log.info("stopped");
    })());
  return { deps, url, stop };
}
