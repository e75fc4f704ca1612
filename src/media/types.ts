/**
 * Media metadata as the API reports it (spec §2.3 and §8, Decisions 13).
 * Produced from ffprobe JSON by `mapProbe` in ./ffprobe.ts; every key is always present,
 * `null` where it does not apply, so responses can emit all documented keys.
 */
export type FileType = "video" | "audio" | "image" | "other";

export interface MediaInfo {
  duration: number | null;
  file_type: FileType;
  file_format: string | null;
  codec: string | null;
  pixel_format: string | null;
  mime_type: string | null;
  width: number | null;
  height: number | null;
  frame_rate: number | null;
  bitrate_video_kb: number | null;
  bitrate_audio_kb: number | null;
  sample_rate: number | null;
  channels: number | null;
}

/** Outcome of probing one file. */
export type ProbeOutcome = (
  | { kind: "media"; info: MediaInfo }
  /** Not media and does not claim to be (text, font, LUT…): stored as `file_type: "other"`. */
  | { kind: "other"; info: MediaInfo }
  /** Claims to be media (extension or magic bytes) but ffprobe cannot read it. */
  | { kind: "failed"; message: string }
) & {
  /** Milliseconds a background probe waited for spare CPU before ffprobe started; absent when it did not. */
  waitedMs?: number;
};
