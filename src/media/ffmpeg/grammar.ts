/**
 * Value grammars for option values. A grammar returns null when the value is acceptable, else a short
 * description of what was expected. Grammars are deliberately narrow: a value that passes cannot name a
 * file, a URL or a device (except free text such as metadata, which ffmpeg never opens).
 */
import { INPUT_FORMATS, OUTPUT_FORMATS } from "./policy";

export type Role = "global" | "input" | "output";
export type Grammar = (value: string, role: Role) => string | null;

const re =
  (pattern: RegExp, what: string): Grammar =>
  (v) =>
    pattern.test(v) ? null : `expected ${what}`;

export const TIME = re(
  /^-?(?:\d{1,9}(?:\.\d{1,9})?(?:s|ms|us)?|(?:\d{1,4}:)?\d{1,2}:\d{1,2}(?:\.\d{1,9})?)$/,
  "a time such as 10, 1.5, 500ms or 00:01:02.5",
);
export const INT = re(/^-?\d{1,9}$/, "an integer");
export const UINT = re(/^\d{1,9}$/, "a non-negative integer");
export const NUMBER = re(/^-?\d{1,9}(?:\.\d{1,9})?$/, "a number");
export const NAME = re(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "a name such as libx264 or yuv420p");
export const BITRATE = re(/^\d{1,9}(?:\.\d{1,6})?[kKmMgG]?$/, "a rate such as 128k or 2.5M");
export const FRAME_RATE = re(
  /^(?:\d{1,6}(?:\.\d{1,6})?(?:\/\d{1,6}(?:\.\d{1,6})?)?|ntsc|pal|qntsc|qpal|sntsc|spal|film|ntsc-film)$/,
  "a frame rate such as 30, 29.97 or 30000/1001",
);
export const SIZE = re(/^(?:\d{1,5}x\d{1,5}|[a-z][a-z0-9]{1,9})$/, "a size such as 1280x720 or hd720");
export const ASPECT = re(/^\d{1,6}(?:\.\d{1,6})?(?:[:/]\d{1,6}(?:\.\d{1,6})?)?$/, "an aspect such as 16:9");
export const MAP = re(
  /^(?:-?\d{1,3}(?::[vVasdt])?(?::\d{1,3})?\??|\[[A-Za-z0-9_:.-]{1,64}\])$/,
  "a stream such as 0:v:0, 1:a?, -0:s or [label]",
);
export const MAP_METADATA = re(/^-?\d{1,3}(?::[sgcp](?::[vVasdt]|:\d{1,3}){0,2})?$/, "e.g. 0 or -1 or 0:s:0");
export const FLAGS = re(/^[+-]?[a-z0-9_]{1,32}(?:[+-][a-z0-9_]{1,32}){0,15}$/, "flags such as +faststart");
export const DISPOSITION = re(/^(?:0|[+-]?[a-z_]{1,32}(?:[+-][a-z_]{1,32}){0,7})$/, "e.g. default or 0");
export const TAG = re(/^[A-Za-z0-9]{4}$/, "a four-character tag such as hvc1");
export const BSF = re(/^[a-z0-9_]{1,32}(?:,[a-z0-9_]{1,32}){0,7}$/, "bitstream filter names without options");
export const TIMECODE = re(/^\d{2}:\d{2}:\d{2}[:;.]\d{2}$/, "a timecode such as 00:00:00:00");
export const THREADS = re(/^(?:\d|1[0-6])$/, "a thread count from 0 to 16");
export const STREAM_LOOP = re(/^(?:-1|\d{1,4})$/, "-1 or a loop count");
export const FORCE_KEY_FRAMES = re(
  /^(?:expr:[A-Za-z0-9_.,()*+/<>=!-]{1,200}|source|[0-9:.,]{1,200})$/,
  "times or expr:…",
);
export const LOGLEVEL = re(
  /^(?:(?:[+-]?(?:repeat|level))+\+?)?(?:quiet|panic|fatal|error|warning|info|verbose|debug|trace|-?\d{1,2})$/,
  "a log level such as error or warning",
);
export const STRICT = re(
  /^(?:-?[0-2]|very|strict|normal|unofficial|experimental)$/,
  "e.g. experimental or -2",
);
export const SIZE_BYTES = re(/^\d{1,15}[kKmMgG]?$/, "a size in bytes");

/** `-metadata key=value`: a plain key; the value is free text (written into the container, never opened). */
export const METADATA: Grammar = (v) =>
  /^[A-Za-z0-9_.:-]{1,64}=/.test(v) ? null : "expected key=value with a key of [A-Za-z0-9_.:-]";

/** `-f`: a whitelisted demuxer before `-i`, an allowed muxer before an output. */
export const FORMAT: Grammar = (v, role) => {
  if (role === "input") {
    return INPUT_FORMATS.has(v) ? null : "a whitelisted input format (not lavfi, concat, hls, data, …)";
  }
  return OUTPUT_FORMATS.has(v) ? null : "an allowed output format (not tee, segment, hls, dash, …)";
};

/** Encoder parameter keys with no file semantics (no stats, qpfile, cqmfile, dump-yuv, csv, zones…). */
const X264_KEYS = new Set(
  (
    "keyint min-keyint scenecut bframes b-adapt b-pyramid ref rc-lookahead aq-mode aq-strength psy-rd " +
    "deblock me subme merange trellis crf qp vbv-maxrate vbv-bufsize nal-hrd force-cfr open-gop weightp " +
    "weightb mixed-refs 8x8dct cabac partitions direct no-fast-pskip fast-pskip colorprim transfer " +
    "colormatrix fullrange level threads lookahead-threads sliced-threads intra-refresh bluray-compat"
  ).split(" "),
);
const X265_KEYS = new Set(
  (
    "keyint min-keyint scenecut bframes b-adapt ref rc-lookahead aq-mode aq-strength psy-rd psy-rdoq crf " +
    "qp vbv-maxrate vbv-bufsize sao no-sao deblock log-level hdr-opt hdr10 hdr10-opt repeat-headers " +
    "colorprim transfer colormatrix range master-display max-cll chromaloc pools frame-threads lossless " +
    "strong-intra-smoothing limit-sao open-gop no-open-gop level-idc high-tier aud hrd wpp pmode pme"
  ).split(" "),
);

const params =
  (keys: ReadonlySet<string>, name: string): Grammar =>
  (v) => {
    for (const pair of v.split(":")) {
      const [key = "", value, extra] = pair.split("=");
      if (!keys.has(key)) return `${name} key "${key}" is not allowed`;
      if (value === undefined || extra !== undefined || !/^[A-Za-z0-9.,()+-]{1,64}$/.test(value)) {
        return `${name} expects key=value pairs with plain values`;
      }
    }
    return null;
  };
export const X264_PARAMS = params(X264_KEYS, "x264-params");
export const X265_PARAMS = params(X265_KEYS, "x265-params");
