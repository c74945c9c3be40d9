/**
 * The Hono app factory and its cross-cutting middleware: request IDs, per-request service context,
 * API-key authentication, scope checks, body limits, and the single error handler that renders every
 * failure as RFC 9457 problem+json.
 */
import { OpenAPIHono, type RouteConfig, type z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { bearerToken, KEY_SECRET_RE } from "./lib/auth";
import { d1Unavailable } from "./lib/d1-retry";
import { KeyframeError, problemResponse, zodIssuesToErrors } from "./lib/errors";
import { newId } from "./lib/ids";
import { log } from "./lib/log";
import { hasScope, type Scope } from "./lib/scopes";
import { idempotency, REFUSED_REPLAY_NOTE, type ReplayMode } from "./middleware/idempotency";
import { type Caller, requestContext, type ServiceContext } from "./services/context";
import { authenticateKey } from "./services/keys/authenticate";

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** The caller's own X-Request-Id (validated), kept for correlation only. */
    clientRequestId: string | null;
    caller: Caller;
    ctx: ServiceContext;
  };
};
export type App = OpenAPIHono<AppEnv>;
export type AppContext = Context<AppEnv>;

export const JSON_BODY_LIMIT = 1024 * 1024;

/** Validation failures from zod become the same problem body as every other error. */
export function createApp(): App {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const target = (result as { target?: string }).target ?? "body";
        const errors = zodIssuesToErrors(result.error.issues, target);
        return problemResponse(
          "validation_failed",
          `The request ${target} is invalid: ${errors.map((e) => `${e.location}: ${e.message}`).join("; ")}`,
          c.get("requestId") ?? "unknown",
          errors,
        );
      }
    },
  });
}

/**
 * Every request gets a server-generated `req_…` ID: it is what the audit log, logs and problem bodies
 * quote, so a client cannot make two requests share an ID or point an audit entry at someone else's
 * request. A well-formed client `X-Request-Id` is kept as `client_request_id` and echoed back as
 * `X-Client-Request-Id`.
 */
export const requestIdMiddleware: MiddlewareHandler<AppEnv> = async (c, next) => {
  const incoming = c.req.header("x-request-id");
  const clientRequestId = incoming && /^[A-Za-z0-9._:-]{1,128}$/.test(incoming) ? incoming : null;
  const requestId = newId("request");
  c.set("requestId", requestId);
  c.set("clientRequestId", clientRequestId);
  await next();
  c.res.headers.set("x-request-id", requestId);
  if (clientRequestId) c.res.headers.set("x-client-request-id", clientRequestId);
};

/** Rejects JSON bodies over 1 MB before they are read into memory. */
export const jsonBodyLimit = bodyLimit({
  maxSize: JSON_BODY_LIMIT,
  onError: (c) =>
    problemResponse("payload_too_large", `JSON bodies are limited to ${JSON_BODY_LIMIT} bytes.`, c.get("requestId")),
});

/**
 * Authenticates `Authorization: Bearer kf_…` and builds the per-request service context.
 * Refusals are returned, not thrown: callers wrap this middleware as `return authMiddleware(c, next)`, and
 * a promise rejected before its first await is reported by workerd as an unhandled rejection before the
 * wrapper's handler attaches (the response was still right, but every 401 logged an error).
 */
export const authMiddleware: MiddlewareHandler<AppEnv> = async (c, next) => {
  try {
    await authenticate(c);
  } catch (err) {
    if (err instanceof KeyframeError) return problemResponse(err.code, err.message, c.get("requestId"));
    throw err;
  }
  await next();
};

async function authenticate(c: AppContext): Promise<void> {
  const token = bearerToken(c.req.header("authorization"));
  if (!token) throw new KeyframeError("unauthenticated", "Send an API key as 'Authorization: Bearer kf_…'.");
  if (!KEY_SECRET_RE.test(token)) throw new KeyframeError("unauthenticated", "The API key is malformed.");
  const caller = await authenticateKey(c.env, token, (p) => c.executionCtx.waitUntil(p));
  c.set("caller", caller);
  c.set(
    "ctx",
    requestContext(c.env, caller, {
      requestId: c.get("requestId"),
      clientRequestId: c.get("clientRequestId"),
      waitUntil: (p) => c.executionCtx.waitUntil(p),
    }),
  );
}

export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const caller = c.get("caller");
    if (!caller) throw new KeyframeError("unauthenticated", "Authentication required.");
    if (!hasScope(caller.scopes, scope)) {
      throw new KeyframeError("forbidden", `This API key lacks the '${scope}' scope.`);
    }
    await next();
  };
}

/**
 * Route options shared by every authenticated operation: the scope check, then Idempotency-Key handling
 * (POST only) as route middleware — in that order, so a replay never answers a key that lacks the
 * scope — and the same scope documented in the OpenAPI `security` requirement and an
 * `x-keyframe-scope` extension (the shared auth tests read it to know what to check).
 * `replay: "refuse"` marks operations whose answer carries a one-time secret (src/middleware/idempotency.ts).
 */
export function scoped(scope: Scope, options: { replay?: ReplayMode } = {}) {
  const replay = options.replay ?? "store";
  return {
    middleware: [requireScope(scope), idempotency(replay)] as MiddlewareHandler[],
    security: [{ ApiKey: [scope] }],
    "x-keyframe-scope": scope,
    ...(replay === "refuse" ? { "x-keyframe-idempotent-replay": "refused" } : {}),
  } satisfies Partial<RouteConfig> & Record<string, unknown>;
}

/** Appends the refused-replay note to an operation's description (secret-bearing POSTs). */
export function withRefusedReplayNote(description: string): string {
  return `${description}\n\n**Idempotency:** ${REFUSED_REPLAY_NOTE}`;
}

export function onError(err: Error, c: AppContext): Response {
  const requestId = c.get("requestId") ?? "unknown";
  if (err instanceof KeyframeError) {
    return problemResponse(err.code, err.message, requestId, err.errors, err.headers);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    if (status === 400) {
      // Hono's JSON validator throws this when the body does not parse.
      const malformed = /json/i.test(err.message);
      return problemResponse(
        malformed ? "malformed_json" : "bad_request",
        malformed ? "The request body is not valid JSON." : err.message || "Bad request.",
        requestId,
      );
    }
    if (status === 413) return problemResponse("payload_too_large", "The request body is too large.", requestId);
    if (status === 415) return problemResponse("unsupported_media_type", err.message, requestId);
    if (status === 401) return problemResponse("unauthenticated", err.message || "Authentication required.", requestId);
    if (status === 403) return problemResponse("forbidden", err.message || "Forbidden.", requestId);
    if (status === 404) return problemResponse("not_found", err.message || "Not found.", requestId);
  }
  const unavailable = d1Unavailable(err);
  if (unavailable) {
    log.warn("database_unavailable", { request_id: requestId, error: unavailable.message });
    return problemResponse(
      "service_unavailable",
      "The database is briefly unavailable. Retry shortly (with the same Idempotency-Key, if any).",
      requestId,
      [],
      { "Retry-After": String(unavailable.retryAfterSeconds) },
    );
  }
  log.error("unhandled_error", { request_id: requestId, error: err.message, stack: err.stack });
  return problemResponse(
    "internal_error",
    "An unexpected error occurred. Quote the request_id when reporting it.",
    requestId,
  );
}

export type JsonOf<T extends z.ZodTypeAny> = z.infer<T>;
