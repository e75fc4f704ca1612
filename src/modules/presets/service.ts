import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import type { PresetRow } from "../../db/schema";
import { AppError, notFound, validationError } from "../../errors";
import type { CommandsService } from "../commands/service";
import type { CreatePresetBody, ExecutePresetBody, ExecuteResult, Preset, UpdatePresetBody } from "./model";
import { newPresetId, presentPreset } from "./present";
import { SYSTEM_PRESETS, systemPreset } from "./system";
import {
  checkInputKeys,
  mergeMetadata,
  multipleEntries,
  type PresetDefinition,
  validateDefinition,
} from "./validate";

export interface PresetsDeps {
  db: Db;
  /** Executions are ordinary command submissions: same checks, same queue, same per-account cap. */
  commands: Pick<CommandsService, "runSingle" | "runChained" | "runMultiple">;
  now?: () => number;
}

const pick = (from: Record<string, string>, keys: string[]) =>
  Object.fromEntries(keys.map((k) => [k, from[k] as string]));

/**
 * Presets: user presets (rows, private to their account) and the system presets in code (visible to
 * all, read-only). Lists put the system presets first, in their fixed order, then the account's own,
 * newest first; `limit`/`offset` page through that one sequence. No HTTP here.
 */
export function createPresetsService({ db, commands, now = Date.now }: PresetsDeps) {
  const { presets } = db.t;
  const ownRow = async (accountId: string, id: string): Promise<PresetRow | undefined> =>
    (
      await db
        .select()
        .from(presets)
        .where(and(eq(presets.id, id), eq(presets.accountId, accountId)))
    )[0];

  /** Own or system preset; another account's is "not found" like a missing one. */
  async function find(accountId: string, id: string): Promise<Preset> {
    const sys = systemPreset(id);
    if (sys) return structuredClone(sys);
    const row = await ownRow(accountId, id);
    if (!row) throw notFound("Preset");
    return presentPreset(row);
  }

  /** A preset the caller may change: system presets are 403, others' and missing ones 404. */
  async function writable(accountId: string, id: string): Promise<PresetRow> {
    if (systemPreset(id)) throw new AppError("FORBIDDEN", "system presets are read-only");
    const row = await ownRow(accountId, id);
    if (!row) throw notFound("Preset");
    return row;
  }

  return {
    async create(accountId: string, body: CreatePresetBody): Promise<Preset> {
      const def: PresetDefinition = {
        command_type: body.command_type ?? "FFMPEG_COMMAND",
        ffmpeg_command: body.ffmpeg_command ?? null,
        ffmpeg_commands: body.ffmpeg_commands ?? null,
        input_file_keys: body.input_file_keys,
        output_file_definitions: body.output_file_definitions,
        metadata: body.metadata ?? null,
      };
      validateDefinition(def);
      const t = new Date(now());
      const [row] = await db
        .insert(presets)
        .values({
          id: newPresetId(),
          accountId,
          name: body.name,
          description: body.description ?? null,
          category: body.category ?? null,
          commandType: def.command_type,
          ffmpegCommand: def.ffmpeg_command,
          ffmpegCommands: def.ffmpeg_commands,
          inputFileKeys: def.input_file_keys,
          outputFileDefinitions: def.output_file_definitions,
          metadata: def.metadata,
          createdAt: t,
          updatedAt: t,
        })
        .returning();
      if (!row) throw new Error("insert returned no row");
      return presentPreset(row);
    },

    async list(accountId: string, limit: number, offset: number): Promise<Preset[]> {
      const sys = SYSTEM_PRESETS.slice(offset, offset + limit).map((p) => structuredClone(p));
      const room = limit - sys.length;
      if (room === 0) return sys;
      const rows = await db
        .select()
        .from(presets)
        .where(eq(presets.accountId, accountId))
        .orderBy(desc(presets.createdAt), desc(sql`rowid`))
        .limit(room)
        .offset(Math.max(0, offset - SYSTEM_PRESETS.length));
      return [...sys, ...rows.map(presentPreset)];
    },

    get: find,

    /**
     * PUT: given fields replace the stored ones (`metadata` wholesale, `null` clears it), then the
     * whole resulting preset is validated again. Switching `command_type` drops the command field
     * of the old type; a command field given for the wrong type is refused.
     */
    async update(accountId: string, id: string, body: UpdatePresetBody): Promise<Preset> {
      const row = await writable(accountId, id);
      if (Object.keys(body).length === 0)
        throw validationError(["body"], "give at least one field to change");
      const type = body.command_type ?? row.commandType;
      const single = type === "FFMPEG_COMMAND";
      const def: PresetDefinition = {
        command_type: type,
        ffmpeg_command: body.ffmpeg_command ?? (single ? row.ffmpegCommand : null),
        ffmpeg_commands: body.ffmpeg_commands ?? (single ? null : row.ffmpegCommands),
        input_file_keys: body.input_file_keys ?? row.inputFileKeys,
        output_file_definitions: body.output_file_definitions ?? row.outputFileDefinitions,
        metadata: "metadata" in body ? (body.metadata ?? null) : row.metadata,
      };
      validateDefinition(def);
      const [updated] = await db
        .update(presets)
        .set({
          name: body.name ?? row.name,
          description: "description" in body ? (body.description ?? null) : row.description,
          category: "category" in body ? (body.category ?? null) : row.category,
          commandType: def.command_type,
          ffmpegCommand: def.ffmpeg_command,
          ffmpegCommands: def.ffmpeg_commands,
          inputFileKeys: def.input_file_keys,
          outputFileDefinitions: def.output_file_definitions,
          metadata: def.metadata,
          updatedAt: new Date(now()),
        })
        .where(and(eq(presets.id, id), eq(presets.accountId, accountId)))
        .returning();
      if (!updated) throw notFound("Preset");
      return presentPreset(updated);
    },

    async delete(accountId: string, id: string): Promise<{ deleted: true; preset_id: string }> {
      await writable(accountId, id);
      const gone = await db
        .delete(presets)
        .where(and(eq(presets.id, id), eq(presets.accountId, accountId)))
        .returning({ id: presets.id });
      if (!gone.length) throw notFound("Preset");
      return { deleted: true, preset_id: id };
    },

    /**
     * Submits the preset as a command (spec §7.6): exact input keys (else 422), merged metadata, the
     * preset's outputs and type. A MULTIPLE_COMMAND preset becomes one command per entry, each given
     * only the aliases it names; it answers the first id as `command_id` and all in `command_ids`.
     */
    async execute(accountId: string, id: string, body: ExecutePresetBody): Promise<ExecuteResult> {
      const preset = await find(accountId, id);
      checkInputKeys(preset.input_file_keys, body.input_files);
      const common = {
        metadata: mergeMetadata(preset.metadata, body.metadata),
        webhook_url: body.webhook_url,
        max_command_run_seconds: body.max_command_run_seconds,
      };
      const io = { input_files: body.input_files, output_files: preset.output_file_definitions };
      if (preset.command_type === "FFMPEG_COMMAND")
        return commands.runSingle(accountId, {
          ...io,
          ...common,
          ffmpeg_command: preset.ffmpeg_command ?? "",
        });
      if (preset.command_type === "CHAINED_COMMAND")
        return commands.runChained(accountId, {
          ...io,
          ...common,
          ffmpeg_commands: preset.ffmpeg_commands ?? [],
        });
      const entries = multipleEntries(preset).map((e) => ({
        input_files: pick(body.input_files, e.inputs),
        output_files: pick(preset.output_file_definitions, e.outputs),
        ffmpeg_command: e.ffmpeg_command,
      }));
      const { command_ids } = await commands.runMultiple(accountId, { commands: entries, ...common });
      return { command_id: command_ids[0] as string, command_ids };
    },
  };
}

export type PresetsService = ReturnType<typeof createPresetsService>;
