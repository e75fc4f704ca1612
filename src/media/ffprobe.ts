/**
 * ffprobe at the boundary: one argv builder, one pure JSON → MediaInfo mapper, one probe entry point.
 *
 * Invariants:
 * - ffprobe only ever reads the one file it is given: `-protocol_whitelist file` (no network, no
 *   subprotocols) and `-format_whitelist` with real single-file media demuxers only. Demuxers that open
 *   other files (hls, dash, concat, image2 sequences, imf, webm_dash_manifest…) or are not media (tty,
 *   lavfi, data, devices) make ffprobe fail with "Format not on whitelist". Inside the sandbox only that
 *   file is bound, so even a demuxer bug cannot reach other data.
 * - Failure messages never contain server paths: the probed path becomes the user's file name.
 */
import { resolve } from "node:path";
import type { SpareCpu } from "../lib/cpu-pressure";
import { runProcess } from "./runner";
import type { Sandbox } from "./sandbox";
import type { FileType, MediaInfo, ProbeOutcome } from "./types";

/** Image demuxers: ffprobe names single-image files `<codec>_pipe` (never `image2`, which is excluded). */
const IMAGE_DEMUXERS = ["png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif", "apng"];

/**
 * Demuxers ffprobe may use (matched against every comma-separated name ffprobe reports for a format).
 * Verified on ffprobe 5.1: each sample format is accepted; hls, concat, image2, tty are rejected.
 */
export const PROBE_FORMAT_WHITELIST = [
  "mov,mp4,m4a,3gp,3g2,mj2",
  "matroska,webm",
  "avi,flv,mpegts,mpeg,asf,ogg",
  "mp3,aac,wav,flac,aiff,caf,ac3,eac3,amr",
  ...IMAGE_DEMUXERS,
].join(",");
const WHITELISTED = new Set(PROBE_FORMAT_WHITELIST.split(","));

const MOV_FAMILY = new Set(["mov", "mp4", "m4a", "3gp", "3g2", "mj2"]);
const WEBM_CODECS = new Set(["vp8", "vp9", "av1", "opus", "vorbis"]);
/** Codecs whose single frame is a still picture (an mjpeg/png track with many frames is still video). */
const IMAGE_CODECS = new Set(["png", "mjpeg", "webp", "bmp", "tiff", "gif", "apng", "jpeg2000", "jpegls"]);

/** file_format → [mime when it has video/is an image, mime when audio-only]. */
const MIME: Record<string, [string, string]> = {
  mp4: ["video/mp4", "audio/mp4"],
  m4a: ["video/mp4", "audio/mp4"],
  mov: ["video/quicktime", "audio/mp4"],
  "3gp": ["video/3gpp", "audio/3gpp"],
  "3g2": ["video/3gpp2", "audio/3gpp2"],
  mj2: ["video/mj2", "video/mj2"],
  webm: ["video/webm", "audio/webm"],
  mkv: ["video/x-matroska", "audio/x-matroska"],
  avi: ["video/x-msvideo", "video/x-msvideo"],
  flv: ["video/x-flv", "video/x-flv"],
  mpegts: ["video/mp2t", "video/mp2t"],
  mpeg: ["video/mpeg", "audio/mpeg"],
  asf: ["video/x-ms-asf", "audio/x-ms-wma"],
  ogg: ["video/ogg", "audio/ogg"],
  mp3: ["audio/mpeg", "audio/mpeg"],
  aac: ["audio/aac", "audio/aac"],
  wav: ["audio/wav", "audio/wav"],
  flac: ["audio/flac", "audio/flac"],
  aiff: ["audio/aiff", "audio/aiff"],
  caf: ["audio/x-caf", "audio/x-caf"],
  ac3: ["audio/ac3", "audio/ac3"],
  eac3: ["audio/eac3", "audio/eac3"],
  amr: ["audio/amr", "audio/amr"],
  png: ["image/png", "image/png"],
  jpeg: ["image/jpeg", "image/jpeg"],
  webp: ["image/webp", "image/webp"],
  bmp: ["image/bmp", "image/bmp"],
  tiff: ["image/tiff", "image/tiff"],
  gif: ["image/gif", "image/gif"],
  apng: ["image/apng", "image/apng"],
};

