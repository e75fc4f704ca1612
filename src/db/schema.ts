import { sql } from "drizzle-orm";
import { index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * All tables. Times are integer milliseconds since the epoch (`timestamp_ms`); ids are UUID strings.
 * Rows are the durable state of every background job: a job carries only an id and re-reads its row.
 */
const createdAt = () =>
  integer("created_at", { mode: "timestamp_ms" }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

export const accounts = sqliteTable("accounts", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: createdAt(),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    name: text("name"),
    /** First characters of the key (`ffsk_1a2b3c4d`), shown by `keys list` so people can tell keys apart. */
    prefix: text("prefix").notNull(),
    /** Lowercase hex SHA-256 of the whole key; the key itself is never stored. */
    keyHash: text("key_hash").notNull().unique(),
    createdAt: createdAt(),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("api_keys_account_idx").on(t.accountId)],
);

export type StoreType = "UPLOAD" | "STORED_FILE" | "OUTPUT";
export type FileStatus = "PROCESSING" | "STORED" | "FAILED";

export const files = sqliteTable(
  "files",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    storeType: text("store_type").$type<StoreType>().notNull(),
    status: text("status").$type<FileStatus>().notNull(),
    /** Sanitised display name; also the last segment of the storage key and of `storage_url`. */
    filename: text("filename").notNull(),
    /** Server-generated object key (`<account>/<file_id>/<filename>`); null until bytes are stored. */
    storageKey: text("storage_key"),
    sizeBytes: integer("size_bytes"),
    originalFileUrl: text("original_file_url"),
    /** For OUTPUT files: the command and `out_*` alias that produced it. */
    commandId: text("command_id"),
    outputAlias: text("output_alias"),
    duration: real("duration"),
    fileType: text("file_type"),
    fileFormat: text("file_format"),
    codec: text("codec"),
    pixelFormat: text("pixel_format"),
    mimeType: text("mime_type"),
    width: integer("width"),
    height: integer("height"),
    frameRate: real("frame_rate"),
    bitrateVideoKb: real("bitrate_video_kb"),
    bitrateAudioKb: real("bitrate_audio_kb"),
    sampleRate: integer("sample_rate"),
    channels: integer("channels"),
    errorStatus: text("error_status"),
    errorMessage: text("error_message"),
    /** How many times a store-file download was started; bounds retries after crashes. */
    downloadAttempts: integer("download_attempts").notNull().default(0),
    /** How many times a probe was started; bounds retries after crashes. */
    probeAttempts: integer("probe_attempts").notNull().default(0),
    isDeleted: integer("is_deleted", { mode: "boolean" }).notNull().default(false),
    deletedAt: integer("deleted_at", { mode: "timestamp_ms" }),
    /** Work sharing: the node running this job and until when (renewed while it runs; see src/jobs/leases.ts). */
    leaseOwner: text("lease_owner"),
    leaseUntil: integer("lease_until", { mode: "timestamp_ms" }),
    createdAt: createdAt(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    index("files_account_created_idx").on(t.accountId, t.createdAt),
    // Claims walk PROCESSING rows oldest first (src/jobs/leases.ts): the index gives that order.
    index("files_status_created_idx").on(t.status, t.createdAt),
    index("files_command_idx").on(t.commandId),
  ],
);

export type CommandType = "FFMPEG_COMMAND" | "CHAINED_COMMAND" | "MULTIPLE_COMMAND" | "YTDLP_COMMAND";
export type CommandStatus = "QUEUED" | "PROCESSING" | "SUCCESS" | "FAILED";

/** One submitted command (a chain is one command; a multiple-commands request is one row per entry). */
export const commands = sqliteTable(
  "commands",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    commandType: text("command_type").$type<CommandType>().notNull(),
    status: text("status").$type<CommandStatus>().notNull(),
    /** alias → URL, as submitted. */
    inputFiles: text("input_files", { mode: "json" }).$type<Record<string, string>>().notNull(),
    /** alias → requested file name. */
    outputFiles: text("output_files", { mode: "json" }).$type<Record<string, string>>().notNull(),
    /** The command(s): one entry for FFMPEG/MULTIPLE, the steps for CHAINED. */
    ffmpegCommands: text("ffmpeg_commands", { mode: "json" }).$type<string[]>().notNull(),
    /** Echoed verbatim as `original_request`. */
    originalRequest: text("original_request", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    metadata: text("metadata", { mode: "json" }).$type<Record<string, string | number | boolean>>(),
    webhookUrl: text("webhook_url"),
    maxRunSeconds: integer("max_run_seconds").notNull(),
    errorStatus: text("error_status"),
    errorMessage: text("error_message"),
    totalProcessingSeconds: real("total_processing_seconds"),
    ffmpegRunSeconds: real("ffmpeg_run_seconds"),
    /** `{percent, out_time_seconds}` while running, from ffmpeg's -progress output. */
    progress: text("progress", { mode: "json" }).$type<{
      percent: number | null;
      out_time_seconds: number;
    }>(),
    attempts: integer("attempts").notNull().default(0),
    cancelRequested: integer("cancel_requested", { mode: "boolean" }).notNull().default(false),
    /** Work sharing: the node running this job and until when (renewed while it runs; see src/jobs/leases.ts). */
    leaseOwner: text("lease_owner"),
    leaseUntil: integer("lease_until", { mode: "timestamp_ms" }),
    createdAt: createdAt(),
    startedAt: integer("started_at", { mode: "timestamp_ms" }),
    finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    index("commands_account_created_idx").on(t.accountId, t.createdAt),
    index("commands_status_created_idx").on(t.status, t.createdAt),
  ],
);

export type CommandRow = typeof commands.$inferSelect;

export type FileRow = typeof files.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** User presets (system presets live in code: src/modules/presets/system.ts). */
export const presets = sqliteTable(
  "presets",
  {
    /** `prs_` + random. */
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    name: text("name").notNull(),
    description: text("description"),
    category: text("category"),
    commandType: text("command_type")
      .$type<"FFMPEG_COMMAND" | "CHAINED_COMMAND" | "MULTIPLE_COMMAND">()
      .notNull(),
    ffmpegCommand: text("ffmpeg_command"),
    ffmpegCommands: text("ffmpeg_commands", { mode: "json" }).$type<string[]>(),
    inputFileKeys: text("input_file_keys", { mode: "json" }).$type<string[]>().notNull(),
    outputFileDefinitions: text("output_file_definitions", { mode: "json" })
      .$type<Record<string, string>>()
      .notNull(),
    metadata: text("metadata", { mode: "json" }).$type<Record<string, string | number | boolean>>(),
    createdAt: createdAt(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("presets_account_created_idx").on(t.accountId, t.createdAt)],
);

export type PresetRow = typeof presets.$inferSelect;

/** The account webhook (spec §6): one per account, kept (inactive) after DELETE. */
export const webhookConfigs = sqliteTable("webhook_configs", {
  accountId: text("account_id")
    .primaryKey()
    .references(() => accounts.id),
  url: text("url").notNull(),
  secret: text("secret"),
  isActive: integer("is_active", { mode: "boolean" }).notNull(),
  consecutiveFailures: integer("consecutive_failures").notNull().default(0),
  disabledAt: integer("disabled_at", { mode: "timestamp_ms" }),
  createdAt: createdAt(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

export type WebhookConfigRow = typeof webhookConfigs.$inferSelect;

/**
 * One webhook delivery per finished command: the durable retry state. `id` is sent as X-Webhook-Id
 * so receivers can de-duplicate retries; `body` is the exact byte string that is signed and sent.
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    commandId: text("command_id").notNull(),
    url: text("url").notNull(),
    /** True when the target is the account webhook (its failures count towards auto-disable). */
    toAccountWebhook: integer("to_account_webhook", { mode: "boolean" }).notNull(),
    body: text("body").notNull(),
    status: text("status").$type<"PENDING" | "DELIVERED" | "FAILED">().notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at", { mode: "timestamp_ms" }).notNull(),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    /** Work sharing: the node running this job and until when (renewed while it runs; see src/jobs/leases.ts). */
    leaseOwner: text("lease_owner"),
    leaseUntil: integer("lease_until", { mode: "timestamp_ms" }),
    createdAt: createdAt(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("webhook_deliveries_due_idx").on(t.status, t.nextAttemptAt)],
);

export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

/**
 * Shared token buckets (PostgreSQL, several nodes): one row per API key, taken atomically by an upsert.
 * SQLite servers keep their buckets in memory (one node); the table exists in both for one model.
 */
export const rateLimits = sqliteTable("rate_limits", {
  keyId: text("key_id").primaryKey(),
  tokens: real("tokens").notNull(),
  /** Whether the last take was granted (the upsert's outcome, read back with RETURNING). */
  granted: integer("granted", { mode: "boolean" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});
