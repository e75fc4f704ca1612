/**
 * The option allow-list: every option a user may write, where it may appear and what its value must
 * look like. Anything not listed is refused, so new ffmpeg options that read or write files (the
 * `-attach`/`-progress`/`-report` family) are closed by default. Positions follow ffmpeg: global
 * options apply anywhere, per-file options attach to the next `-i` (input) or output name.
 */
import { CommandError } from "./errors";
import * as G from "./grammar";

/** `global`, before an `-i`, before an output, or either of the last two. */
export type Scope = "global" | "input" | "output" | "io";

export interface OptionSpec {
  scope: Scope;
  /** Value grammar; absent for flags; "graph" for filtergraphs (parsed and checked separately). */
  value?: G.Grammar | "graph";
  /** Accepts a `:stream_specifier` suffix, e.g. `-c:v`, `-b:a:0`, `-metadata:s:a:0`. */
  spec?: boolean;
  /** Accepted but not passed on: the server sets it itself (`-y`). */
  drop?: boolean;
}

const flag = (scope: Scope): OptionSpec => ({ scope });
const val = (scope: Scope, value: G.Grammar | "graph", spec = false): OptionSpec => ({ scope, value, spec });
const FPS_MODE = G.NAME;

const TABLE: Record<string, OptionSpec> = {
  // global
  y: { scope: "global", drop: true },
  hide_banner: flag("global"),
  nostdin: flag("global"),
  stats: flag("global"),
  nostats: flag("global"),
  copyts: flag("global"),
  start_at_zero: flag("global"),
  loglevel: val("global", G.LOGLEVEL),
  v: val("global", G.LOGLEVEL),
  filter_complex: val("global", "graph"),
  lavfi: val("global", "graph"),
  filter_threads: val("global", G.THREADS),
  filter_complex_threads: val("global", G.THREADS),
  vsync: val("global", FPS_MODE),
  // before an input
  sseof: val("input", G.TIME),
  itsoffset: val("input", G.TIME),
  itsscale: val("input", G.NUMBER, true),
  stream_loop: val("input", G.STREAM_LOOP),
  framerate: val("input", G.FRAME_RATE),
  re: flag("input"),
  accurate_seek: flag("input"),
  noaccurate_seek: flag("input"),
  autorotate: flag("input"),
  noautorotate: flag("input"),
  thread_queue_size: val("input", G.UINT),
  analyzeduration: val("input", G.UINT),
  probesize: val("input", G.UINT),
  guess_layout_max: val("input", G.INT),
  // before an input or an output
  ss: val("io", G.TIME),
  t: val("io", G.TIME),
  to: val("io", G.TIME),
  f: val("io", G.FORMAT),
  c: val("io", G.NAME, true),
  codec: val("io", G.NAME, true),
  vcodec: val("io", G.NAME),
  acodec: val("io", G.NAME),
  scodec: val("io", G.NAME),
  an: flag("io"),
  vn: flag("io"),
  sn: flag("io"),
  dn: flag("io"),
  r: val("io", G.FRAME_RATE, true),
  s: val("io", G.SIZE, true),
  ar: val("io", G.UINT, true),
  ac: val("io", G.UINT, true),
  channel_layout: val("io", G.NAME, true),
  threads: val("io", G.THREADS),
  fflags: val("io", G.FLAGS),
  loop: val("io", G.UINT),
  strict: val("io", G.STRICT, true),
  // before an output: filters, mapping, encoding, muxing
  vf: val("output", "graph"),
  af: val("output", "graph"),
  filter: val("output", "graph", true),
  map: val("output", G.MAP),
  map_metadata: val("output", G.MAP_METADATA, true),
  map_chapters: val("output", G.INT),
  metadata: val("output", G.METADATA, true),
  disposition: val("output", G.DISPOSITION, true),
  shortest: flag("output"),
  fs: val("output", G.SIZE_BYTES),
  frames: val("output", G.UINT, true),
  vframes: val("output", G.UINT),
  aframes: val("output", G.UINT),
  b: val("output", G.BITRATE, true),
  ab: val("output", G.BITRATE),
  vb: val("output", G.BITRATE),
  maxrate: val("output", G.BITRATE, true),
  minrate: val("output", G.BITRATE, true),
  bufsize: val("output", G.BITRATE, true),
  crf: val("output", G.NUMBER, true),
  qp: val("output", G.INT, true),
  qmin: val("output", G.INT, true),
  qmax: val("output", G.INT, true),
  q: val("output", G.NUMBER, true),
  qscale: val("output", G.NUMBER, true),
  preset: val("output", G.NAME, true),
  tune: val("output", G.NAME, true),
  profile: val("output", G.NAME, true),
  level: val("output", G.NAME, true),
  pix_fmt: val("output", G.NAME, true),
  sample_fmt: val("output", G.NAME, true),
  g: val("output", G.UINT, true),
  keyint_min: val("output", G.UINT, true),
  sc_threshold: val("output", G.INT, true),
  bf: val("output", G.INT, true),
  refs: val("output", G.UINT, true),
  flags: val("output", G.FLAGS, true),
  "x264-params": val("output", G.X264_PARAMS, true),
  "x265-params": val("output", G.X265_PARAMS, true),
  deadline: val("output", G.NAME, true),
  "cpu-used": val("output", G.INT, true),
  "row-mt": val("output", G.INT, true),
  "tile-columns": val("output", G.INT, true),
  "tile-rows": val("output", G.INT, true),
  "lag-in-frames": val("output", G.INT, true),
  "auto-alt-ref": val("output", G.INT, true),
  speed: val("output", G.INT, true),
  quality: val("output", G.NAME, true),
  lossless: val("output", G.INT, true),
  compression_level: val("output", G.INT, true),
  vbr: val("output", G.NAME, true),
  application: val("output", G.NAME, true),
  cutoff: val("output", G.UINT, true),
  frame_duration: val("output", G.NUMBER, true),
  aac_coder: val("output", G.NAME, true),
  tag: val("output", G.TAG, true),
  vtag: val("output", G.TAG),
  atag: val("output", G.TAG),
  aspect: val("output", G.ASPECT, true),
  fps_mode: val("output", FPS_MODE, true),
  force_key_frames: val("output", G.FORCE_KEY_FRAMES, true),
  bsf: val("output", G.BSF, true),
  color_primaries: val("output", G.NAME, true),
  color_trc: val("output", G.NAME, true),
  colorspace: val("output", G.NAME, true),
  color_range: val("output", G.NAME, true),
  movflags: val("output", G.FLAGS),
  brand: val("output", G.NAME),
  avoid_negative_ts: val("output", G.NAME),
  max_muxing_queue_size: val("output", G.UINT),
  muxdelay: val("output", G.NUMBER),
  muxpreload: val("output", G.NUMBER),
  timecode: val("output", G.TIMECODE),
  update: val("output", G.UINT),
  final_delay: val("output", G.INT),
  plays: val("output", G.UINT),
  id3v2_version: val("output", G.UINT),
  write_xing: val("output", G.UINT),
};

