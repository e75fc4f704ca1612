import { join } from "node:path";
import pkg from "../package.json";
import { createRateLimiter } from "./auth/rate-limit";
import { createAuthService } from "./auth/service";
import type { Config } from "./config";
import { openDatabase } from "./db/client";
import { createProbeQueue } from "./jobs/probe-queue";
import { createLogger } from "./log";
import { detectSandbox, SANDBOX_UNAVAILABLE_WARNING, type Sandbox } from "./media/sandbox";
import { createFilesService } from "./modules/files/service";
import { createMediaService } from "./modules/media/service";
import { createLocalStorage } from "./storage/local";
import { createUrlSigner, loadSigningSecret } from "./storage/signing";

/**
 * The only place concrete drivers are chosen. Everything else receives what it needs from here,
 * so tests and the CLI build the same graph from a config.
 */
export async function createDeps(config: Config, opts: { sandbox?: Sandbox } = {}) {
  const log = createLogger(config.LOG_LEVEL);
  const { db, sqlite } = openDatabase(config.DATABASE_PATH);
  const signer = createUrlSigner(loadSigningSecret(config.SIGNING_SECRET, config.DATA_DIR));
  const storage = createLocalStorage({
    root: join(config.DATA_DIR, "files"),
    publicBaseUrl: config.PUBLIC_BASE_URL,
    signer,
  });
  const sandbox = opts.sandbox ?? (await chooseSandbox(config, log));
  const probes = createProbeQueue({
    db,
    storage,
    sandbox,
    log: log.child({ component: "probe" }),
    concurrency: config.PROBE_CONCURRENCY,
    timeoutMs: config.PROBE_TIMEOUT_SECONDS * 1000,
    maxAttempts: config.PROBE_MAX_ATTEMPTS,
  });
  const auth = createAuthService(db);
  return {
    config,
    version: pkg.version,
    log,
    db,
    sqlite,
    storage,
    sandbox,
    probes,
    auth,
    rateLimiter: createRateLimiter(config.RATE_LIMIT_PER_MINUTE, config.RATE_LIMIT_BURST),
    files: createFilesService({ db, storage, log, probes, maxUploadBytes: config.MAX_UPLOAD_BYTES }),
    media: createMediaService(db, storage, signer),
    lifecycle: { shuttingDown: false },
  };
}

export type Deps = Awaited<ReturnType<typeof createDeps>>;

async function chooseSandbox(config: Config, log: ReturnType<typeof createLogger>): Promise<Sandbox> {
  const sandbox = await detectSandbox(config.SANDBOX === "off" ? { disabled: true } : {});
  if (!sandbox.available) {
    if (config.SANDBOX === "bwrap")
      throw new Error(`SANDBOX=bwrap but bubblewrap is unusable: ${sandbox.reason}`);
    if (config.SANDBOX === "auto") {
      log.warn(SANDBOX_UNAVAILABLE_WARNING, { reason: sandbox.reason });
    }
  }
  return sandbox;
}
