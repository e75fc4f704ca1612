import { and, count, desc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type CommandType, commands, files } from "../../db/schema";
import { AppError, notFound } from "../../errors";
import type { CommandQueue } from "../../jobs/command-queue";
import type { Logger } from "../../log";
import { YTDLP_MISSING_MESSAGE } from "../../media/ytdlp";
import type { UrlPolicy } from "../../net/safe-fetch";
import type { StorageDriver } from "../../storage/driver";
import type { Command } from "./model";
import { presentCommands } from "./present";
import { type CommandInput, MAX_STEPS, validateMetadata, validateSubmission } from "./validate";
import { validateYtdlp, type YtdlpBody, ytdlpOriginal } from "./ytdlp";

export interface CommandsDeps {
  db: Db;
  storage: StorageDriver;
  log: Logger;
  queue: CommandQueue;
  policy: UrlPolicy;
  /** Whether a URL points at our own storage (exempt from the outbound URL policy). */
  isOwnUrl: (url: string) => boolean;
  defaultRunSeconds: number;
  maxRunSeconds: number;
  maxQueuedPerAccount: number;
  /** Whether yt-dlp was found at start; without it the yt-dlp endpoints answer 501. */
  ytdlpAvailable: boolean;
  now?: () => number;
}

type Common = {
  metadata?: CommandInput["metadata"];
  webhook_url?: string | undefined;
  max_command_run_seconds?: number | undefined;
};
export type SingleBody = CommandInput & Common & { ffmpeg_command: string };
export type ChainedBody = CommandInput & Common & { ffmpeg_commands: string[] };
export type MultipleBody = Common & { commands: SingleBody[] };

