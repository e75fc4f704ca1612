import { t } from "elysia";

/** The one error body of every non-2xx answer (spec, Decisions 3). */
export const ErrorBody = t.Object(
  {
    error: t.String({
      description:
        "Machine-readable code: INVALID_REQUEST, UNAUTHORIZED, NOT_FOUND, PAYLOAD_TOO_LARGE, VALIDATION_ERROR, RATE_LIMITED, …",
    }),
    message: t.String({ description: "Human-readable explanation" }),
    detail: t.Optional(
      t.Array(
        t.Object({
          loc: t.Array(t.Union([t.String(), t.Number()])),
          msg: t.String(),
          type: t.Union([t.Literal("value_error"), t.Literal("type_error")]),
        }),
        { description: "Present on 422 (and on 400 from schema validation): one entry per problem" },
      ),
    ),
  },
  { description: "Error" },
);

/** Error responses shared by every authenticated route. */
export const authErrors = {
  401: ErrorBody,
  429: ErrorBody,
} as const;
