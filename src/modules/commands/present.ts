import { inArray } from "drizzle-orm";
import type { Db } from "../../db/client";
import type { CommandRow, FileRow } from "../../db/schema";
import type { StorageDriver } from "../../storage/driver";
import { presentFile } from "../files/present";
import { type Command, OUTPUT_FILE_KEYS } from "./model";

type OutputMeta = Command["output_files"][string];

/** Maps command rows (with their output files, fetched in one query) to CommandPollResponse. */
export async function presentCommands(
  db: Db,
  storage: StorageDriver,
  rows: CommandRow[],
): Promise<Command[]> {
  const ids = rows.map((r) => r.id);
  const { files } = db.t;
  const outputs = ids.length ? await db.select().from(files).where(inArray(files.commandId, ids)) : [];
  const byCommand = new Map<string, FileRow[]>();
  for (const f of outputs)
    byCommand.set(f.commandId as string, [...(byCommand.get(f.commandId as string) ?? []), f]);
  return Promise.all(rows.map((r) => presentCommand(r, byCommand.get(r.id) ?? [], storage)));
}

async function presentCommand(row: CommandRow, outputs: FileRow[], storage: StorageDriver): Promise<Command> {
  const output_files: Record<string, OutputMeta> = {};
  for (const f of outputs) {
    const p = await presentFile(f, storage);
    output_files[f.outputAlias as string] = Object.fromEntries(
      OUTPUT_FILE_KEYS.map((k) => [k, p[k]]),
    ) as OutputMeta;
  }
  return {
    command_id: row.id,
    status: row.status,
    command_type: row.commandType,
    total_processing_seconds: row.totalProcessingSeconds,
    ffmpeg_command_run_seconds: row.ffmpegRunSeconds,
    metadata: row.metadata ?? null,
    error_status: row.errorStatus,
    error_message: row.errorMessage,
    output_files,
    original_request: row.originalRequest,
    progress: row.status === "PROCESSING" ? (row.progress ?? null) : null,
    created_at: row.createdAt.toISOString(),
  };
}
