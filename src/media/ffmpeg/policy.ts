/**
 * What ffmpeg may open. Every `-i` gets the server's input policy right before it; users cannot pass
 * those options themselves. Verified with Debian ffmpeg 5.1:
 * - `-protocol_whitelist file`: no network, no `concat:`/`subfile:`/`data:` style protocols.
 * - `-format_whitelist`: only single-file demuxers; an HLS playlist or an ffconcat list saved under a
 *   media name (`x.mp4`) fails with "Format not on whitelist" instead of opening the files it lists.
 * - `-enable_drefs 0` is NOT added: it is a mov-demuxer option, and ffmpeg 5.1 aborts with
 *   "Option enable_drefs not found." for every non-mov input (wav, mkv, png, …). It defaults to false
 *   in 5.1 (`ffmpeg -h demuxer=mov`), and users cannot set it (it is not on the option allow-list).
 */
import { PROBE_FORMAT_WHITELIST } from "../ffprobe";

/**
 * Demuxers an `-i` may use: the probe whitelist (media containers, single-image pipes; no image2, hls,
 * concat, lavfi, data, tty) plus text subtitle formats that read only their own file.
 */
export const INPUT_DEMUXER_WHITELIST: string = [PROBE_FORMAT_WHITELIST, "srt", "ass", "webvtt"].join(",");

/** Demuxer names accepted by `-f` before an `-i` (each comma-separated name of a whitelisted demuxer). */
export const INPUT_FORMATS: ReadonlySet<string> = new Set(INPUT_DEMUXER_WHITELIST.split(","));

/**
 * Demuxers a file read by a filter (`subtitles=`) must probe as. The subtitles filter opens its file
 * with libavformat WITHOUT our input policy, so a "subtitle" that is really an HLS playlist or an
 * ffconcat list could pull in other files. The server should ffprobe such inputs (see
 * `PlannedStep.filterInputs`) with this whitelist before running; probing is deterministic, so a file
 * that probes as srt/ass/webvtt here is opened with the same demuxer by the filter.
 */
export const SUBTITLE_DEMUXER_WHITELIST = "srt,ass,webvtt";

/**
 * Muxers `-f` may name for an output. Not tee, segment, hls, dash, rtp, rtsp, ffmetadata, data, …:
 * those write extra files, elsewhere, or to the network. `image2` writes a single file because server
 * paths never contain `%`.
 */
export const OUTPUT_FORMATS: ReadonlySet<string> = new Set([
  ...["mp4", "mov", "ipod", "3gp", "matroska", "webm", "avi", "flv", "mpegts", "ogg", "opus"],
  ...["mp3", "wav", "flac", "adts", "aiff", "ac3", "eac3"],
  ...["image2", "mjpeg", "gif", "apng", "webp"],
  ...["srt", "ass", "webvtt", "null"],
]);

/** The options placed right before every `-i` (after the user's own input options). */
export function inputPolicy(): string[] {
  return ["-protocol_whitelist", "file", "-format_whitelist", INPUT_DEMUXER_WHITELIST];
}

/** Server-chosen paths: absolute, `[A-Za-z0-9/._-]` only, no `..` segment (no `%` patterns, no protocol). */
const SAFE_PATH = /^\/[A-Za-z0-9/._-]+$/;

/** Throws (a server bug, not a user error) when a path handed to argv() is unsafe. */
export function assertSafePath(alias: string, path: string | undefined): string {
  if (path === undefined) throw new Error(`argv(): no path for "${alias}"`);
  if (!SAFE_PATH.test(path) || path.split("/").includes("..")) {
    throw new Error(`argv(): unsafe path for "${alias}"`);
  }
  return path;
}
