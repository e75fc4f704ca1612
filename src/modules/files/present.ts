import type { FileRow } from "../../db/schema";
import type { StorageDriver } from "../../storage/driver";
import type { StoredFile } from "./model";

const MiB = 1024 * 1024;

/** Maps a row to the wire shape. `storage_url` only for STORED, undeleted files with bytes. */
export async function presentFile(row: FileRow, storage: StorageDriver): Promise<StoredFile> {
  const downloadable = row.status === "STORED" && !row.isDeleted && row.storageKey;
  return {
    file_id: row.id,
    storage_url: downloadable
      ? await storage.storageUrl({ fileId: row.id, key: row.storageKey as string, filename: row.filename })
      : null,
    status: row.status,
    rendi_store_type: row.storeType,
    is_deleted: row.isDeleted,
    filename: row.filename,
    original_file_url: row.originalFileUrl,
    size_mbytes: row.sizeBytes == null ? null : Math.round((row.sizeBytes / MiB) * 1e6) / 1e6,
    duration: row.duration,
    file_type: row.fileType,
    file_format: row.fileFormat,
    codec: row.codec,
    pixel_format: row.pixelFormat,
    mime_type: row.mimeType,
    width: row.width,
    height: row.height,
    frame_rate: row.frameRate,
    bitrate_video_kb: row.bitrateVideoKb,
    bitrate_audio_kb: row.bitrateAudioKb,
    sample_rate: row.sampleRate,
    channels: row.channels,
    error_status: row.errorStatus,
    error_message: row.errorMessage,
    created_at: row.createdAt.toISOString(),
  };
}