/** Why some well-known options are refused (the rest get a generic "not allowed"). */
const DENIED: Record<string, string> = {
  attach: "it copies a server file into the output",
  dump_attachment: "it writes files chosen by the command",
  filter_script: "it reads a filtergraph from a server file",
  filter_complex_script: "it reads a filtergraph from a server file",
  progress: "it writes progress to a file or URL",
  report: "it writes a log file on the server",
  vstats: "it writes a statistics file on the server",
  vstats_file: "it writes a statistics file on the server",
  passlogfile: "it writes pass logs on the server",
  pass: "two-pass logs are written outside the job",
  sdp_file: "it writes a file on the server",
  protocol_whitelist: "the server sets its own input policy",
  protocol_blacklist: "the server sets its own input policy",
  format_whitelist: "the server sets its own input policy",
  codec_whitelist: "the server sets its own input policy",
  enable_drefs: "the server sets its own input policy",
  safe: "the concat demuxer is not allowed",
  x264opts: "use -x264-params with allowed keys",
  i: "-i must be followed by one input placeholder",
  init_hw_device: "hardware devices are not available",
  filter_hw_device: "hardware devices are not available",
  hwaccel: "hardware decoding is not available",
};

const STREAM_SPEC = /^(?:[vVasdt]|\d{1,3}|[sgcp])(?::(?:[vVasdt]|\d{1,3})){0,3}$/;

export interface ParsedOption {
  /** The option name without dash and stream specifier, e.g. `c` for `-c:v`. */
  name: string;
  spec: OptionSpec;
}

/** Looks up an option word (`-c:v`, `-vf`, …) in the allow-list. Throws CommandError when refused. */
export function lookupOption(word: string): ParsedOption {
  if (word.startsWith("-/")) {
    throw new CommandError(`Option "${word}" is not allowed: "-/" loads an option value from a file`, word);
  }
  const body = word.slice(1);
  const colon = body.indexOf(":");
  const name = colon < 0 ? body : body.slice(0, colon);
  const streamSpec = colon < 0 ? null : body.slice(colon + 1);
  const spec = Object.hasOwn(TABLE, name) ? TABLE[name] : undefined;
  if (spec === undefined) {
    const why = Object.hasOwn(DENIED, name) ? `: ${DENIED[name]}` : " (not on the option allow-list)";
    throw new CommandError(`Option "${word}" is not allowed${why}`, word);
  }
  if (streamSpec !== null && (!spec.spec || !STREAM_SPEC.test(streamSpec))) {
    throw new CommandError(`Option "${word}" does not take this stream specifier`, word);
  }
  return { name, spec };
}
