import { availableParallelism } from "node:os";
import { resolve } from "node:path";

/**
 * Configuration from environment variables. One declarative table is the single source of truth:
 * it validates and coerces at start (every problem reported at once) and generates the README table
 * (`bun run scripts/config-table.ts`).
 */
type Kind = "int" | "string" | "url" | "bool" | "enum" | "list";

interface Setting {
  kind: Kind;
  doc: string;
  /** Default value as text, or a function of the already-parsed settings; undefined = optional. */
  def?: string | ((parsed: Record<string, unknown>) => string | undefined);
  min?: number;
  max?: number;
  values?: readonly string[];
}

const GiB = 1024 ** 3;

export const SETTINGS = {
  PORT: { kind: "int", def: "3000", min: 0, max: 65535, doc: "TCP port to listen on (0 picks a free port)." },
  HOST: { kind: "string", def: "0.0.0.0", doc: "Interface to bind." },
  HTTP_WORKERS: {
    kind: "int",
    def: () => String(Math.min(4, availableParallelism())),
    min: 1,
    max: 64,
    doc: "Processes answering HTTP on the one port (the kernel spreads connections over them; default: number of CPUs, at most 4). The first also runs migrations and all background jobs; the others only serve requests (each ~25 MB of private memory; its ~65 MB RSS is mostly the executable's pages, shared with the first). 1 = a single process.",
  },
  HTTP_REBALANCE: {
    kind: "bool",
    def: "true",
    doc: "With `HTTP_WORKERS` > 1: a process serving more than one request above the average of the node's processes answers with `Connection: close`, so that client's next connection is placed afresh. The kernel places connections by a hash and keep-alive clients stay put, so a few busy clients could load one process (one core) while another idled (1 MiB upload bursts: 184–227 uploads/s with a lopsided split, 335–345 with an even one). The processes share their counts through a small file under /dev/shm.",
  },
  DATA_DIR: {
    kind: "string",
    def: "./data",
    doc: "SQLite database, local storage and the generated signing secret.",
  },
  DATABASE_PATH: {
    kind: "string",
    def: (c) => `${c.DATA_DIR}/renderio.db`,
    doc: "SQLite database file (when `DATABASE_URL` is unset).",
  },
  DATABASE_URL: {
    kind: "string",
    doc: "PostgreSQL instead of the embedded SQLite: `postgres://user:password@host:5432/db`. Needed to run several nodes (see Scaling out).",
  },
  DATABASE_POOL_SIZE: {
    kind: "int",
    def: "10",
    min: 1,
    max: 200,
    doc: "PostgreSQL connections per process: a node opens up to this many for each of its `HTTP_WORKERS` processes.",
  },
  LEASE_SECONDS: {
    kind: "int",
    def: "30",
    min: 1,
    max: 3600,
    doc: "A job (command, download, probe, webhook delivery) is leased to the node running it for this long and renewed every third of it; a dead node's jobs are taken over this long after it stopped renewing.",
  },
  WORK_POLL_MS: {
    kind: "int",
    def: "1000",
    min: 20,
    max: 60000,
    doc: "How often a node looks for claimable work it was not told about (other nodes' submits, lapsed leases). Submits to this node start at once.",
  },
  LOCAL_STORAGE_SHARED: {
    kind: "bool",
    def: "false",
    doc: "With `DATABASE_URL` and `STORAGE_DRIVER=local`: the operator asserts that `DATA_DIR/files` is one shared mount on every node (and `SIGNING_SECRET` is set alike). Without it such a start is refused.",
  },
  PUBLIC_BASE_URL: {
    kind: "url",
    def: (c) => `http://localhost:${c.PORT}`,
    doc: "External base URL used to build `storage_url` download links.",
  },
  STORAGE_DRIVER: {
    kind: "enum",
    def: "local",
    values: ["local", "s3"],
    doc: "Where file bytes live: `local` (under `DATA_DIR/files`) or `s3` (Cloudflare R2 or any S3-compatible store).",
  },
  S3_ENDPOINT: {
    kind: "url",
    doc: "S3 API endpoint, e.g. `https://<account>.r2.cloudflarestorage.com`; unset = AWS.",
  },
  S3_REGION: { kind: "string", def: "auto", doc: "Region; `auto` for R2." },
  S3_BUCKET: { kind: "string", doc: "Bucket name (required with `STORAGE_DRIVER=s3`)." },
  S3_ACCESS_KEY_ID: { kind: "string", doc: "Access key id (required with `STORAGE_DRIVER=s3`)." },
  S3_SECRET_ACCESS_KEY: { kind: "string", doc: "Secret access key (required with `STORAGE_DRIVER=s3`)." },
  S3_FORCE_PATH_STYLE: {
    kind: "bool",
    def: "false",
    doc: "Path-style URLs (`endpoint/bucket/key`): MinIO, Ceph RGW.",
  },
  S3_PUBLIC_BASE_URL: {
    kind: "url",
    doc: "Public bucket URL or custom domain; `storage_url` = this + `/<key>`. Unset: a presigned GET.",
  },
  S3_PREFIX: { kind: "string", def: "", doc: "Key prefix inside the bucket, e.g. `renderio/`." },
  STORAGE_URL_TTL_SECONDS: {
    kind: "int",
    def: "604800",
    min: 60,
    max: 604800,
    doc: "Validity of presigned `storage_url`s (S3 without a public URL); SigV4 allows at most 7 days.",
  },
  S3_PART_SIZE_MB: {
    kind: "int",
    def: "8",
    min: 5,
    max: 512,
    doc: "Multipart part size (all parts equal, as R2 requires). Memory per upload ≈ part size × queue size.",
  },
  S3_QUEUE_SIZE: { kind: "int", def: "4", min: 1, max: 32, doc: "Parts uploaded in parallel per upload." },
  SIGNING_SECRET: {
    kind: "string",
    doc: "HMAC secret for download tokens. Unset: generated once and kept in `DATA_DIR/signing.secret`.",
  },
  MAX_UPLOAD_BYTES: {
    kind: "int",
    def: String(10 * GiB),
    min: 1,
    doc: "Largest accepted file (upload), in bytes.",
  },
  MAX_JSON_BODY_BYTES: {
    kind: "int",
    def: String(1024 * 1024),
    min: 1024,
    doc: "Largest JSON request body.",
  },
  PROBE_CONCURRENCY: {
    kind: "int",
    def: () => String(availableParallelism()),
    min: 1,
    max: 64,
    doc: "How many ffprobe processes run at once (default: number of CPUs).",
  },
  PROBE_TIMEOUT_SECONDS: {
    kind: "int",
    def: "60",
    min: 1,
    max: 3600,
    doc: "ffprobe is killed after this long.",
  },
  PROBE_MAX_ATTEMPTS: {
    kind: "int",
    def: "3",
    min: 1,
    max: 20,
    doc: "Probes interrupted by crashes are retried this often, then the file is FAILED.",
  },
  SANDBOX: {
    kind: "enum",
    def: "auto",
    values: ["auto", "bwrap", "off"],
    doc: "Run ffprobe/ffmpeg in a bubblewrap sandbox: `auto` (use it if it works, warn if not), `bwrap` (required), `off`.",
  },
  FFMPEG_PATH: {
    kind: "string",
    def: "ffmpeg",
    doc: "ffmpeg to run: a name looked up on `PATH` or an absolute path (e.g. a static build); checked at start.",
  },
  FFPROBE_PATH: {
    kind: "string",
    def: "ffprobe",
    doc: "ffprobe to run, like `FFMPEG_PATH`. A static build starts in ~5 ms instead of ~120 ms (Debian's links 215 libraries); see Benchmarks.",
  },
  COMMAND_CONCURRENCY: {
    kind: "int",
    def: () => String(Math.max(1, Math.floor(availableParallelism() / 2))),
    min: 1,
    max: 64,
    doc: "FFmpeg commands running at once (default: 1 per 2 CPUs).",
  },
  COMMAND_DEFAULT_RUN_SECONDS: {
    kind: "int",
    def: "300",
    min: 1,
    doc: "`max_command_run_seconds` when a request gives none: a hard wall-clock limit for FFmpeg.",
  },
  COMMAND_MAX_RUN_SECONDS: {
    kind: "int",
    def: "3600",
    min: 1,
    doc: "Upper cap on a request's `max_command_run_seconds`.",
  },
  COMMAND_MAX_OUTPUT_BYTES: {
    kind: "int",
    def: String(10 * GiB),
    min: 1024,
    doc: "Largest file FFmpeg may write (RLIMIT_FSIZE) and largest total output of one command.",
  },
  COMMAND_MAX_QUEUED_PER_ACCOUNT: {
    kind: "int",
    def: "100",
    min: 1,
    doc: "Unfinished commands one account may have; more answer 429.",
  },
  COMMAND_MAX_ATTEMPTS: {
    kind: "int",
    def: "3",
    min: 1,
    max: 20,
    doc: "Starts of one command (after crashes/restarts) before it is FAILED for good.",
  },
  WEBHOOK_RETRY_SCHEDULE_SECONDS: {
    kind: "list",
    def: "5,300,1800,7200,18000,36000,36000",
    doc: "Delays before each retry of a failed webhook delivery (the first attempt is immediate).",
  },
  WEBHOOK_TIMEOUT_SECONDS: {
    kind: "int",
    def: "15",
    min: 1,
    max: 300,
    doc: "A delivery not answered in time is a failure.",
  },
  WEBHOOK_DISABLE_AFTER_FAILURES: {
    kind: "int",
    def: "8",
    min: 1,
    doc: "Consecutive failed deliveries after which the account webhook is disabled (PUT re-enables it).",
  },
  WEBHOOK_POLL_MS: {
    kind: "int",
    def: "1000",
    min: 20,
    max: 60000,
    doc: "How often due webhook deliveries are looked for.",
  },
  FETCH_CONCURRENCY: { kind: "int", def: "4", min: 1, max: 64, doc: "store-file downloads running at once." },
  FETCH_ALLOW_PRIVATE_NETWORKS: {
    kind: "bool",
    def: "false",
    doc: "Let outbound requests (store-file, command inputs, webhooks) reach private/loopback addresses. Intranet only.",
  },
  FETCH_ALLOWED_HOSTS: {
    kind: "list",
    def: "",
    doc: "Comma-separated host names or IPs that skip the private-address check (for intranet sources and tests).",
  },
  FETCH_ALLOWED_PORTS: {
    kind: "list",
    def: "",
    doc: "Comma-separated extra ports outbound URLs may use besides 80/443.",
  },
  FETCH_CONNECT_TIMEOUT_SECONDS: {
    kind: "int",
    def: "10",
    min: 1,
    max: 600,
    doc: "Outbound: DNS + connect + response headers.",
  },
  FETCH_IDLE_TIMEOUT_SECONDS: {
    kind: "int",
    def: "30",
    min: 1,
    max: 3600,
    doc: "Outbound: longest pause between body bytes.",
  },
  FETCH_TOTAL_TIMEOUT_SECONDS: {
    kind: "int",
    def: "3600",
    min: 1,
    max: 86400,
    doc: "Outbound: whole download deadline.",
  },
  YTDLP_PATH: {
    kind: "string",
    def: "yt-dlp",
    doc: "yt-dlp executable (a name looked up on PATH, or a path under /usr) for the yt-dlp endpoints; `off` disables them (501).",
  },
  MEDIA_NICE: {
    kind: "int",
    def: "10",
    min: 0,
    max: 19,
    doc: "CPU niceness of ffprobe/ffmpeg: media work yields the CPU to API requests (0 = equal priority).",
  },
  PROBE_IDLE_PRIORITY: {
    kind: "bool",
    def: "true",
    doc: "Background probes of stored files run under Linux's SCHED_IDLE policy (util-linux `chrt`): an API request preempts them at once, and they get the CPU mostly when nothing else wants it (the scheduler still gives them slices whenever busy tasks block for a moment, hence `PROBE_CPU_PRESSURE_LIMIT`). A probe still running after 5 s (starved, e.g. next to an encode where the container's cgroup puts all processes in one scheduling group) is restarted at `MEDIA_NICE`. `false`: they always run at `MEDIA_NICE` like commands.",
  },
  PROBE_CPU_PRESSURE_LIMIT: {
    kind: "int",
    def: "50",
    min: 1,
    max: 100,
    doc: 'With `PROBE_IDLE_PRIORITY`, a background probe waits to start while the CPU is contended: while tasks waited for a CPU during more than this percentage of the last 100 ms (Linux pressure stall information, `cpu.pressure` of the process\'s cgroup v2, else `/proc/pressure/cpu`), for at most the 5 s idle grace. SCHED_IDLE alone let probes take 15–30 % of the CPU from a burst of uploads. A probe that waited logs `waitedForCpuMs` in its "probe done"/"probe failed" line. `100` turns the wait off; where the kernel offers no PSI nothing waits.',
  },
  RATE_LIMIT_PER_MINUTE: {
    kind: "int",
    def: "600",
    min: 0,
    doc: "Sustained requests per minute per API key (0 disables rate limiting).",
  },
  RATE_LIMIT_BURST: {
    kind: "int",
    def: "60",
    min: 1,
    doc: "Requests a key may send at once before throttling.",
  },
  RETENTION_DAYS: {
    kind: "int",
    def: "0",
    min: 0,
    max: 36500,
    doc: "Delete files (uploads, stored files, outputs) older than this many days, at start and hourly; `0` = keep forever. Rows stay with `is_deleted: true`.",
  },
  HEAP_BUDGET_MB: {
    kind: "int",
    def: "4096",
    min: 0,
    max: 1048576,
    doc: "RAM size the JS garbage collector plans for (sets `BUN_JSC_forceRAMSize` for `serve`; an explicit `BUN_JSC_forceRAMSize` wins). Unset: 4096, or the process's cgroup memory limit or the RAM when lower. Lower = more frequent collections and smaller memory peaks; `0` = the machine's RAM. See Benchmarks.",
  },
  SHUTDOWN_GRACE_SECONDS: {
    kind: "int",
    def: "30",
    min: 0,
    max: 3600,
    doc: "On SIGTERM/SIGINT, how long in-flight requests and jobs may take to finish.",
  },
  LOG_LEVEL: { kind: "enum", def: "info", values: ["debug", "info", "warn", "error"], doc: "Log verbosity." },
} as const satisfies Record<string, Setting>;