/** MIME types for common non-media uploads (subtitles, fonts, data); anything else is octet-stream. */
const OTHER_MIME: Record<string, string> = {
  txt: "text/plain",
  srt: "application/x-subrip",
  vtt: "text/vtt",
  ass: "text/x-ssa",
  ssa: "text/x-ssa",
  ttf: "font/ttf",
  otf: "font/otf",
  woff: "font/woff",
  woff2: "font/woff2",
  json: "application/json",
  csv: "text/csv",
  xml: "application/xml",
  pdf: "application/pdf",
  zip: "application/zip",
};

/** Extensions that make a file claim to be media: if ffprobe cannot read it, the upload failed. */
const MEDIA_EXTENSIONS = new Set([
  ...MOV_FAMILY,
  ...["m4v", "mkv", "mka", "webm", "avi", "flv", "ts", "m2ts", "mts", "mpg", "mpeg", "vob", "wmv", "asf"],
  ...["mp3", "aac", "wav", "flac", "ogg", "oga", "ogv", "opus", "wma", "aif", "aiff", "caf", "ac3", "amr"],
  ...["png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "apng"],
]);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {};
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
/** ffprobe prints most numbers as strings and "N/A" when unknown. */
function num(v: unknown): number | null {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? n : null;
}
const kb = (v: unknown): number | null => {
  const n = num(v);
  return n === null ? null : n / 1000;
};

/** Lower-cased extension of a file name without the dot, or null. */
export function extensionOf(fileName: string): string | null {
  const dot = fileName.lastIndexOf(".");
  return dot > 0 && dot < fileName.length - 1 ? fileName.slice(dot + 1).toLowerCase() : null;
}

/** "30000/1001" → 29.97 (3 decimals); "0/0", "N/A" → null. */
function frameRate(v: unknown): number | null {
  const [a, b] = (str(v) ?? "").split("/").map(Number);
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || a <= 0 || b <= 0) {
    return null;
  }
  return Math.round((a / b) * 1000) / 1000;
}

/** True when the stream's display matrix (or legacy `rotate` tag) turns it by ±90°/270°. */
function isQuarterTurn(stream: Json): boolean {
  const sides = Array.isArray(stream.side_data_list) ? stream.side_data_list : [];
  const fromSide = sides.map((s) => num(obj(s).rotation)).find((r) => r !== null);
  const rot = fromSide ?? num(obj(stream.tags).rotate) ?? 0;
  return Math.abs(Math.round(rot)) % 180 === 90;
}

/** Container name as users say it (Decision 13). */
function fileFormat(formatName: string, ext: string | null, brand: string, streams: Json[]): string {
  const first = formatName.split(",")[0] ?? formatName;
  if (first === "mov") {
    if (ext !== null && MOV_FAMILY.has(ext)) return ext;
    return brand.trim() === "qt" ? "mov" : "mp4";
  }
  if (first === "matroska") {
    if (ext === "webm") return "webm";
    if (ext !== null && ["mkv", "mka", "mk3d"].includes(ext)) return "mkv";
    const av = streams.filter((s) => s.codec_type === "video" || s.codec_type === "audio");
    return av.length > 0 && av.every((s) => WEBM_CODECS.has(str(s.codec_name) ?? "")) ? "webm" : "mkv";
  }
  // jpeg_pipe is reported as "jpeg" (the codec family), not "jpg", matching image/jpeg.
  return first.endsWith("_pipe") ? first.slice(0, -"_pipe".length) : first;
}

/**
 * Maps ffprobe `-show_format -show_streams` JSON to MediaInfo (spec §8, Decision 13). Pure.
 * `file_type`: video = a video stream that is not cover art and not a still image; image = an image
 * demuxer (png/jpeg/webp/bmp/tiff pipes, gif, apng — animated GIFs too) or a lone single-frame image
 * codec; audio = audio streams only; else other. Images have no duration or frame rate. Bitrates are
 * the streams' own `bit_rate` in kbit/s, null when ffprobe does not report one (never estimated).
 */
