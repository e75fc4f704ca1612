import type { Preset } from "./model";
import { validateDefinition } from "./validate";

/** Fixed timestamps: system presets ship with the code, they are not rows. */
const SHIPPED_AT = "2025-01-01T00:00:00.000Z";

type SystemPresetSpec = Pick<
  Preset,
  "name" | "description" | "category" | "ffmpeg_command" | "input_file_keys" | "output_file_definitions"
> & { id: string };

/* Every command below is an FFMPEG_COMMAND and passes the same command checks as user input. */
const SPECS: SystemPresetSpec[] = [
  {
    id: "prs_sys_h264_mp4",
    name: "Transcode to H.264 MP4",
    description: "H.264 video (CRF 23) and AAC audio at 128 kbit/s in an MP4 with the index at the front.",
    category: "video-encoding",
    // -movflags +faststart: moov atom first, so players can start before the whole file arrives.
    ffmpeg_command:
      "-i {{in_video}} -c:v libx264 -preset veryfast -crf 23 -c:a aac -b:a 128k -movflags +faststart {{out_video}}",
    input_file_keys: ["in_video"],
    output_file_definitions: { out_video: "output.mp4" },
  },
  {
    id: "prs_sys_720p_mp4",
    name: "Downscale to 720p MP4",
    description:
      "Scales the video to 720 pixels high (never upscales: smaller inputs keep their height), width " +
      "following the aspect ratio; H.264 + AAC MP4.",
    category: "video-encoding",
    // scale=-2:min(720,ih): height at most 720, width an even number with the same aspect ratio.
    ffmpeg_command:
      "-i {{in_video}} -vf \"scale=-2:'min(720,ih)'\" -c:v libx264 -preset veryfast -crf 23 -c:a aac -b:a 128k " +
      "-movflags +faststart {{out_video}}",
    input_file_keys: ["in_video"],
    output_file_definitions: { out_video: "output_720p.mp4" },
  },
  {
    id: "prs_sys_extract_mp3",
    name: "Extract audio to MP3",
    description: "Drops the video and encodes the audio as VBR MP3 (LAME quality 2, about 190 kbit/s).",
    category: "audio",
    ffmpeg_command: "-i {{in_media}} -vn -c:a libmp3lame -q:a 2 {{out_audio}}",
    input_file_keys: ["in_media"],
    output_file_definitions: { out_audio: "audio.mp3" },
  },
  {
    id: "prs_sys_thumbnail_jpg",
    name: "JPEG thumbnail at 1 second",
    description: "One full-size JPEG frame taken 1 s into the video (the input must be longer than 1 s).",
    category: "image",
    // -ss before -i: seek in the input (fast); -q:v 2: high JPEG quality.
    ffmpeg_command: "-ss 1 -i {{in_video}} -frames:v 1 -q:v 2 {{out_image}}",
    input_file_keys: ["in_video"],
    output_file_definitions: { out_image: "thumbnail.jpg" },
  },
  {
    id: "prs_sys_gif_preview",
    name: "Animated GIF preview",
    description:
      "The first 3 seconds as a looping GIF, 320 pixels wide at 10 fps, with an optimised palette.",
    category: "image",
    // Two passes in one graph: palettegen builds a 256-colour palette from the clip, paletteuse applies it.
    ffmpeg_command:
      "-t 3 -i {{in_video}} -filter_complex " +
      '"fps=10,scale=320:-1:flags=lanczos,split[a][b];[a]palettegen[p];[b][p]paletteuse" -loop 0 {{out_gif}}',
    input_file_keys: ["in_video"],
    output_file_definitions: { out_gif: "preview.gif" },
  },
  {
    id: "prs_sys_loudnorm_aac",
    name: "Normalise loudness (EBU R128)",
    description:
      "Single-pass loudnorm to -16 LUFS integrated, -1.5 dBTP true peak; audio only, AAC 192 kbit/s, 48 kHz.",
    category: "audio",
    // loudnorm resamples to 192 kHz internally; -ar 48000 brings the output back to a normal rate.
    ffmpeg_command:
      "-i {{in_audio}} -vn -af loudnorm=I=-16:TP=-1.5:LRA=11 -ar 48000 -c:a aac -b:a 192k {{out_audio}}",
    input_file_keys: ["in_audio"],
    output_file_definitions: { out_audio: "normalized.m4a" },
  },
];

/**
 * The built-in presets, in the order every preset list starts with. Visible to every account and
 * read-only (update and delete answer 403). Checked against the command validator when this module
 * loads, so a broken built-in stops the server at start rather than failing on execute.
 */
export const SYSTEM_PRESETS: readonly Preset[] = Object.freeze(
  SPECS.map(({ id, ...spec }) => {
    const preset: Preset = {
      preset_id: id,
      ...spec,
      is_system: true,
      command_type: "FFMPEG_COMMAND",
      ffmpeg_commands: null,
      metadata: null,
      created_at: SHIPPED_AT,
      updated_at: SHIPPED_AT,
    };
    validateDefinition(preset);
    return Object.freeze(preset);
  }),
);

const BY_ID = new Map(SYSTEM_PRESETS.map((p) => [p.preset_id, p]));

/** The system preset with this id, or undefined. */
export const systemPreset = (id: string): Preset | undefined => BY_ID.get(id);