type SettingName = keyof typeof SETTINGS;
type ValueOf<S> = S extends { kind: "list" }
  ? readonly string[]
  : S extends { kind: "int" }
    ? number
    : S extends { kind: "bool" }
      ? boolean
      : S extends { kind: "enum"; values: readonly (infer V)[] }
        ? V
        : string;
type Required<S> = S extends { def: unknown } ? true : false;

export type Config = {
  readonly [K in SettingName]: Required<(typeof SETTINGS)[K]> extends true
    ? ValueOf<(typeof SETTINGS)[K]>
    : ValueOf<(typeof SETTINGS)[K]> | undefined;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

function parseOne(name: string, s: Setting, raw: string, problems: string[]): unknown {
  switch (s.kind) {
    case "int": {
      if (!/^\d+$/.test(raw.trim()))
        return void problems.push(`${name}: expected a whole number, got "${raw}"`);
      const n = Number(raw.trim());
      if (!Number.isSafeInteger(n)) return void problems.push(`${name}: ${raw} is too large`);
      if (s.min !== undefined && n < s.min)
        return void problems.push(`${name}: must be at least ${s.min}, got ${n}`);
      if (s.max !== undefined && n > s.max)
        return void problems.push(`${name}: must be at most ${s.max}, got ${n}`);
      return n;
    }
    case "bool": {
      const v = raw.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off", ""].includes(v)) return false;
      return void problems.push(`${name}: expected true or false, got "${raw}"`);
    }
    case "enum":
      if (!s.values?.includes(raw))
        return void problems.push(`${name}: expected one of ${s.values?.join(", ")}, got "${raw}"`);
      return raw;
    case "list":
      return Object.freeze(
        raw
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean),
      );
    case "url": {
      const u = URL.parse(raw);
      if (!u || (u.protocol !== "http:" && u.protocol !== "https:"))
        return void problems.push(`${name}: expected an http(s) URL, got "${raw}"`);
      return raw.replace(/\/+$/, "");
    }
    default:
      return raw;
  }
}

