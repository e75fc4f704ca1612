/**
 * The closed set of API error codes and their HTTP statuses (spec, Decisions 3). Services throw
 * AppError; the HTTP layer (src/http/errors.ts) is the only place that turns it into a response.
 */
export const ERROR_STATUS = {
  INVALID_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  LENGTH_REQUIRED: 411,
  PAYLOAD_TOO_LARGE: 413,
  RANGE_NOT_SATISFIABLE: 416,
  VALIDATION_ERROR: 422,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** One item of a 422 body's `detail` array (FastAPI/Pydantic shape, as the hosted API returns). */
export interface ValidationDetail {
  loc: (string | number)[];
  msg: string;
  type: "value_error" | "type_error";
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: ValidationDetail[],
    /** Extra response headers, e.g. Retry-After. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);

export const validationError = (
  loc: (string | number)[],
  msg: string,
  type: ValidationDetail["type"] = "value_error",
) => new AppError("VALIDATION_ERROR", msg, [{ loc, msg, type }]);
