/**
 * The API's error module: a closed set of problem codes, one code→status map, domain errors that know
 * nothing of HTTP, and the RFC 9457 problem+json body every failure is rendered as (the document itself is
 * ./problem.ts, shared with the edge and the transcoder).
 */
import { z } from "@hono/zod-openapi";
import { type FieldError, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, problemDocument } from "./problem";

export const ERROR_CODES = [
  "bad_request",
  "malformed_json",
  "validation_failed",
  "invalid_cursor",
  "unauthenticated",
  "forbidden",
  "not_found",
  "method_not_allowed",
  "conflict",
  "invalid_state",
  "gone",
  "payload_too_large",
  "unsupported_media_type",
  "idempotency_key_reused",
  "idempotency_request_in_progress",
  "idempotency_replay_unavailable",
  "precondition_failed",
  "checksum_mismatch",
  "length_required",
  "range_not_satisfiable",
  "range_not_recorded",
  "rate_limited",
  "internal_error",
  "service_unavailable",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ERROR_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  malformed_json: 400,
  validation_failed: 400,
  invalid_cursor: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  invalid_state: 409,
  gone: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  idempotency_request_in_progress: 409,
  idempotency_replay_unavailable: 409,
  precondition_failed: 412,
  // tus checksum extension: the PATCH body does not match Upload-Checksum.
  checksum_mismatch: 460,
  length_required: 411,
  range_not_satisfiable: 416,
  // A clip range a live recording has not recorded yet: the same request succeeds later.
  range_not_recorded: 422,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
};

const TITLES: Record<ErrorCode, string> = {
  bad_request: "Bad request",
  malformed_json: "Malformed JSON body",
  validation_failed: "Request validation failed",
  invalid_cursor: "Invalid pagination cursor",
  unauthenticated: "Authentication required",
  forbidden: "Forbidden",
  not_found: "Not found",
  method_not_allowed: "Method not allowed",
  conflict: "Conflict",
  invalid_state: "Invalid state transition",
  gone: "Gone",
  payload_too_large: "Payload too large",
  unsupported_media_type: "Unsupported media type",
  idempotency_key_reused: "Idempotency key reused with a different request",
  idempotency_request_in_progress: "A request with this idempotency key is in progress",
  idempotency_replay_unavailable: "This idempotent request cannot be replayed",
  precondition_failed: "Precondition failed",
  checksum_mismatch: "Checksum mismatch",
  length_required: "Content-Length required",
  range_not_satisfiable: "Range not satisfiable",
  range_not_recorded: "Range not recorded yet",
  rate_limited: "Too many requests",
  internal_error: "Internal error",
  service_unavailable: "Service unavailable",
};

export type { FieldError };

/** A failure the caller can act on. Services throw these; the HTTP layer renders them. */
export class KeyframeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors: FieldError[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "KeyframeError";
  }
}

export class NotFoundError extends KeyframeError {
  constructor(resource: string, id: string) {
    super("not_found", `No ${resource} with id '${id}' exists in this environment.`);
  }
}

export class InvalidStateError extends KeyframeError {
  constructor(resource: string, id: string, from: string, action: string) {
    super("invalid_state", `Cannot ${action} ${resource} '${id}' while it is '${from}'.`);
  }
}

export class ForbiddenError extends KeyframeError {
  constructor(message: string) {
    super("forbidden", message);
  }
}

export class ValidationError extends KeyframeError {
  constructor(message: string, errors: FieldError[] = []) {
    super("validation_failed", message, errors);
  }
}

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: `${PROBLEM_TYPE_BASE}not_found` }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(ERROR_CODES),
    request_id: z.string(),
    errors: z.array(z.object({ location: z.string(), message: z.string() })),
  })
  .openapi("Problem");
export type Problem = z.infer<typeof ProblemSchema>;

export function problemBody(code: ErrorCode, detail: string, requestId: string, errors: FieldError[] = []): Problem {
  return problemDocument(code, ERROR_STATUS[code], TITLES[code], detail, requestId, errors);
}

export function problemResponse(
  code: ErrorCode,
  detail: string,
  requestId: string,
  errors: FieldError[] = [],
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(problemBody(code, detail, requestId, errors)), {
    status: ERROR_STATUS[code],
    headers: { "content-type": PROBLEM_CONTENT_TYPE, "x-request-id": requestId, ...headers },
  });
}

/** Turn zod issues into `errors[]` entries with a JSON-pointer-ish location. */
export function zodIssuesToErrors(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
  target: string,
): FieldError[] {
  return issues.map((i) => ({
    location: [target, ...i.path.map((p) => String(p))].join("."),
    message: i.message,
  }));
}

/** Shared OpenAPI error responses, spread into every route so the spec documents what the runtime returns. */
const problemContent = { "application/problem+json": { schema: ProblemSchema } };
export const errorResponses = {
  400: { description: "Malformed or invalid request", content: problemContent },
  401: { description: "Missing, unknown or revoked API key", content: problemContent },
  403: { description: "The key lacks the required scope", content: problemContent },
  404: { description: "No such resource in this environment", content: problemContent },
  409: { description: "Conflicting state or idempotency key in use", content: problemContent },
  413: { description: "Body larger than allowed", content: problemContent },
  422: {
    description: "Idempotency key reused with a different request, or a clip range not recorded yet",
    content: problemContent,
  },
  500: { description: "Unexpected failure (reported with a request_id)", content: problemContent },
} as const;
