import { Elysia, ValidationError } from "elysia";
import { AppError, ERROR_STATUS, type ErrorCode, type ValidationDetail } from "../errors";
import type { Logger } from "../log";
import { requestMeta } from "./request-context";

/** Builds the JSON error response every non-2xx answer uses. */
export function errorResponse(err: AppError, requestId?: string): Response {
  const body: Record<string, unknown> = { error: err.code, message: err.message };
  if (err.detail) body.detail = err.detail;
  const headers: Record<string, string> = { "content-type": "application/json", ...err.headers };
  if (requestId) headers["x-request-id"] = requestId;
  return new Response(JSON.stringify(body), { status: err.status, headers });
}

const JSON_TYPES: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number",
  integer: (v) => typeof v === "number",
  boolean: (v) => typeof v === "boolean",
  object: (v) => typeof v === "object" && v !== null && !Array.isArray(v),
  array: (v) => Array.isArray(v),
};

/** Turns Elysia's schema validation failure into our `detail[]` items. */
function toDetail(e: ValidationError): ValidationDetail[] {
  const where =
    e.type === "query" ? "query" : e.type === "params" ? "path" : e.type === "headers" ? "header" : "body";
  const seen = new Set<string>();
  const out: ValidationDetail[] = [];
  for (const item of e.all) {
    const path = "path" in item && typeof item.path === "string" ? item.path : "";
    const loc: (string | number)[] = [
      where,
      ...path
        .split("/")
        .filter(Boolean)
        .map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
    ];
    const key = loc.join(".");
    if (seen.has(key)) continue; // TypeBox reports one entry per failed keyword; keep the first per field
    seen.add(key);
    const schemaType = "schema" in item ? (item.schema as { type?: string })?.type : undefined;
    const value = "value" in item ? item.value : undefined;
    const isTypeError =
      value !== undefined && schemaType !== undefined && JSON_TYPES[schemaType]?.(value) === false;
    const msg =
      value === undefined ? `${loc.slice(1).join(".") || where} is required` : (item.summary ?? item.message);
    out.push({ loc, msg, type: isTypeError ? "type_error" : "value_error" });
  }
  return out.length ? out : [{ loc: [where], msg: "invalid request", type: "value_error" }];
}

/**
 * Endpoints where the spec answers a malformed JSON body with 400 INVALID_REQUEST (missing fields,
 * wrong types) rather than 422: store-file and the run-* submissions. Same `detail`, different code.
 */
const BODY_ERRORS_ARE_400 = [
  /^\/api\/v1\/files\/store-file$/,
  /^\/api\/v1\/run-/,
  /^\/api\/v1\/ytdlp-download$/,
];

/**
 * Maps every error to the one error body. Schema failures on query/path are 400 INVALID_REQUEST,
 * on bodies 422 VALIDATION_ERROR (routes that the spec wants 400 for validate in their service).
 * Unknown errors are logged with the request id and answered as a bare 500 — no internals leak.
 */
export function errorHandler(log: Logger) {
  return new Elysia({ name: "error-handler" }).onError({ as: "global" }, ({ code, error, request }) => {
    const requestId = requestMeta(request)?.id;
    if (error instanceof AppError) return errorResponse(error, requestId);
    if (code === "VALIDATION" && error instanceof ValidationError) {
      const detail = toDetail(error);
      const path = new URL(request.url).pathname;
      const bodyIs422 = error.type === "body" && !BODY_ERRORS_ARE_400.some((re) => re.test(path));
      const appCode: ErrorCode = bodyIs422 ? "VALIDATION_ERROR" : "INVALID_REQUEST";
      const first = detail[0];
      return errorResponse(
        new AppError(appCode, first ? `${first.loc.join(".")}: ${first.msg}` : "invalid request", detail),
        requestId,
      );
    }
    if (code === "NOT_FOUND") return errorResponse(new AppError("NOT_FOUND", "route not found"), requestId);
    if (code === "PARSE")
      return errorResponse(
        new AppError("VALIDATION_ERROR", "request body is not valid JSON", [
          { loc: ["body"], msg: "invalid JSON", type: "value_error" },
        ]),
        requestId,
      );
    const status =
      typeof (error as { status?: unknown }).status === "number" ? (error as { status: number }).status : 500;
    if (status === 413)
      return errorResponse(new AppError("PAYLOAD_TOO_LARGE", "request body too large"), requestId);
    log.error("unhandled error", { requestId, err: error, path: new URL(request.url).pathname });
    return errorResponse(new AppError("INTERNAL_ERROR", "internal error; retrying is safe"), requestId);
  });
}

export { ERROR_STATUS };
