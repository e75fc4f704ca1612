import { Elysia } from "elysia";
import type { AuthGuard } from "../../auth/plugin";
import { ErrorBody } from "../../http/schemas";
import {
  CreatePresetBody,
  DeletePresetResult,
  ExecutePresetBody,
  ExecuteResult,
  ListPresetsQuery,
  Preset,
  PresetIdParams,
  PresetList,
  UpdatePresetBody,
} from "./model";
import type { PresetsService } from "./service";

const auth = { 401: ErrorBody, 429: ErrorBody };
const readErrors = { ...auth, 404: ErrorBody };
/** 400: a command the ffmpeg layer refuses (names the token); 422: any other invalid field. */
const writeErrors = { ...readErrors, 400: ErrorBody, 403: ErrorBody, 422: ErrorBody };

/** Preset routes (spec §7), mounted under `/api/v1`; every route behind the API-key guard. */
export function presetsRoutes(service: PresetsService, guard: AuthGuard) {
  return new Elysia({ prefix: "/presets", tags: ["Presets"] })
    .use(guard)
    .resolve(({ principal }) => ({ accountId: principal.accountId }))
    .post(
      "",
      async ({ accountId, body, set }) => {
        const preset = await service.create(accountId, body);
        set.status = 201;
        return preset;
      },
      {
        body: CreatePresetBody,
        response: { 201: Preset, 400: ErrorBody, 422: ErrorBody, ...auth },
        detail: {
          operationId: "presets.create",
          summary: "Create a preset",
          description:
            "A reusable command with its input keys and output files; checked like a run request. " +
            "A refused command answers 400 naming the token; other invalid fields 422.",
        },
      },
    )
    .get(
      "",
      async ({ accountId, query }) => {
        const limit = query.limit ?? 50;
        const offset = query.offset ?? 0;
        return { presets: await service.list(accountId, limit, offset), limit, offset };
      },
      {
        query: ListPresetsQuery,
        response: { 200: PresetList, 400: ErrorBody, ...auth },
        detail: {
          operationId: "presets.list",
          summary: "List presets: system presets first, then your own, newest first",
        },
      },
    )
    .get("/:presetId", ({ accountId, params }) => service.get(accountId, params.presetId), {
      params: PresetIdParams,
      response: { 200: Preset, ...readErrors },
      detail: { operationId: "presets.get", summary: "Get one of your presets or a system preset" },
    })
    .put("/:presetId", ({ accountId, params, body }) => service.update(accountId, params.presetId, body), {
      params: PresetIdParams,
      body: UpdatePresetBody,
      response: { 200: Preset, ...writeErrors },
      detail: {
        operationId: "presets.update",
        summary: "Update a preset",
        description:
          "Any subset of the create fields (at least one); `metadata` is replaced wholesale. The result is " +
          "checked again as a whole. System presets are read-only (403).",
      },
    })
    .delete("/:presetId", ({ accountId, params }) => service.delete(accountId, params.presetId), {
      params: PresetIdParams,
      response: { 200: DeletePresetResult, 403: ErrorBody, ...readErrors },
      detail: { operationId: "presets.delete", summary: "Delete a preset (system presets: 403)" },
    })
    .post(
      "/:presetId/execute",
      ({ accountId, params, body }) => service.execute(accountId, params.presetId, body),
      {
        params: PresetIdParams,
        body: ExecutePresetBody,
        // 400 only if a stored preset no longer passes the (since tightened) command checks.
        response: { 200: ExecuteResult, 400: ErrorBody, ...readErrors, 422: ErrorBody },
        detail: {
          operationId: "presets.execute",
          summary: "Run a preset",
          description:
            "`input_files` keys must equal the preset's `input_file_keys` exactly (422 otherwise); `metadata` " +
            "is merged over the preset's (request wins, at most 10 keys in all). Answers `{command_id}`; poll " +
            "Get Command. MULTIPLE_COMMAND presets run one command per entry and add `command_ids`.",
        },
      },
    );
}