export function mapProbe(json: unknown, ctx: { fileName: string }): MediaInfo {
  const root = obj(json);
  const format = obj(root.format);
  const streams = (Array.isArray(root.streams) ? root.streams : []).map(obj);
  const formatName = str(format.format_name) ?? "";
  const ext = extensionOf(ctx.fileName);
  const audio = streams.filter((s) => s.codec_type === "audio");
  const video = streams.filter((s) => s.codec_type === "video" && num(obj(s.disposition).attached_pic) !== 1);
  const v = video[0];
  const a = audio[0];

  let fileType: FileType = "other";
  if (v !== undefined) {
    const stillCodec = IMAGE_CODECS.has(str(v.codec_name) ?? "") && num(v.nb_frames) === 1 && a === undefined;
    fileType = IMAGE_DEMUXERS.includes(formatName) || stillCodec ? "image" : "video";
  } else if (a !== undefined) {
    fileType = "audio";
  }
  const visual = fileType === "video" || fileType === "image" ? v : undefined;
  const timed = fileType === "video" || fileType === "audio";
  const brand = str(obj(format.tags).major_brand) ?? "";
  const container = formatName === "" ? null : fileFormat(formatName, ext, brand, streams);
  const mimes = container === null ? undefined : MIME[container];
  const turned = visual !== undefined && isQuarterTurn(visual);
  const w = visual === undefined ? null : num(visual.width);
  const h = visual === undefined ? null : num(visual.height);

  return {
    duration: timed ? num(format.duration) : null,
    file_type: fileType,
    file_format: container,
    codec: str((visual ?? (fileType === "audio" ? a : undefined))?.codec_name),
    pixel_format: visual === undefined ? null : str(visual.pix_fmt),
    mime_type: mimes === undefined || fileType === "other" ? null : mimes[fileType === "audio" ? 1 : 0],
    width: turned ? h : w,
    height: turned ? w : h,
    frame_rate: fileType === "video" && v !== undefined ? frameRate(v.avg_frame_rate) : null,
    bitrate_video_kb: fileType === "video" && v !== undefined ? kb(v.bit_rate) : null,
    bitrate_audio_kb: timed && a !== undefined ? kb(a.bit_rate) : null,
    sample_rate: timed && a !== undefined ? num(a.sample_rate) : null,
    channels: timed && a !== undefined ? num(a.channels) : null,
  };
}

/** MediaInfo of a file that is not media: everything null except type, extension and a MIME guess. */
export function otherInfo(fileName: string): MediaInfo {
  const ext = extensionOf(fileName);
  return {
    duration: null,
    file_type: "other",
    file_format: ext,
    codec: null,
    pixel_format: null,
    mime_type: (ext !== null ? OTHER_MIME[ext] : undefined) ?? "application/octet-stream",
    width: null,
    height: null,
    frame_rate: null,
    bitrate_video_kb: null,
    bitrate_audio_kb: null,
    sample_rate: null,
    channels: null,
  };
}

/** ffprobe argv for one input; input options precede the input so they apply to it. */
export function buildProbeArgv(
  path: string,
  protocols = "file",
  forceFormat?: string | null,
  ffprobe = "ffprobe",
): string[] {
  return [
    ffprobe,
    ...["-v", "error", "-protocol_whitelist", protocols, "-format_whitelist", PROBE_FORMAT_WHITELIST],
    ...(forceFormat ? ["-f", forceFormat] : []),
    ...["-print_format", "json", "-show_format", "-show_streams", path],
  ];
}

/**
 * The single-image demuxer for a file whose first bytes are a still image. ffprobe otherwise may
 * pick `image2` by extension (it does for JPEGs that ffmpeg itself wrote), which is excluded because
 * it reads file sequences; forcing the `*_pipe` demuxer reads exactly the one file.
 */
export function imageDemuxerFor(b: Uint8Array): string | null {
  const at = (i: number, xs: number[]) => xs.every((x, j) => b[i + j] === x);
  if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return null; // png_pipe wins on its own (and APNG needs apng)
  if (at(0, [0xff, 0xd8, 0xff])) return "jpeg_pipe";
  if (at(0, [0x42, 0x4d])) return "bmp_pipe";
  if (at(0, [0x49, 0x49, 0x2a, 0x00]) || at(0, [0x4d, 0x4d, 0x00, 0x2a])) return "tiff_pipe";
  return null;
}

const readHead = async (path: string) => new Uint8Array(await Bun.file(path).slice(0, 189).arrayBuffer());

