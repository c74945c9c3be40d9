/**
 * The edge's error answers: the shared problem+json document (src/lib/problem.ts) with the API's code for the
 * status (`not_found`, `forbidden`, …) and the edge's finer `reason` (`token_expired`, `unknown_playback_id`, …,
 * catalogued in index.ts). `error` and `message` are the fields the edge answered with before it spoke
 * problem+json; they stay so existing players and scripts keep working.
 */
import type { ErrorCode } from "../../../src/lib/errors";
import { PROBLEM_CONTENT_TYPE, problemDocument, STATUS_TITLES } from "../../../src/lib/problem";

const CODES: Record<number, ErrorCode> = {
  400: "bad_request",
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  412: "precondition_failed",
  416: "range_not_satisfiable",
  429: "rate_limited",
  500: "internal_error",
  503: "service_unavailable",
};

/** What `error` said before (kept for compatibility). */
const LEGACY_NAMES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  429: "too_many_requests",
  501: "not_implemented",
  503: "service_unavailable",
};

export function edgeProblem(
  status: number,
  reason: string,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  const code = CODES[status] ?? (status >= 500 ? "internal_error" : "bad_request");
  const requestId = crypto.randomUUID();
  const doc = problemDocument(code, status, STATUS_TITLES[status] ?? "Error", detail, requestId);
  return new Response(JSON.stringify({ ...doc, reason, error: LEGACY_NAMES[status] ?? "error", message: detail }), {
    status,
    headers: {
      "Content-Type": PROBLEM_CONTENT_TYPE,
      "Cache-Control": "no-store",
      "x-request-id": requestId,
      ...headers,
    },
  });
}
