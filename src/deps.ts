import { join } from "node:path";
import pkg from "../package.json";
import { createRateLimiter, createRemoteRateLimiter, createSharedRateLimiter } from "./auth/rate-limit";
import { createAuthService } from "./auth/service";
import { type Config, ConfigError } from "./config";
import { openDatabase } from "./db/client";
import { createMetrics } from "./http/metrics";
import type { PrimaryLink } from "./http-workers/worker";
import { createCommandQueue } from "./jobs/command-queue";
import { localMediaRef } from "./jobs/inputs";
import { createLeases } from "./jobs/leases";
import { createProbeQueue } from "./jobs/probe-queue";
import { createRetention } from "./jobs/retention";
import { createWebhookDeliveries } from "./jobs/webhook-deliveries";
import { createSpareCpu } from "./lib/cpu-pressure";
import { createLogger } from "./log";
import { detectSandbox, type MediaTools, SANDBOX_UNAVAILABLE_WARNING, type Sandbox } from "./media/sandbox";
import { resolveTools } from "./media/tools";
import { detectYtdlp } from "./media/ytdlp";
import { createCommandsService } from "./modules/commands/service";
import { createFilesService } from "./modules/files/service";
import { createStoreFile } from "./modules/files/store-file";
import { createMediaService } from "./modules/media/service";
import { createPresetsService } from "./modules/presets/service";
import { createWebhookConfigService } from "./modules/webhooks/service";
import type { SafeFetchOptions } from "./net/safe-fetch";
import type { StorageDriver } from "./storage/driver";
import { createLocalStorage } from "./storage/local";
import { createUrlSigner, loadSigningSecret, type UrlSigner } from "./storage/signing";

/**
 * The only place concrete drivers are chosen. Everything else receives what it needs from here,
 * so tests and the CLI build the same graph from a config.
 */