/** True when the first bytes carry a media signature (see {@link claimsToBeMedia}). */
export function hasMediaMagic(b: Uint8Array): boolean {
  const ascii = (at: number, s: string): boolean => [...s].every((c, i) => b[at + i] === c.charCodeAt(0));
  const bytes = (at: number, xs: number[]): boolean => xs.every((x, i) => b[at + i] === x);
  const b0 = b[0] ?? 0;
  const b1 = b[1] ?? 0;
  return (
    ascii(4, "ftyp") ||
    ascii(0, "ID3") ||
    (ascii(0, "RIFF") && (ascii(8, "WAVE") || ascii(8, "AVI ") || ascii(8, "WEBP"))) ||
    ascii(0, "OggS") ||
    ascii(0, "fLaC") ||
    ascii(0, "GIF8") ||
    ascii(0, "FLV") ||
    bytes(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) ||
    bytes(0, [0xff, 0xd8, 0xff]) ||
    bytes(0, [0x1a, 0x45, 0xdf, 0xa3]) ||
    bytes(0, [0x30, 0x26, 0xb2, 0x75]) ||
    bytes(0, [0x00, 0x00, 0x01, 0xba]) ||
    (b0 === 0x47 && b[188] === 0x47) ||
    // MPEG audio / ADTS frame sync (11 set bits), but not a UTF-16LE byte-order mark (FF FE).
    (b0 === 0xff && (b1 & 0xe0) === 0xe0 && b1 !== 0xfe)
  );
}

/**
 * Whether a file presents itself as media, by extension or by magic bytes. Decides what an unreadable
 * file is: claiming media → the probe `failed` (the user sent a broken file); otherwise it is `other`
 * (subtitles, fonts, LUTs… are legitimate inputs for ffmpeg commands).
 */
export async function claimsToBeMedia(path: string, fileName: string): Promise<boolean> {
  const ext = extensionOf(fileName);
  if (ext !== null && MEDIA_EXTENSIONS.has(ext)) return true;
  // 189 bytes: enough for an MPEG-TS sync byte at 0 and at 188.
  const head = new Uint8Array(await Bun.file(path).slice(0, 189).arrayBuffer());
  return hasMediaMagic(head);
}