/** Reads, validates and freezes the configuration. Throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, s] of Object.entries(SETTINGS) as [string, Setting][]) {
    const given = env[name];
    const raw =
      given !== undefined && given !== "" ? given : typeof s.def === "function" ? s.def(out) : s.def;
    out[name] = raw === undefined ? undefined : parseOne(name, s, raw, problems);
  }
  const dbUrl = out.DATABASE_URL as string | undefined;
  if (dbUrl !== undefined && !/^postgres(ql)?:\/\/./.test(dbUrl))
    problems.push("DATABASE_URL: expected a postgres:// or postgresql:// URL");
  if (dbUrl !== undefined && out.STORAGE_DRIVER === "local") {
    if (!out.LOCAL_STORAGE_SHARED)
      problems.push(
        "STORAGE_DRIVER=local with DATABASE_URL: several nodes would each see only their own files; use STORAGE_DRIVER=s3, or set LOCAL_STORAGE_SHARED=true if DATA_DIR/files is one shared mount",
      );
    else if (!out.SIGNING_SECRET)
      problems.push("LOCAL_STORAGE_SHARED=true: set SIGNING_SECRET to the same value on every node");
  }
  if (out.STORAGE_DRIVER === "s3") {
    for (const name of ["S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]) {
      if (!out[name]) problems.push(`${name}: required when STORAGE_DRIVER=s3`);
    }
    // S3 allows at most 10,000 parts per object, and parts are equal-sized (R2 requires it).
    const partMb = out.S3_PART_SIZE_MB as number | undefined;
    const maxUpload = out.MAX_UPLOAD_BYTES as number | undefined;
    if (partMb && maxUpload && maxUpload > partMb * 1024 * 1024 * 10_000)
      problems.push(
        `S3_PART_SIZE_MB: ${partMb} MiB × 10,000 parts is less than MAX_UPLOAD_BYTES (${maxUpload}); raise S3_PART_SIZE_MB to at least ${Math.ceil(maxUpload / (1024 * 1024 * 10_000))}`,
      );
  }
  for (const d of (out.WEBHOOK_RETRY_SCHEDULE_SECONDS as string[] | undefined) ?? []) {
    if (!/^\d+$/.test(d))
      problems.push(`WEBHOOK_RETRY_SCHEDULE_SECONDS: "${d}" is not a whole number of seconds`);
  }
  for (const p of (out.FETCH_ALLOWED_PORTS as string[] | undefined) ?? []) {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535)
      problems.push(`FETCH_ALLOWED_PORTS: "${p}" is not a port`);
  }
  if (problems.length) throw new ConfigError(problems);
  out.DATA_DIR = resolve(out.DATA_DIR as string);
  out.DATABASE_PATH = resolve(out.DATABASE_PATH as string);
  return Object.freeze(out) as unknown as Config;
}
