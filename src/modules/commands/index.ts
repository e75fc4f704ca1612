import { Elysia, t } from "elysia";
import type { AuthGuard } from "../../auth/plugin";
import { ErrorBody } from "../../http/schemas";
import {
  Command,
  CommandIdParams,
  CommandIdResult,
  CommandIdsResult,
  CommandList,
  DeleteFilesResult,
  ListCommandsQuery,
  RunChainedBody,
  RunCommandBody,
  RunMultipleBody,
  RunYtdlpBody,
  ValidateResult,
  YtdlpDownloadBody,
} from "./model";
import type { CommandsService } from "./service";

const submitErrors = { 400: ErrorBody, 401: ErrorBody, 422: ErrorBody, 429: ErrorBody };
const ytdlpErrors = { ...submitErrors, 501: ErrorBody };
const readErrors = { 401: ErrorBody, 404: ErrorBody, 429: ErrorBody };

/** Command routes (spec §4): submit answers `{command_id}` at once; the work runs on the queue. */
export function commandsRoutes(service: CommandsService, guard: AuthGuard) {
  return new Elysia({ tags: ["Commands"] })
    .use(guard)
    .resolve(({ principal }) => ({ accountId: principal.accountId }))
    .post("/run-ffmpeg-command", ({ accountId, body }) => service.runSingle(accountId, body), {
      body: RunCommandBody,
      response: { 200: CommandIdResult, ...submitErrors },
      detail: {
        operationId: "commands.run",
        summary: "Run an FFmpeg command",
        description:
          "Placeholders `{{in_x}}`/`<<in_x>>` for inputs and `{{out_x}}` for outputs; a leading `ffmpeg` is optional. " +
          "Forbidden options, filters or paths answer 400 naming the token (see README, Security). Poll Get Command.",
      },
    })
    .post("/run-chained-ffmpeg-commands", ({ accountId, body }) => service.runChained(accountId, body), {
      body: RunChainedBody,
      response: { 200: CommandIdResult, ...submitErrors },
      detail: {
        operationId: "commands.runChained",
        summary: "Run up to 10 FFmpeg commands in sequence in one working directory",
        description:
          "Later steps may read earlier outputs (`-i {{out_x}}`) and plain intermediate files (`-i tmp.mp4`).",
      },
    })
    .post("/run-multiple-ffmpeg-commands", ({ accountId, body }) => service.runMultiple(accountId, body), {
      body: RunMultipleBody,
      response: { 200: CommandIdsResult, ...submitErrors },
      detail: {
        operationId: "commands.runMultiple",
        summary: "Run up to 10 independent FFmpeg commands",
        description:
          "Answers `{command_ids}` in request order; each is polled on its own (`MULTIPLE_COMMAND`).",
      },
    })
    .post("/ytdlp-download", ({ accountId, body }) => service.runYtdlp(accountId, body, false), {
      body: YtdlpDownloadBody,
      response: { 200: CommandIdResult, ...ytdlpErrors },
      detail: {
        operationId: "commands.ytdlpDownload",
        summary: "Download media with yt-dlp",
        description:
          "Each `in_x` URL becomes output `out_x` (`x.<ext>`), `command_type` `YTDLP_COMMAND`. All traffic goes " +
          "through the server's egress proxy with the same URL rules as `input_files`. 501 when yt-dlp is not installed.",
      },
    })
    .post("/run-ytdlp-command", ({ accountId, body }) => service.runYtdlp(accountId, body, true), {
      body: RunYtdlpBody,
      response: { 200: CommandIdResult, ...ytdlpErrors },
      detail: {
        operationId: "commands.runYtdlp",
        summary: "Download media with yt-dlp, then optionally run an FFmpeg command on it",
        description:
          "With `ffmpeg_command`, the downloads stand in for `{{in_x}}` and `output_files` are the results; " +
          "without it, the same as ytdlp-download. 501 when yt-dlp is not installed.",
      },
    })
    .post("/commands/validate", ({ body }) => service.validate(body), {
      body: t.Union([RunCommandBody, RunChainedBody]),
      response: { 200: ValidateResult, ...submitErrors },
      detail: {
        operationId: "commands.validate",
        summary: "Check a command without running it (extension)",
        description:
          "Same checks as the run endpoints; answers the argv each step would run, paths shown as aliases.",
      },
    })
    .get("/commands/:commandId", ({ accountId, params }) => service.get(accountId, params.commandId), {
      params: CommandIdParams,
      response: { 200: Command, ...readErrors },
      detail: { operationId: "commands.get", summary: "Poll a command" },
    })
    .get(
      "/commands",
      async ({ accountId, query }) => {
        const limit = query.limit ?? 50;
        const offset = query.offset ?? 0;
        return {
          commands: await service.list(accountId, { limit, offset, status: query.status }),
          limit,
          offset,
        };
      },
      {
        query: ListCommandsQuery,
        response: { 200: CommandList, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
        detail: { operationId: "commands.list", summary: "List commands, newest first" },
      },
    )
    .post(
      "/commands/:commandId/cancel",
      ({ accountId, params }) => service.cancel(accountId, params.commandId),
      {
        params: CommandIdParams,
        response: { 200: Command, 400: ErrorBody, ...readErrors },
        detail: {
          operationId: "commands.cancel",
          summary: "Cancel a queued or running command (extension)",
          description: "Kills FFmpeg; the command ends FAILED with error_status CANCELLED.",
        },
      },
    )
    .delete(
      "/commands/:commandId/files",
      ({ accountId, params }) => service.deleteFiles(accountId, params.commandId),
      {
        params: CommandIdParams,
        response: { 200: DeleteFilesResult, ...readErrors },
        detail: { operationId: "commands.deleteFiles", summary: "Delete all output files of a command" },
      },
    );
}