/** ffprobe's stderr tail as a short message without server paths or memory addresses. */
export function probeErrorMessage(stderrTail: string, paths: string[], fileName: string): string {
  let text = stderrTail;
  for (const p of paths) text = text.split(p).join(fileName);
  const lines = text
    .split("\n")
    .map((l) =>
      l
        .replace(/ @ 0x[0-9a-f]+\]/g, "]")
        .replace(/(Format not on whitelist) '[^']*'/, "$1")
        // URLs (e.g. a presigned one, with its signature) never reach the user.
        .replace(/https?:\/\/\S+/g, "<url>")
        // Any other absolute path (e.g. one a playlist points at) is redacted too.
        .replace(/(^|[\s'"(=])\/[^\s'"]*/g, "$1<path>")
        .trim(),
    )
    .filter((l) => l !== "");
  const msg = [...new Set(lines)].slice(-3).join("; ");
  return msg.length > 300 ? `…${msg.slice(-299)}` : msg || "ffprobe could not read the file";
}

/** How one probe runs: time limit, sandbox, the client's file name (for messages), CPU priority. */
export interface ProbeOptions {
  timeoutMs: number;
  sandbox: Sandbox;
  fileName: string;
  nice?: number;
  /** SCHED_IDLE for the first `idleGraceMs` (default IDLE_PROBE_GRACE_MS), then plain `nice`. */
  idle?: boolean;
  idleGraceMs?: number;
  /** With `idle`: wait (within the grace) for a moment the CPU is not contended before starting. */
  spareCpu?: SpareCpu;
}

/**
 * Probes one local file with ffprobe (sandboxed, read-only bind of that file only) and classifies it:
 * `media` when a whitelisted demuxer found an audio or video stream; otherwise `failed` (with a short,
 * path-free message) if the file claims to be media, else `other`. A timeout is `failed`.
 * Throws only if ffprobe cannot be spawned at all.
 */
export async function probeFile(path: string, opts: ProbeOptions): Promise<ProbeOutcome> {
  const abs = resolve(path);
  const forced = imageDemuxerFor(await readHead(abs));
  const argv = opts.sandbox.wrap(buildProbeArgv(abs, "file", forced, opts.sandbox.tools.ffprobe), {
    readOnly: [abs],
    writable: [],
  });
  return classify(argv, [abs], opts, () => claimsToBeMedia(abs, opts.fileName));
}

/**
 * Probes an object in our own remote storage through a short-lived presigned URL, so ffprobe reads
 * only the ranges it needs (header and index) instead of the whole object. The sandbox gets network
 * access for this, but ffprobe may only speak http(s) to that one URL (`-protocol_whitelist`) and the
 * same demuxer whitelist applies (no playlists or references to other URLs). `head` are the object's
 * first bytes, for the claims-to-be-media check.
 */
export async function probeUrl(
  url: string,
  opts: ProbeOptions & { head: () => Promise<Uint8Array> },
): Promise<ProbeOutcome> {
  const head = await opts.head();
  const argv = opts.sandbox.wrap(
    buildProbeArgv(url, "https,http,tls,tcp", imageDemuxerFor(head), opts.sandbox.tools.ffprobe),
    {
      readOnly: [],
      writable: [],
      network: true,
    },
  );
  return classify(argv, [url], opts, async () => {
    const ext = extensionOf(opts.fileName);
    return (ext !== null && MEDIA_EXTENSIONS.has(ext)) || hasMediaMagic(head);
  });
}

/**
 * How long a probe may run under SCHED_IDLE. Where media processes do not get a scheduling group of their
 * own (a container's or a service's cgroup, no autogroup), an idle-policy probe gets almost no CPU next to
 * a running encode; past this it is restarted at plain `MEDIA_NICE`, so it is never delayed by more.
 */
export const IDLE_PROBE_GRACE_MS = 5000;
/** The least time left of the grace for which starting under SCHED_IDLE is still worth it. */
const MIN_IDLE_RUN_MS = 500;

async function classify(
  argv: string[],
  secrets: string[],
  opts: Omit<ProbeOptions, "sandbox">,
  claims: () => Promise<boolean>,
): Promise<ProbeOutcome> {
  const nice = opts.nice ? { nice: opts.nice } : {};
  const grace = opts.idleGraceMs ?? IDLE_PROBE_GRACE_MS;
  let idle = opts.idle === true && opts.timeoutMs > grace;
  let waited = 0;
  /** The outcome, with the time spent waiting for spare CPU when there was any (for the log). */
  const done = (o: ProbeOutcome): ProbeOutcome => (waited > 0 ? { ...o, waitedMs: Math.round(waited) } : o);
  if (idle && opts.spareCpu && grace > MIN_IDLE_RUN_MS) {
    // The wait comes out of the idle grace, so a probe is never delayed by more than the grace in all.
    waited = await opts.spareCpu.wait(grace - MIN_IDLE_RUN_MS);
    if (waited >= grace - MIN_IDLE_RUN_MS) idle = false; // never spare: run at MEDIA_NICE right away
  }
  let res = await runProcess({
    argv,
    timeoutMs: idle ? grace - waited : opts.timeoutMs - waited,
    ...nice,
    idle,
  });
  if (idle && res.timedOut) res = await runProcess({ argv, timeoutMs: opts.timeoutMs - grace, ...nice });
  if (res.timedOut) return done({ kind: "failed", message: "ffprobe timed out" });

  let reason = "no audio or video stream found";
  if (res.exitCode === 0 && !res.stdoutTruncated) {
    const parsed = safeParse(res.stdout);
    const info = mapProbe(parsed, { fileName: opts.fileName });
    const formatName = str(obj(obj(parsed).format).format_name) ?? "";
    // Belt and braces: ffprobe already enforces the whitelist, as av_match_list does (any name matches).
    const allowed = formatName.split(",").some((n) => WHITELISTED.has(n));
    if (allowed && (info.file_type === "video" || info.file_type === "audio" || info.file_type === "image")) {
      return done({ kind: "media", info });
    }
  } else {
    reason = probeErrorMessage(res.stderrTail, secrets, opts.fileName);
  }
  if (await claims()) return done({ kind: "failed", message: reason });
  return done({ kind: "other", info: otherInfo(opts.fileName) });
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * True when `path` is a plain subtitle file (srt, ass, webvtt) by ffprobe's own detection. The
 * `subtitles` filter opens its file without any input policy, so a playlist disguised as `.srt` would
 * make it read other files; commands check every subtitle input with this before ffmpeg runs.
 */
export async function isSubtitleFile(
  path: string,
  opts: { sandbox: Sandbox; readOnly: string[]; timeoutMs: number; formats: string },
): Promise<boolean> {
  const argv = [opts.sandbox.tools.ffprobe, "-v", "error", "-protocol_whitelist", "file"];
  argv.push("-format_whitelist", opts.formats);
  argv.push("-show_entries", "format=format_name", "-of", "csv=p=0", path);
  const res = await runProcess({
    argv: opts.sandbox.wrap(argv, { readOnly: opts.readOnly, writable: [] }),
    timeoutMs: opts.timeoutMs,
  });
  return res.exitCode === 0 && opts.formats.split(",").includes(res.stdout.trim());
}
