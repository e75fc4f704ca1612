import { and, count, desc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import type { CommandType } from "../../db/schema";
import { AppError, notFound } from "../../errors";
import type { CommandQueue } from "../../jobs/command-queue";
import { createSerial } from "../../lib/serial";
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
  const { commands, files } = db.t;
  // Count-then-insert is one section per process, so the per-account cap holds exactly on one node
  // (with several nodes on PostgreSQL it can be overshot by the submits racing on other nodes).
  const serial = createSerial();

  const ownRow = async (accountId: string, id: string) =>
    (
      await db
        .select()
        .from(commands)
        .where(and(eq(commands.id, id), eq(commands.accountId, accountId)))
    )[0];

  async function checkQueueRoom(accountId: string, adding: number) {
    const [row] = await db
      .select({ n: count() })
      .from(commands)
      .where(and(eq(commands.accountId, accountId), inArray(commands.status, ["QUEUED", "PROCESSING"])));
    const open = row?.n ?? 0;
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

  type NewCommand = typeof commands.$inferInsert;

  function newRow(
    accountId: string,
    type: CommandType,
    body: CommandInput & Common,
    steps: string[],
    original: Record<string, unknown>,
  ): NewCommand & { id: string } {
    const id = crypto.randomUUID();
    const t = new Date(now());
    const seconds = Math.min(body.max_command_run_seconds ?? deps.defaultRunSeconds, deps.maxRunSeconds);
    return {
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
    };
  }

  /** Checks the account's room and inserts the rows (one statement: all or none); queues them. */
  async function submit(accountId: string, rows: (NewCommand & { id: string })[]): Promise<string[]> {
    await serial(async () => {
      await checkQueueRoom(accountId, rows.length);
      await db.insert(commands).values(rows);
    });
    for (const r of rows) deps.queue.enqueue(r.id);
    return rows.map((r) => r.id);
  }

  const original = (b: CommandInput, extra: Record<string, unknown>) => ({
    input_files: b.input_files,
    output_files: b.output_files,
    ...extra,
  });

  return {
    async runSingle(accountId: string, body: SingleBody): Promise<{ command_id: string }> {
      validateSubmission(body, [body.ffmpeg_command], false, deps.policy, deps.isOwnUrl);
      const row = newRow(
        accountId,
        "FFMPEG_COMMAND",
        body,
        [body.ffmpeg_command],
        original(body, { ffmpeg_command: body.ffmpeg_command }),
      );
      await submit(accountId, [row]);
      return { command_id: row.id };
    },

    async runChained(accountId: string, body: ChainedBody): Promise<{ command_id: string }> {
      validateSubmission(body, body.ffmpeg_commands, true, deps.policy, deps.isOwnUrl);
      const row = newRow(
        accountId,
        "CHAINED_COMMAND",
        body,
        body.ffmpeg_commands,
        original(body, { ffmpeg_commands: body.ffmpeg_commands }),
      );
      await submit(accountId, [row]);
      return { command_id: row.id };
    },

    /** Each entry is its own command; top-level metadata/webhook_url apply where an entry has none. */
    async runMultiple(accountId: string, body: MultipleBody): Promise<{ command_ids: string[] }> {
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
      const rows = entries.map((c) =>
        newRow(
          accountId,
          "MULTIPLE_COMMAND",
          c,
          [c.ffmpeg_command],
          original(c, { ffmpeg_command: c.ffmpeg_command }),
        ),
      );
      return { command_ids: await submit(accountId, rows) };
    },

    /**
     * ytdlp-download (`withCommand` false: any ffmpeg_command is ignored) and run-ytdlp-command.
     * Download-only rows have no ffmpeg step and no declared outputs: they follow from the inputs.
     */
    async runYtdlp(
      accountId: string,
      body: YtdlpBody,
      withCommand: boolean,
    ): Promise<{ command_id: string }> {
      if (!deps.ytdlpAvailable) throw new AppError("NOT_IMPLEMENTED", YTDLP_MISSING_MESSAGE);
      const b: YtdlpBody = withCommand
        ? body
        : { ...body, ffmpeg_command: undefined, output_files: undefined };
      validateYtdlp(b, deps.policy);
      const cmd = b.ffmpeg_command;
      const row = {
        ...b,
        input_files: b.input_urls,
        output_files: cmd === undefined ? {} : (b.output_files ?? {}),
      };
      const r = newRow(accountId, "YTDLP_COMMAND", row, cmd === undefined ? [] : [cmd], ytdlpOriginal(b));
      await submit(accountId, [r]);
      return { command_id: r.id };
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
      const row = await ownRow(accountId, id);
      if (!row) throw notFound("Command");
      const [out] = await presentCommands(db, storage, [row]);
      return out as Command;
    },

    async list(accountId: string, q: { limit: number; offset: number; status?: string | undefined }) {
      const where = q.status
        ? and(eq(commands.accountId, accountId), eq(commands.status, q.status as Command["status"]))
        : eq(commands.accountId, accountId);
      const rows = await db
        .select()
        .from(commands)
        .where(where)
        .orderBy(desc(commands.createdAt), desc(sql`rowid`))
        .limit(q.limit)
        .offset(q.offset);
      return presentCommands(db, storage, rows);
    },

    async cancel(accountId: string, id: string): Promise<Command> {
      const row = await ownRow(accountId, id);
      if (!row) throw notFound("Command");
      if (row.status === "SUCCESS" || row.status === "FAILED") {
        throw new AppError("INVALID_REQUEST", `command already finished (${row.status})`);
      }
      await deps.queue.cancel(id);
      return this.get(accountId, id);
    },

    /** Deletes every output file's bytes; the records stay with is_deleted: true. */
    async deleteFiles(accountId: string, id: string): Promise<{ deleted: true; files_deleted: number }> {
      if (!(await ownRow(accountId, id))) throw notFound("Command");
      const outs = await db
        .select()
        .from(files)
        .where(and(eq(files.commandId, id), eq(files.isDeleted, false)));
      let n = 0;
      for (const f of outs) {
        const t = new Date(now());
        const changed = await db
          .update(files)
          .set({ isDeleted: true, deletedAt: t, updatedAt: t })
          .where(and(eq(files.id, f.id), eq(files.isDeleted, false)))
          .returning({ id: files.id });
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
