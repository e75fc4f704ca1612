import { t } from "elysia";

const nullable = <T extends Parameters<typeof t.Union>[0][number]>(s: T, description?: string) =>
  t.Union([s, t.Null()], description ? { description } : {});

/** StoredFileResponse (spec §2.3): every key always present, `null` where it does not apply. */
export const StoredFile = t.Object(
  {
    file_id: t.String({ format: "uuid" }),
    storage_url: nullable(t.String(), "Download URL (Range supported); null unless STORED and not deleted"),
    status: t.Union([t.Literal("PROCESSING"), t.Literal("STORED"), t.Literal("FAILED")]),
    rendi_store_type: t.Union([t.Literal("OUTPUT"), t.Literal("STORED_FILE"), t.Literal("UPLOAD")]),
    is_deleted: t.Boolean(),
    filename: t.String({ description: "Sanitised file name; also the last segment of storage_url" }),
    original_file_url: nullable(t.String(), "Source URL for store-file"),
    size_mbytes: nullable(t.Number(), "Size in MiB (bytes / 1048576)"),
    duration: nullable(t.Number(), "Seconds"),
    file_type: nullable(t.String(), "video, audio, image or other"),
    file_format: nullable(t.String(), "Container as users name it: mp4, mov, webm, mkv, mp3, wav, png…"),
    codec: nullable(t.String()),
    pixel_format: nullable(t.String()),
    mime_type: nullable(t.String()),
    width: nullable(t.Number()),
    height: nullable(t.Number()),
    frame_rate: nullable(t.Number()),
    bitrate_video_kb: nullable(t.Number(), "kbit/s"),
    bitrate_audio_kb: nullable(t.Number(), "kbit/s"),
    sample_rate: nullable(t.Number(), "Hz"),
    channels: nullable(t.Number()),
    error_status: nullable(t.String()),
    error_message: nullable(t.String()),
    created_at: t.String({ format: "date-time" }),
  },
  { description: "A stored file and its media metadata" },
);
export type StoredFile = typeof StoredFile.static;

export const FileIdParams = t.Object({ fileId: t.String({ description: "File id (UUID)" }) });

export const ListQuery = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 50 })),
  offset: t.Optional(t.Integer({ minimum: 0, default: 0 })),
});

export const FileList = t.Object({ files: t.Array(StoredFile), limit: t.Integer(), offset: t.Integer() });
export const StoreFileBody = t.Object({
  file_url: t.String({
    minLength: 1,
    description: "Publicly reachable http(s) URL of the file to store",
    examples: ["https://example.com/video.mp4"],
  }),
});

export const UploadResult = t.Object({ file_id: t.String({ format: "uuid" }) });
export const DeleteResult = t.Object({ deleted: t.Literal(true), file_id: t.String() });

/** The upload body as OpenAPI shows it: the route itself streams the raw body (`parse: "none"`). */
export const uploadRequestBody = {
  required: true,
  content: {
    "multipart/form-data": {
      schema: {
        type: "object",
        required: ["file"],
        properties: {
          file: { type: "string", format: "binary", description: "The file to store (exactly one)" },
        },
      },
    },
  },
};