export async function createDeps(
  config: Config,
  opts: {
    sandbox?: Sandbox;
    /** Set in an HTTP worker process: jobs and rate-limit buckets live in the primary process. */
    primary?: { link: PrimaryLink; index: number };
  } = {},
) {
  const remote = opts.primary?.link;
  const log = opts.primary
    ? createLogger(config.LOG_LEVEL).child({ worker: opts.primary.index })
    : createLogger(config.LOG_LEVEL);
  const metrics = createMetrics();
  // Started first: `yt-dlp --version` (~0.3 s of Python start-up) overlaps the sandbox probe.
  const ytdlpDetection = detectYtdlp(config.YTDLP_PATH);
  const db = await openDatabase(config);
  // This process's identity in the job leases; a restarted node is a new one.
  const nodeId = crypto.randomUUID();
  const leases = createLeases(db, nodeId, config.LEASE_SECONDS * 1000);
  const signer = createUrlSigner(loadSigningSecret(config.SIGNING_SECRET, config.DATA_DIR));
  const storage = await createStorage(config, signer);
  const sandbox = opts.sandbox ?? (await chooseSandbox(config, log));
  const spareCpu = config.PROBE_IDLE_PRIORITY
    ? createSpareCpu({ limit: config.PROBE_CPU_PRESSURE_LIMIT / 100 })
    : undefined;
  if (spareCpu && !spareCpu.source && config.PROBE_CPU_PRESSURE_LIMIT < 100 && !remote)
    log.info(
      "PROBE_CPU_PRESSURE_LIMIT: no CPU pressure information (PSI) here; probes rely on SCHED_IDLE alone",
    );
  const probes = createProbeQueue({
    db,
    storage,
    sandbox,
    log: log.child({ component: "probe" }),
    concurrency: config.PROBE_CONCURRENCY,
    timeoutMs: config.PROBE_TIMEOUT_SECONDS * 1000,
    maxAttempts: config.PROBE_MAX_ATTEMPTS,
    nice: config.MEDIA_NICE,
    idle: config.PROBE_IDLE_PRIORITY,
    spareCpu,
    metrics,
    leases,
    pollMs: config.WORK_POLL_MS,
    remote,
  });
  const auth = createAuthService(db);
  const fetchOptions: SafeFetchOptions = {
    allowPrivateNetworks: config.FETCH_ALLOW_PRIVATE_NETWORKS,
    allowedHosts: [...config.FETCH_ALLOWED_HOSTS],
    allowedPorts: config.FETCH_ALLOWED_PORTS.map(Number),
    maxBytes: config.MAX_UPLOAD_BYTES,
    connectTimeoutMs: config.FETCH_CONNECT_TIMEOUT_SECONDS * 1000,
    idleTimeoutMs: config.FETCH_IDLE_TIMEOUT_SECONDS * 1000,
    totalTimeoutMs: config.FETCH_TOTAL_TIMEOUT_SECONDS * 1000,
  };
  const storeFile = createStoreFile({
    db,
    storage,
    log: log.child({ component: "store-file" }),
    probes,
    fetchOptions,
    concurrency: config.FETCH_CONCURRENCY,
    maxAttempts: config.PROBE_MAX_ATTEMPTS,
    leases,
    pollMs: config.WORK_POLL_MS,
    remote,
  });
  const ytdlp = await ytdlpDetection;
  if (ytdlp.ok) log.info("yt-dlp found", { version: ytdlp.ytdlp.version, path: ytdlp.ytdlp.executable });
  else log.info("yt-dlp unavailable: the yt-dlp endpoints answer 501", { reason: ytdlp.reason });
  // Late-bound: deliveries need the commands service to present a command, the queue needs deliveries.
  const hooks = { commandFinished: (_id: string) => {} };
  const commandQueue = createCommandQueue({
    onFinished: (id) => hooks.commandFinished(id),
    db,
    storage,
    sandbox,
    log: log.child({ component: "commands" }),
    inputs: {
      db,
      storage,
      signer,
      s3PublicBaseUrl: config.S3_PUBLIC_BASE_URL,
      storageOrigins: [config.S3_ENDPOINT, config.S3_PUBLIC_BASE_URL]
        .filter((u): u is string => config.STORAGE_DRIVER === "s3" && u !== undefined)
        .map((u) => new URL(u).origin),
      fetchOptions,
    },
    // One directory per node: a start-up sweep removes only what no live node uses.
    jobsDir: join(config.DATA_DIR, "jobs", nodeId),
    probeTimeoutMs: config.PROBE_TIMEOUT_SECONDS * 1000,
    maxOutputBytes: config.COMMAND_MAX_OUTPUT_BYTES,
    nice: config.MEDIA_NICE,
    ytdlp: ytdlp.ok
      ? {
          ytdlp: ytdlp.ytdlp,
          sandbox,
          log: log.child({ component: "ytdlp" }),
          policy: fetchOptions,
          maxBytes: config.MAX_UPLOAD_BYTES,
          socketTimeoutSeconds: config.FETCH_IDLE_TIMEOUT_SECONDS,
          connectTimeoutMs: config.FETCH_CONNECT_TIMEOUT_SECONDS * 1000,
          nice: config.MEDIA_NICE,
        }
      : null,
    concurrency: config.COMMAND_CONCURRENCY,
    metrics,
    maxAttempts: config.COMMAND_MAX_ATTEMPTS,
    leases,
    pollMs: config.WORK_POLL_MS,
    remote,
  });
  const commandsService = createCommandsService({
    db,
    storage,
    log: log.child({ component: "commands" }),
    queue: commandQueue,
    policy: fetchOptions,
    isOwnUrl: (raw) => {
      const url = URL.parse(raw);
      if (!url) return false;
      if (storage.kind === "local") return localMediaRef(url, signer) !== null;
      return [config.S3_PUBLIC_BASE_URL, config.S3_ENDPOINT].some(
        (base) => base !== undefined && raw.startsWith(`${base}/`),
      );
    },
    defaultRunSeconds: config.COMMAND_DEFAULT_RUN_SECONDS,
    maxRunSeconds: config.COMMAND_MAX_RUN_SECONDS,
    maxQueuedPerAccount: config.COMMAND_MAX_QUEUED_PER_ACCOUNT,
    ytdlpAvailable: ytdlp.ok,
  });
  const webhooks = createWebhookDeliveries({
    db,
    log: log.child({ component: "webhooks" }),
    fetchOptions,
    retrySchedule: config.WEBHOOK_RETRY_SCHEDULE_SECONDS.map(Number),
    timeoutMs: config.WEBHOOK_TIMEOUT_SECONDS * 1000,
    disableAfterFailures: config.WEBHOOK_DISABLE_AFTER_FAILURES,
    pollMs: config.WEBHOOK_POLL_MS,
    remote,
    leases,
    metrics,
    present: (accountId, commandId) => commandsService.get(accountId, commandId),
  });
  hooks.commandFinished = (id) => webhooks.onCommandFinished(id);
  metrics.gauge("renderio_queue_depth", "Background jobs waiting or running, by kind and state", () => [
    [{ kind: "probe", state: "queued_or_running" }, probes.size],
    [{ kind: "command", state: "queued" }, commandQueue.depth.queued],
    [{ kind: "command", state: "running" }, commandQueue.depth.running],
  ]);
  const files = createFilesService({
    db,
    storage,
    log,
    probes,
    maxUploadBytes: config.MAX_UPLOAD_BYTES,
    metrics,
  });
  const retention = createRetention({
    db,
    log: log.child({ component: "retention" }),
    deleteFile: (accountId, fileId) => files.delete(accountId, fileId),
    days: config.RETENTION_DAYS,
  });
  return {
    config,
    nodeId,
    metrics,
    signer,
    webhooks,
    webhookConfig: createWebhookConfigService(db, fetchOptions),
    commandQueue,
    commands: commandsService,
    presets: createPresetsService({ db, commands: commandsService }),
    version: pkg.version,
    log,
    db,
    storage,
    sandbox,
    probes,
    auth,
    rateLimiter:
      db.engine === "pg"
        ? createSharedRateLimiter(db, config.RATE_LIMIT_PER_MINUTE, config.RATE_LIMIT_BURST)
        : remote && config.RATE_LIMIT_PER_MINUTE > 0
          ? createRemoteRateLimiter(
              (key) => remote.request<number>("take", key),
              createRateLimiter(config.RATE_LIMIT_PER_MINUTE, config.RATE_LIMIT_BURST),
              log,
            )
          : createRateLimiter(config.RATE_LIMIT_PER_MINUTE, config.RATE_LIMIT_BURST),
    fetchOptions,
    storeFile,
    files,
    retention,
    media: createMediaService(db, storage, signer),
    lifecycle: { shuttingDown: false },
  };
}

