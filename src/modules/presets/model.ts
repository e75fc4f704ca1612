import { t } from "elysia";
import { Metadata } from "../commands/model";

const nullable = <T extends Parameters<typeof t.Union>[0][number]>(s: T, description?: string) =>
  t.Union([s, t.Null()], description ? { description } : {});

/** The three command shapes a preset can hold (spec §2.4). */
export const PresetCommandType = t.Union([
  t.Literal("FFMPEG_COMMAND"),
  t.Literal("CHAINED_COMMAND"),
  t.Literal("MULTIPLE_COMMAND"),
]);
export type PresetCommandType = typeof PresetCommandType.static;

/** PresetResponse (spec §2.4) plus the `category` the hosted API really returns. Every key present. */
export const Preset = t.Object(
  {
    preset_id: t.String({ description: "`prs_` + 24 hex characters; system presets `prs_sys_*`" }),
    name: t.String(),
    description: nullable(t.String()),
    category: nullable(t.String(), "e.g. video-encoding, audio, image"),
    is_system: t.Boolean({ description: "Built in, visible to every account, read-only" }),
    command_type: PresetCommandType,
    ffmpeg_command: nullable(t.String(), "Set for FFMPEG_COMMAND"),
    ffmpeg_commands: nullable(t.Array(t.String()), "Set for CHAINED_COMMAND and MULTIPLE_COMMAND"),
    input_file_keys: t.Array(t.String(), { description: "`in_*` aliases execute must supply, exactly" }),
    output_file_definitions: t.Record(t.String(), t.String(), { description: "`out_*` alias → file name" }),
    metadata: nullable(Metadata),
    created_at: t.String({ format: "date-time" }),
    updated_at: t.String({ format: "date-time" }),
  },
  { description: "A reusable command template" },
);
export type Preset = typeof Preset.static;

/** Fields of create and update (all optional here; create requires some of them). */
const fields = {
  name: t.String({ minLength: 1, maxLength: 200 }),
  description: nullable(t.String({ maxLength: 2000 })),
  category: nullable(t.String({ maxLength: 100 })),
  command_type: PresetCommandType,
  ffmpeg_command: t.String({
    description: "Required for FFMPEG_COMMAND",
    examples: ["-i {{in_video}} -vf scale=640:-2 -c:a copy {{out_video}}"],
  }),
  ffmpeg_commands: t.Array(t.String(), {
    description:
      "Required for CHAINED_COMMAND (steps in one working directory) and MULTIPLE_COMMAND (independent " +
      "commands, each using the aliases it names); at most 10",
  }),
  input_file_keys: t.Array(t.String(), { description: "`in_*` aliases" }),
  output_file_definitions: t.Record(t.String(), t.String(), {
    description: "`out_*` alias → output file name (the extension decides the format)",
  }),
  metadata: nullable(Metadata),
};

export const CreatePresetBody = t.Object({
  name: fields.name,
  description: t.Optional(fields.description),
  category: t.Optional(fields.category),
  command_type: t.Optional(fields.command_type),
  ffmpeg_command: t.Optional(fields.ffmpeg_command),
  ffmpeg_commands: t.Optional(fields.ffmpeg_commands),
  input_file_keys: fields.input_file_keys,
  output_file_definitions: fields.output_file_definitions,
  metadata: t.Optional(fields.metadata),
});
export type CreatePresetBody = typeof CreatePresetBody.static;

/** PUT: any subset of the create fields (at least one); given fields replace, `metadata` wholesale. */
export const UpdatePresetBody = t.Partial(t.Object(fields));
export type UpdatePresetBody = typeof UpdatePresetBody.static;

export const ExecutePresetBody = t.Object({
  input_files: t.Record(t.String(), t.String(), {
    description: "alias → URL; keys must equal the preset's input_file_keys exactly",
  }),
  metadata: t.Optional(Metadata),
  webhook_url: t.Optional(t.String({ description: "Per-command webhook, overrides the account webhook" })),
  max_command_run_seconds: t.Optional(
    t.Integer({ minimum: 1, description: "Hard time limit for FFmpeg (default 300, capped by the server)" }),
  ),
  vcpu_count: t.Optional(t.Number({ description: "Accepted for compatibility; ignored" })),
});
export type ExecutePresetBody = typeof ExecutePresetBody.static;

export const ExecuteResult = t.Object({
  command_id: t.String({ format: "uuid", description: "For MULTIPLE_COMMAND presets: the first command" }),
  command_ids: t.Optional(
    t.Array(t.String({ format: "uuid" }), {
      description: "MULTIPLE_COMMAND presets only: one command per entry, in preset order",
    }),
  ),
});
export type ExecuteResult = typeof ExecuteResult.static;

export const PresetIdParams = t.Object({ presetId: t.String() });
export const ListPresetsQuery = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 50 })),
  offset: t.Optional(t.Integer({ minimum: 0, default: 0 })),
});
export const PresetList = t.Object({ presets: t.Array(Preset), limit: t.Integer(), offset: t.Integer() });
export const DeletePresetResult = t.Object({ deleted: t.Literal(true), preset_id: t.String() });
