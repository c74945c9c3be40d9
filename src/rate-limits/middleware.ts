/**
 * Per API key and per environment budgets for every authenticated /v1 request (runs right after
 * authentication, before idempotency replay and the handler, so a refused request does no work).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app";
import { KeyframeError, problemResponse } from "../lib/errors";
import { spend } from "./limiter";
import { classify } from "./policies";

export const rateLimitMiddleware: MiddlewareHandler<AppEnv> = async (c, next) => {
  const caller = c.get("caller");
  if (!caller?.keyId) return next();
  let policy: string;
  try {
    policy = await spend(c.env, classify(c.req.method, c.req.path), [
      `key:${caller.keyId}`,
      `env:${caller.environmentId}`,
    ]);
  } catch (err) {
    if (err instanceof KeyframeError) {
      return problemResponse(err.code, err.message, c.get("requestId"), [], err.headers);
    }
    throw err;
  }
  await next();
  c.res.headers.set("ratelimit-policy", policy);
};
