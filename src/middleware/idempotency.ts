/**
 * Idempotency-Key handling for every POST under /v1. It runs as route middleware right after the
 * operation's scope check (see `scoped()` in app.ts), so a key that may not call an operation never
 * sees a stored answer of it, and records belong to the API key that made them (as Stripe's do):
 * another key — even of the same environment — never replays them.
 *
 * The first request with a key claims it atomically (INSERT … ON CONFLICT DO NOTHING) together with a
 * fingerprint of the request (method, path, SHA-256 of the body). While it runs, the same key gets
 * 409 idempotency_request_in_progress; once it has answered, the same request gets the stored status
 * and body back (`Idempotent-Replayed: true`) and a different request with that key gets 422
 * idempotency_key_reused. 2xx–4xx answers are stored for 24 h; a 5xx or a thrown error releases the
 * claim so the client can retry.
 *
 * Operations whose success answer carries a one-time secret (API key, signing key, webhook secret,
 * playback tokens) are declared `replay: "refuse"`: their 2xx bodies are never stored (D1 would hold
 * the secret for a day), and a replay of a completed request answers 409 idempotency_replay_unavailable
 * naming the status it had. The secret cannot be re-derived (only hashes or public halves are kept),
 * and a fresh one would be a second effect, so refusing is the only answer that keeps both promises.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app";
import { problemResponse } from "../lib/errors";
import { sha256Hex } from "../lib/ids";
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  findIdempotencyRecord,
  releaseIdempotencyKey,
} from "../services/idempotency/records";

const KEY_RE = /^[\x20-\x7e]{1,255}$/;

/** `store`: replay the stored answer. `refuse`: the answer holds a secret; store only its status. */
export type ReplayMode = "store" | "refuse";

/** What the OpenAPI description says about operations declared `replay: "refuse"`. */
export const REFUSED_REPLAY_NOTE =
  "Its answer carries a one-time secret, so it is never stored: repeating a completed request with the same " +
  "`Idempotency-Key` answers `409 idempotency_replay_unavailable` (the first request did take effect; list " +
  "the resource to find it) instead of the secret.";

export function idempotency(mode: ReplayMode = "store"): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.req.header("idempotency-key");
    const ctx = c.get("ctx");
    if (c.req.method !== "POST" || key === undefined || !ctx) return next();
    if (!KEY_RE.test(key)) {
      return problemResponse(
        "validation_failed",
        "The Idempotency-Key header must be 1–255 printable ASCII characters.",
        c.get("requestId"),
        [{ location: "header.idempotency-key", message: "must be 1–255 printable ASCII characters" }],
      );
    }
    const method = c.req.method;
    const path = c.req.path;
    // Hono caches the body text, so the route's JSON validator still reads it afterwards.
    const bodyHash = await sha256Hex(await c.req.text());

    if (!(await claimIdempotencyKey(ctx, { key, method, path, bodyHash }))) {
      const existing = await findIdempotencyRecord(ctx, key);
      if (!existing) {
        // Released between our claim and this read (the first request failed): ask for a retry.
        return problemResponse(
          "idempotency_request_in_progress",
          "A request with this Idempotency-Key just finished unsuccessfully; retry.",
          c.get("requestId"),
          [],
          { "retry-after": "1" },
        );
      }
      if (existing.method !== method || existing.path !== path || existing.bodyHash !== bodyHash) {
        const what =
          existing.method !== method || existing.path !== path
            ? `${existing.method} ${existing.path}`
            : "a different body";
        return problemResponse(
          "idempotency_key_reused",
          `This Idempotency-Key was already used with ${what}. Use a new key for a different request.`,
          c.get("requestId"),
        );
      }
      if (existing.status === "in_progress") {
        return problemResponse(
          "idempotency_request_in_progress",
          "A request with this Idempotency-Key is still being processed; retry shortly.",
          c.get("requestId"),
          [],
          { "retry-after": "1" },
        );
      }
      const status = existing.responseStatus ?? 200;
      if (existing.responseBody === null && status < 300) {
        return problemResponse(
          "idempotency_replay_unavailable",
          `A request with this Idempotency-Key already succeeded (HTTP ${status}). Its answer carried a one-time ` +
            "secret, which is never stored, so it cannot be replayed; list the resource to find what it created.",
          c.get("requestId"),
          [],
          { "idempotent-replayed": "true" },
        );
      }
      const bodyText = existing.responseBody ?? "";
      const headers: Record<string, string> = {
        "idempotent-replayed": "true",
        "x-request-id": c.get("requestId"),
      };
      if (bodyText) headers["content-type"] = status >= 400 ? "application/problem+json" : "application/json";
      return new Response(status === 204 || status === 304 ? null : bodyText, { status, headers });
    }

    try {
      await next();
    } catch (err) {
      await releaseIdempotencyKey(ctx, key);
      throw err;
    }
    const res = c.res;
    if (res.status >= 500) {
      await releaseIdempotencyKey(ctx, key);
      return;
    }
    // Refused-replay operations keep their errors (no secret in a problem body) but never a success body.
    const responseBody = mode === "refuse" && res.status < 300 ? null : await res.clone().text();
    await completeIdempotencyKey(ctx, key, res.status, responseBody);
  };
}
