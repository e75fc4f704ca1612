import { t } from "elysia";
import { FORMAT_SELECTORS } from "../../media/ytdlp";
import { StoredFile } from "../files/model";

const nullable = <T extends Parameters<typeof t.Union>[0][number]>(s: T, description?: string) =>
  t.Union([s, t.Null()], description ? { description } : {});

const Aliases = (prefix: "in" | "out", what: string) =>
  t.Record(t.String(), t.String(), {
    description: `${what}: keys \`${prefix}_*\` ([A-Za-z0-9_]), referenced as {{${prefix}_x}} or <<${prefix}_x>>`,
  });

export const Metadata = t.Record(t.String(), t.Union([t.String(), t.Number(), t.Boolean()]), {
  description: "Up to 10 keys, echoed back in the command and its webhook",
});

/** Fields every submit endpoint shares (besides the command itself). */
const common = {
  metadata: t.Optional(Metadata),
  webhook_url: t.Optional(t.String({ description: "Per-command webhook, overrides the account webhook" })),
  max_command_run_seconds: t.Optional(
    t.Integer({ minimum: 1, description: "Hard time limit for FFmpeg (default 300, capped by the server)" }),
  ),
  vcpu_count: t.Optional(t.Number({ description: "Accepted for compatibility; ignored" })),
};

export const RunCommandBody = t.Object({
  input_files: Aliases("in", "Input URLs (any http(s) URL or a storage_url)"),
  output_files: Aliases("out", "Output file names; the extension decides the format"),
  ffmpeg_command: t.String({ examples: ["-i {{in_video}} -vf scale=640:-2 -c:a copy {{out_video}}"] }),
  ...common,
});

export const RunChainedBody = t.Object({
  input_files: Aliases("in", "Input URLs"),
  output_files: Aliases("out", "Output file names"),
  ffmpeg_commands: t.Array(t.String(), { description: "Up to 10 steps run in one working directory" }),
  ...common,
});

export const RunMultipleBody = t.Object({
  commands: t.Array(t.Object({ ...RunCommandBody.properties }), {
    description: "Up to 10 independent commands",
  }),
  ...common,
});

const FormatSelector = t.Union(
  FORMAT_SELECTORS.map((s) => t.Literal(s)),
  {
    description:
      "yt-dlp format preset (default `best`); a resolution takes the closest one when that height is missing; " +
      "`audio_only` extracts the audio track",
  },
);

const ytdlpFields = {
  input_urls: Aliases("in", "Page or media URLs, each downloaded with yt-dlp"),
  format_selector: t.Optional(FormatSelector),
  ...common,
};

export const YtdlpDownloadBody = t.Object(ytdlpFields);

export const RunYtdlpBody = t.Object({
  ...ytdlpFields,
  ffmpeg_command: t.Optional(
    t.String({ description: "Runs after the downloads; `{{in_x}}` are the downloaded files" }),
  ),
  output_files: t.Optional(Aliases("out", "Output file names (required with ffmpeg_command)")),
});

export const CommandIdParams = t.Object({ commandId: t.String() });
export const CommandIdResult = t.Object({ command_id: t.String({ format: "uuid" }) });
export const CommandIdsResult = t.Object({ command_ids: t.Array(t.String({ format: "uuid" })) });

export const ListCommandsQuery = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 50 })),
  offset: t.Optional(t.Integer({ minimum: 0, default: 0 })),
  status: t.Optional(
    t.Union([t.Literal("QUEUED"), t.Literal("PROCESSING"), t.Literal("SUCCESS"), t.Literal("FAILED")]),
  ),
});

/** Keys of OutputFileMeta (spec §2.2): a StoredFile without store-file, audio and error fields. */
export const OUTPUT_FILE_KEYS = [
  "file_id",
  "storage_url",
  "status",
  "rendi_store_type",
  "is_deleted",
  "filename",
  "size_mbytes",
  "duration",
  "file_type",
  "file_format",
  "codec",
  "pixel_format",
  "mime_type",
  "width",
  "height",
  "frame_rate",
  "bitrate_video_kb",
  "bitrate_audio_kb",
] as const;

/** OutputFileMeta (spec §2.2), derived from the file schema so the two cannot drift apart. */
export const OutputFile = t.Pick(StoredFile, OUTPUT_FILE_KEYS);

/** CommandPollResponse (spec §2.1) plus `created_at` and our `progress` extension. */
export const Command = t.Object({
  command_id: t.String(),
  status: t.Union([t.Literal("QUEUED"), t.Literal("PROCESSING"), t.Literal("SUCCESS"), t.Literal("FAILED")]),
  command_type: t.Union([
    t.Literal("FFMPEG_COMMAND"),
    t.Literal("CHAINED_COMMAND"),
    t.Literal("MULTIPLE_COMMAND"),
    t.Literal("YTDLP_COMMAND"),
  ]),
  total_processing_seconds: nullable(t.Number(), "Acceptance to completion"),
  ffmpeg_command_run_seconds: nullable(t.Number(), "Time FFmpeg itself ran"),
  metadata: nullable(Metadata),
  error_status: nullable(t.String()),
  error_message: nullable(t.String()),
  output_files: t.Record(t.String(), OutputFile),
  original_request: t.Record(t.String(), t.Unknown()),
  progress: nullable(
    t.Object({
      percent: nullable(t.Number(), "0–100 when the input duration is known"),
      out_time_seconds: t.Number(),
    }),
    "Extension: live progress from FFmpeg while PROCESSING",
  ),
  created_at: t.String({ format: "date-time" }),
});
export type Command = typeof Command.static;

export const CommandList = t.Object({ commands: t.Array(Command), limit: t.Integer(), offset: t.Integer() });
export const DeleteFilesResult = t.Object({ deleted: t.Literal(true), files_deleted: t.Integer() });
export const ValidateResult = t.Object({
  valid: t.Literal(true),
  argv: t.Array(t.Array(t.String()), {
    description: "The argv each step would run (paths shown as aliases)",
  }),
});
