/**
 * The filter allow-list. Only filters that neither open files by themselves nor load code are listed;
 * the few that read a file (a subtitle, a font, a LUT) only get one through an input placeholder.
 * Verified against `ffmpeg -h filter=<name>` for ffmpeg 5.1 by tests/unit/ffmpeg-parse.test.ts: every
 * option of these filters that names a file, directory or font is declared in {@link FILE_OPTIONS}.
 */

/** Always refused, with this reason: they open arbitrary files or URLs, load code, or run commands. */
export const FORBIDDEN_FILTERS: Record<string, string> = {
  movie: "it opens any file or URL",
  amovie: "it opens any file or URL",
  sendcmd: "it reads commands from a file",
  asendcmd: "it reads commands from a file",
  zmq: "it listens on the network",
  azmq: "it listens on the network",
  ladspa: "it loads a shared library",
  lv2: "it loads a shared library",
  frei0r: "it loads a shared library",
  frei0r_src: "it loads a shared library",
  metadata: "it writes a file",
  ametadata: "it writes a file",
  signature: "it writes a file",
  vidstabdetect: "it writes a file",
  psnr: "it writes a statistics file",
  ssim: "it writes a statistics file",
};

const NAMES = `
scale scale2ref crop pad fps framerate setpts asetpts settb asettb trim atrim setsar setdar format aformat
null anull copy acopy hflip vflip transpose rotate split asplit concat overlay hstack vstack xstack amix
amerge join pan channelmap channelsplit palettegen paletteuse fade afade xfade acrossfade zoompan volume
loudnorm dynaudnorm silenceremove silencedetect volumedetect showwaves showwavespic showspectrum
showspectrumpic showfreqs showvolume avectorscope ebur128 astats atempo asetrate aresample aecho chorus
flanger aphaser vibrato tremolo highpass lowpass bandpass bandreject equalizer bass treble acompressor
alimiter agate compand sidechaincompress adelay apad areverse reverse loop aloop tpad afftdn anlmdn earwax
stereotools extrastereo crystalizer speechnorm asetnsamples drawtext drawbox drawgrid subtitles ass eq hue
curves colorbalance colorchannelmixer colorlevels colortemperature vibrance exposure monochrome lut lutrgb
lutyuv lut3d haldclut boxblur gblur avgblur unsharp noise deband deblock hqdn3d nlmeans yadif bwdif negate
edgedetect convolution median cropdetect blackdetect blackframe freezedetect scdet select aselect thumbnail
tile untile colorkey chromakey alphamerge alphaextract blend geq vignette colorspace colormatrix setparams
zscale delogo fillborders extractplanes mergeplanes premultiply unpremultiply perspective lenscorrection
chromashift rgbashift huesaturation swaprect framestep decimate mpdecimate minterpolate showinfo ashowinfo
fieldorder setfield interlace tinterlace lagfun smartblur
color testsrc testsrc2 nullsrc smptebars smptehdbars rgbtestsrc sine anullsrc`;

/** Filters a graph may use. */
export const ALLOWED_FILTERS: ReadonlySet<string> = new Set(NAMES.trim().split(/\s+/));

export interface FileOptions {
  /** Positional (shorthand) option order up to the last file option, aliases collapsed. */
  order: string[];
  /** Options (and their aliases) that read a file: the value must be an input placeholder. */
  read: string[];
  /** Options that write files or point at directories: always refused. */
  forbidden: string[];
}

/** Per-filter file options (ffmpeg 5.1 option order, from `ffmpeg -h filter=<name>`). */
export const FILE_OPTIONS: Record<string, FileOptions> = {
  drawtext: { order: ["fontfile", "text", "textfile"], read: ["fontfile", "textfile"], forbidden: [] },
  subtitles: {
    order: ["filename", "original_size", "fontsdir"],
    read: ["filename", "f"],
    forbidden: ["fontsdir"],
  },
  ass: { order: ["filename", "original_size", "fontsdir"], read: ["filename", "f"], forbidden: ["fontsdir"] },
  lut3d: { order: ["file"], read: ["file"], forbidden: [] },
  curves: {
    order: ["preset", "master", "red", "green", "blue", "all", "psfile", "plot"],
    read: ["psfile"],
    forbidden: ["plot"],
  },
  paletteuse: {
    order: ["dither", "bayer_scale", "diff_mode", "new", "alpha_threshold", "use_alpha", "debug_kdtree"],
    read: [],
    forbidden: ["debug_kdtree"],
  },
};

/** Option names that mean "a path" in any filter: refused unless declared readable for that filter. */
export const FILE_KEYS: ReadonlySet<string> = new Set(
  (
    "file filename textfile fontfile fontsdir psfile plot debug_kdtree stats_file stats dumpfile logfile " +
    "path vstats result input model sofa source program"
  ).split(" "),
);

/** drawtext `font` is a fontconfig pattern: a family name only, so no `:file=` pattern tricks. */
export const FONT_NAME = /^[A-Za-z0-9 _.-]{1,64}$/;
