/**
 * The problem+json document (RFC 9457) every Keyframe service answers errors with: the API (src/lib/errors.ts
 * adds its closed code set, statuses and titles), the edge (workers/edge/src/problems.ts) and the transcoder
 * (transcoder/src/server.ts). One `type` URL base and one field set, so a client reads every failure the same
 * way: `code` is the last segment of `type`, `status` repeats the HTTP status, `errors[]` locates bad fields.
 * No dependencies: workerd and Node import it alike.
 */
export const PROBLEM_TYPE_BASE = "https://keyframe.dev/errors/";
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export interface FieldError {
  location: string;
  message: string;
}

export interface ProblemDocument<C extends string = string> {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: C;
  request_id: string;
  errors: FieldError[];
}

export function problemDocument<C extends string>(
  code: C,
  status: number,
  title: string,
  detail: string,
  requestId: string,
  errors: FieldError[] = [],
): ProblemDocument<C> {
  return { type: `${PROBLEM_TYPE_BASE}${code}`, title, status, detail, code, request_id: requestId, errors };
}

/** Generic titles by status, for services whose codes are finer than the API's (the edge's reasons). */
export const STATUS_TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Authentication required",
  403: "Forbidden",
  404: "Not found",
  405: "Method not allowed",
  409: "Conflict",
  410: "Gone",
  413: "Payload too large",
  422: "Unprocessable request",
  429: "Too many requests",
  500: "Internal error",
  501: "Not implemented",
  502: "Bad gateway",
  503: "Service unavailable",
  504: "Gateway timeout",
};