/** Commands: submit (validated, then queued), read, list, cancel, delete outputs. No HTTP here. */
export function createCommandsService(deps: CommandsDeps) {
  const { db, storage, now = Date.now } = deps;

  const ownRow = (accountId: string, id: string) =>
    db
      .select()
      .from(commands)
      .where(and(eq(commands.id, id), eq(commands.accountId, accountId)))
      .get();

  function checkQueueRoom(accountId: string, adding: number) {
    const open =
      db
        .select({ n: count() })
        .from(commands)
        .where(and(eq(commands.accountId, accountId), inArray(commands.status, ["QUEUED", "PROCESSING"])))
        .get()?.n ?? 0;
    if (open + adding > deps.maxQueuedPerAccount) {
      throw new AppError(
        "RATE_LIMITED",
        `too many unfinished commands (limit ${deps.maxQueuedPerAccount}); retry later`,
        undefined,
        {
          "retry-after": "10",
        },
      );
    }
  }

  function insert(
    accountId: string,
    type: CommandType,
    body: CommandInput & Common,
    steps: string[],
    original: Record<string, unknown>,
  ) {
    const id = crypto.randomUUID();
    const t = new Date(now());
    const seconds = Math.min(body.max_command_run_seconds ?? deps.defaultRunSeconds, deps.maxRunSeconds);
    db.insert(commands)
      .values({
        id,
        accountId,
        commandType: type,
        status: "QUEUED",
        inputFiles: body.input_files,
        outputFiles: body.output_files,
        ffmpegCommands: steps,
        originalRequest: original,
        metadata: body.metadata ?? null,
        webhookUrl: body.webhook_url ?? null,
        maxRunSeconds: seconds,
        createdAt: t,
        updatedAt: t,
      })
      .run();
    return id;
  }

  const original = (b: CommandInput, extra: Record<string, unknown>) => ({
    input_files: b.input_files,
    output_files: b.output_files,
    ...extra,
  });

  return {
    runSingle(accountId: string, body: SingleBody): { command_id: string } {
      validateSubmission(body, [body.ffmpeg_command], false, deps.policy, deps.isOwnUrl);
      checkQueueRoom(accountId, 1);
      const id = insert(
        accountId,
        "FFMPEG_COMMAND",
        body,
        [body.ffmpeg_command],
        original(body, { ffmpeg_command: body.ffmpeg_command }),
      );
      deps.queue.enqueue(id);
      return { command_id: id };
    },

    runChained(accountId: string, body: ChainedBody): { command_id: string } {
      validateSubmission(body, body.ffmpeg_commands, true, deps.policy, deps.isOwnUrl);
      checkQueueRoom(accountId, 1);
      const id = insert(
        accountId,
        "CHAINED_COMMAND",
        body,
        body.ffmpeg_commands,
        original(body, { ffmpeg_commands: body.ffmpeg_commands }),
      );
      deps.queue.enqueue(id);
      return { command_id: id };
    },

    /** Each entry is its own command; top-level metadata/webhook_url apply where an entry has none. */
    runMultiple(accountId: string, body: MultipleBody): { command_ids: string[] } {
      if (body.commands.length === 0 || body.commands.length > MAX_STEPS) {
        throw new AppError("INVALID_REQUEST", `commands must hold 1 to ${MAX_STEPS} entries`, [
          { loc: ["body", "commands"], msg: `1 to ${MAX_STEPS} entries`, type: "value_error" },
        ]);
      }
      validateMetadata(body.metadata);
      const entries = body.commands.map((c) => ({
        ...c,
        metadata: c.metadata ?? body.metadata,
        webhook_url: c.webhook_url ?? body.webhook_url,
        max_command_run_seconds: c.max_command_run_seconds ?? body.max_command_run_seconds,
      }));
      for (const [i, c] of entries.entries()) {
        validateSubmission(c, [c.ffmpeg_command], false, deps.policy, deps.isOwnUrl, ["commands", i]);
      }
      checkQueueRoom(accountId, entries.length);
      const ids = db.transaction(() =>
        entries.map((c) =>
          insert(
            accountId,
            "MULTIPLE_COMMAND",
            c,
            [c.ffmpeg_command],
            original(c, { ffmpeg_command: c.ffmpeg_command }),
          ),
        ),
      );
      for (const id of ids) deps.queue.enqueue(id);
      return { command_ids: ids };
    },

    /**
     * ytdlp-download (`withCommand` false: any ffmpeg_command is ignored) and run-ytdlp-command.
     * Download-only rows have no ffmpeg step and no declared outputs: they follow from the inputs.
     */
    runYtdlp(accountId: string, body: YtdlpBody, withCommand: boolean): { command_id: string } {
      if (!deps.ytdlpAvailable) throw new AppError("NOT_IMPLEMENTED", YTDLP_MISSING_MESSAGE);
      const b: YtdlpBody = withCommand
        ? body
        : { ...body, ffmpeg_command: undefined, output_files: undefined };
      validateYtdlp(b, deps.policy);
      checkQueueRoom(accountId, 1);
      const cmd = b.ffmpeg_command;
      const row = {
        ...b,
        input_files: b.input_urls,
        output_files: cmd === undefined ? {} : (b.output_files ?? {}),
      };
      const id = insert(accountId, "YTDLP_COMMAND", row, cmd === undefined ? [] : [cmd], ytdlpOriginal(b));
      deps.queue.enqueue(id);
      return { command_id: id };
    },

    /** Dry run: the same checks as submit, no execution; shows the argv each step would run. */
    validate(body: SingleBody | ChainedBody): { valid: true; argv: string[][] } {
      const chained = "ffmpeg_commands" in body && Array.isArray(body.ffmpeg_commands);
      const steps = chained ? (body as ChainedBody).ffmpeg_commands : [(body as SingleBody).ffmpeg_command];
      const plans = validateSubmission(body, steps, chained, deps.policy, deps.isOwnUrl);
      // Stand-in paths, shown to the user as their aliases again (longest first: in_a vs in_ab).
      const aliases = [...Object.keys(body.input_files), ...Object.keys(body.output_files)];
      const paths = Object.fromEntries(aliases.map((a) => [a, `/job/${a}`]));
      const byLength = [...aliases].sort((x, y) => y.length - x.length);
      const show = (token: string) => byLength.reduce((t, a) => t.split(`/job/${a}`).join(`{{${a}}}`), token);
      return { valid: true, argv: plans.map((p) => p.argv(paths, []).map(show)) };
    },

    async get(accountId: string, id: string): Promise<Command> {
      const row = ownRow(accountId, id);
      if (!row) throw notFound("Command");
      const [out] = await presentCommands(db, storage, [row]);
      return out as Command;
    },

    async list(accountId: string, q: { limit: number; offset: number; status?: string | undefined }) {
      const where = q.status
        ? and(eq(commands.accountId, accountId), eq(commands.status, q.status as Command["status"]))
        : eq(commands.accountId, accountId);
      const rows = db
        .select()
        .from(commands)
        .where(where)
        .orderBy(desc(commands.createdAt), desc(sql`rowid`))
        .limit(q.limit)
        .offset(q.offset)
        .all();
      return presentCommands(db, storage, rows);
    },

    cancel(accountId: string, id: string): Promise<Command> {
      const row = ownRow(accountId, id);
      if (!row) throw notFound("Command");
      if (row.status === "SUCCESS" || row.status === "FAILED") {
        throw new AppError("INVALID_REQUEST", `command already finished (${row.status})`);
      }
      deps.queue.cancel(id);
      return this.get(accountId, id);
    },

    /** Deletes every output file's bytes; the records stay with is_deleted: true. */
    async deleteFiles(accountId: string, id: string): Promise<{ deleted: true; files_deleted: number }> {
      if (!ownRow(accountId, id)) throw notFound("Command");
      const outs = db
        .select()
        .from(files)
        .where(and(eq(files.commandId, id), eq(files.isDeleted, false)))
        .all();
      let n = 0;
      for (const f of outs) {
        const t = new Date(now());
        const changed = db
          .update(files)
          .set({ isDeleted: true, deletedAt: t, updatedAt: t })
          .where(and(eq(files.id, f.id), eq(files.isDeleted, false)))
          .returning({ id: files.id })
          .all();
        if (!changed.length) continue;
        if (f.storageKey) await storage.delete(f.storageKey);
        n++;
      }
      deps.log.info("command outputs deleted", { commandId: id, files: n });
      return { deleted: true, files_deleted: n };
    },
  };
}

export type CommandsService = ReturnType<typeof createCommandsService>;
