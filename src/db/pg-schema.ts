import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  json,
  pgTable,
  text,
  timestamp,
} from "drizzle-orm/pg-core";
import type { CommandStatus, CommandType, FileStatus, StoreType } from "./schema";

/**
 * The PostgreSQL twin of `schema.ts` (SQLite): same tables, columns, indexes and TypeScript row types
 * (checked in `tables.ts`), so every query is written once. Mapping: SQLite `integer` timestamps →
 * `timestamptz(3)` (Date either way), `real` → `double precision` (pg `real` is 4 bytes), byte counts →
 * `bigint` (files past 2 GiB), JSON text → `json` (not jsonb: `json` keeps the submitted key order, which
 * `original_request` echoes). Migrations: `drizzle/pg/` (`bunx drizzle-kit generate --config
 * drizzle.pg.config.ts`); files, commands and presets also get a hidden `rowid` identity column there
 * (a custom migration) so "newest first" lists break ties by insertion order, as SQLite's rowid does.
 */
const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });
const createdAt = () => ts("created_at").notNull().defaultNow();

export const accounts = pgTable("accounts", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: createdAt(),
});

export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    name: text("name"),
    prefix: text("prefix").notNull(),
    keyHash: text("key_hash").notNull().unique(),
    createdAt: createdAt(),
    lastUsedAt: ts("last_used_at"),
    revokedAt: ts("revoked_at"),
  },
  (t) => [index("api_keys_account_idx").on(t.accountId)],
);

export const files = pgTable(
  "files",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    storeType: text("store_type").$type<StoreType>().notNull(),
    status: text("status").$type<FileStatus>().notNull(),
    filename: text("filename").notNull(),
    storageKey: text("storage_key"),
    sizeBytes: bigint("size_bytes", { mode: "number" }),
    originalFileUrl: text("original_file_url"),
    commandId: text("command_id"),
    outputAlias: text("output_alias"),
    duration: doublePrecision("duration"),
    fileType: text("file_type"),
    fileFormat: text("file_format"),
    codec: text("codec"),
    pixelFormat: text("pixel_format"),
    mimeType: text("mime_type"),
    width: integer("width"),
    height: integer("height"),
    frameRate: doublePrecision("frame_rate"),
    bitrateVideoKb: doublePrecision("bitrate_video_kb"),
    bitrateAudioKb: doublePrecision("bitrate_audio_kb"),
    sampleRate: integer("sample_rate"),
    channels: integer("channels"),
    errorStatus: text("error_status"),
    errorMessage: text("error_message"),
    downloadAttempts: integer("download_attempts").notNull().default(0),
    probeAttempts: integer("probe_attempts").notNull().default(0),
    isDeleted: boolean("is_deleted").notNull().default(false),
    deletedAt: ts("deleted_at"),
    leaseOwner: text("lease_owner"),
    leaseUntil: ts("lease_until"),
    createdAt: createdAt(),
    updatedAt: ts("updated_at"),
  },
  (t) => [
    index("files_account_created_idx").on(t.accountId, t.createdAt),
    // Claims walk PROCESSING rows oldest first (src/jobs/leases.ts): the index gives that order.
    index("files_status_created_idx").on(t.status, t.createdAt),
    index("files_command_idx").on(t.commandId),
  ],
);

export const commands = pgTable(
  "commands",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    commandType: text("command_type").$type<CommandType>().notNull(),
    status: text("status").$type<CommandStatus>().notNull(),
    inputFiles: json("input_files").$type<Record<string, string>>().notNull(),
    outputFiles: json("output_files").$type<Record<string, string>>().notNull(),
    ffmpegCommands: json("ffmpeg_commands").$type<string[]>().notNull(),
    originalRequest: json("original_request").$type<Record<string, unknown>>().notNull(),
    metadata: json("metadata").$type<Record<string, string | number | boolean>>(),
    webhookUrl: text("webhook_url"),
    maxRunSeconds: integer("max_run_seconds").notNull(),
    errorStatus: text("error_status"),
    errorMessage: text("error_message"),
    totalProcessingSeconds: doublePrecision("total_processing_seconds"),
    ffmpegRunSeconds: doublePrecision("ffmpeg_run_seconds"),
    progress: json("progress").$type<{ percent: number | null; out_time_seconds: number }>(),
    attempts: integer("attempts").notNull().default(0),
    cancelRequested: boolean("cancel_requested").notNull().default(false),
    leaseOwner: text("lease_owner"),
    leaseUntil: ts("lease_until"),
    createdAt: createdAt(),
    startedAt: ts("started_at"),
    finishedAt: ts("finished_at"),
    updatedAt: ts("updated_at"),
  },
  (t) => [
    index("commands_account_created_idx").on(t.accountId, t.createdAt),
    index("commands_status_created_idx").on(t.status, t.createdAt),
  ],
);

export const presets = pgTable(
  "presets",
  {
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
    ffmpegCommands: json("ffmpeg_commands").$type<string[]>(),
    inputFileKeys: json("input_file_keys").$type<string[]>().notNull(),
    outputFileDefinitions: json("output_file_definitions").$type<Record<string, string>>().notNull(),
    metadata: json("metadata").$type<Record<string, string | number | boolean>>(),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [index("presets_account_created_idx").on(t.accountId, t.createdAt)],
);

export const webhookConfigs = pgTable("webhook_configs", {
  accountId: text("account_id")
    .primaryKey()
    .references(() => accounts.id),
  url: text("url").notNull(),
  secret: text("secret"),
  isActive: boolean("is_active").notNull(),
  consecutiveFailures: integer("consecutive_failures").notNull().default(0),
  disabledAt: ts("disabled_at"),
  createdAt: createdAt(),
  updatedAt: ts("updated_at").notNull(),
});

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    commandId: text("command_id").notNull(),
    url: text("url").notNull(),
    toAccountWebhook: boolean("to_account_webhook").notNull(),
    body: text("body").notNull(),
    status: text("status").$type<"PENDING" | "DELIVERED" | "FAILED">().notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ts("next_attempt_at").notNull(),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    leaseOwner: text("lease_owner"),
    leaseUntil: ts("lease_until"),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [index("webhook_deliveries_due_idx").on(t.status, t.nextAttemptAt)],
);

export const rateLimits = pgTable("rate_limits", {
  keyId: text("key_id").primaryKey(),
  tokens: doublePrecision("tokens").notNull(),
  granted: boolean("granted").notNull(),
  updatedAt: ts("updated_at").notNull(),
});