export type Deps = Awaited<ReturnType<typeof createDeps>>;

async function createStorage(config: Config, signer: UrlSigner): Promise<StorageDriver> {
  if (config.STORAGE_DRIVER === "s3") {
    // Loaded only when used: the AWS SDK costs ~9 MB of memory a local-disk server does not need.
    const { createS3Storage } = await import("./storage/s3");
    return createS3Storage({
      ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
      region: config.S3_REGION,
      bucket: config.S3_BUCKET as string,
      accessKeyId: config.S3_ACCESS_KEY_ID as string,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY as string,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      ...(config.S3_PUBLIC_BASE_URL ? { publicBaseUrl: config.S3_PUBLIC_BASE_URL } : {}),
      prefix: config.S3_PREFIX,
      urlTtlSeconds: config.STORAGE_URL_TTL_SECONDS,
      partSize: config.S3_PART_SIZE_MB * 1024 * 1024,
      queueSize: config.S3_QUEUE_SIZE,
    });
  }
  return createLocalStorage({
    root: join(config.DATA_DIR, "files"),
    publicBaseUrl: config.PUBLIC_BASE_URL,
    signer,
  });
}

async function chooseSandbox(config: Config, log: ReturnType<typeof createLogger>): Promise<Sandbox> {
  let tools: MediaTools;
  try {
    tools = resolveTools(config);
  } catch (e) {
    throw new ConfigError([(e as Error).message]);
  }
  const sandbox = await detectSandbox({ disabled: config.SANDBOX === "off", tools });
  if (!sandbox.available) {
    if (config.SANDBOX === "bwrap")
      throw new ConfigError([`SANDBOX=bwrap but bubblewrap is unusable: ${sandbox.reason}`]);
    if (config.SANDBOX === "auto") {
      log.warn(SANDBOX_UNAVAILABLE_WARNING, { reason: sandbox.reason });
    }
  }
  return sandbox;
}
