import type { PresetRow } from "../../db/schema";
import type { Preset } from "./model";

/** A new user preset id: `prs_` + 24 hex characters (96 random bits); hex never spells `prs_sys_`. */
export const newPresetId = (): string =>
  `prs_${Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex")}`;

/** Maps a user preset row to PresetResponse (spec §2.4), every key present. */
export const presentPreset = (r: PresetRow): Preset => ({
  preset_id: r.id,
  name: r.name,
  description: r.description,
  category: r.category,
  is_system: false,
  command_type: r.commandType,
  ffmpeg_command: r.ffmpegCommand,
  ffmpeg_commands: r.ffmpegCommands,
  input_file_keys: r.inputFileKeys,
  output_file_definitions: r.outputFileDefinitions,
  metadata: r.metadata,
  created_at: r.createdAt.toISOString(),
  updated_at: r.updatedAt.toISOString(),
});
