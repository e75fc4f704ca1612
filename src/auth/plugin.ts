import { Elysia } from "elysia";
import { AppError } from "../errors";
import { requestMeta } from "../http/request-context";
import type { RateLimiter } from "./rate-limit";
import type { AuthService, Principal } from "./service";

/**
 * Guards every route registered after it on the instance that uses it: a valid, unrevoked
 * `X-API-KEY` (else 401 UNAUTHORIZED) and a token from the key's bucket (else 429 with Retry-After).
 * Adds `principal` to the handler context.
 */
export function authGuard(auth: AuthService, limiter: RateLimiter) {
  // derive (not resolve): it runs before schema validation, so a request without a valid key is
  // answered 401 whatever its body looks like.
  return new Elysia().derive({ as: "scoped" }, async ({ request }): Promise<{ principal: Principal }> => {
    const principal = await auth.authenticate(request.headers.get("x-api-key"));
    if (!principal) throw new AppError("UNAUTHORIZED", "missing or invalid X-API-KEY");
    const meta = requestMeta(request);
    if (meta) meta.keyId = principal.keyId;
    const wait = await limiter.take(principal.keyId);
    if (wait > 0) {
      throw new AppError("RATE_LIMITED", `rate limit exceeded; retry in ${wait} s`, undefined, {
        "retry-after": String(wait),
      });
    }
    return { principal };
  });
}

export type AuthGuard = ReturnType<typeof authGuard>;
