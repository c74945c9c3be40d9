/**
 * The tus endpoints in the OpenAPI document. index.ts serves them with one `app.all` per path and
 * dispatches by method itself (X-HTTP-Method-Override included), so they cannot be `app.openapi`
 * routes without changing what they do: each operation is registered here in the document only.
 * `registerPath` adds no route and no validation; the handlers stay the single source of behaviour,
 * and test/workers/openapi-uploads.test.ts checks this description against them.
 *
 * Also exports the pieces the one-time PUT documentation shares (URL-token query, problem responses).
 */
import { type RouteConfig, z } from "@hono/zod-openapi";
import type { App } from "../../app";
import { ERROR_STATUS, type ErrorCode, errorResponses } from "../../lib/errors";
import { UploadIdSchema } from "../../services/uploads/schemas";
import {
  MAX_PATCH_BODY,
  TUS_CHECKSUM_ALGORITHMS,
  TUS_EXTENSIONS,
  TUS_VERSION,
} from "../../upload-session/tus-protocol";
import { TUS_METHODS } from "./shared";

export const UPLOAD_BYTES_TAG = "Uploads (bytes)";

/** Response headers as documented (a subset of the OpenAPI Header Object). */
export type Headers = Record<
  string,
  { description: string; required?: boolean; schema: { type: "string" | "integer"; [k: string]: unknown } }
>;
type Responses = RouteConfig["responses"];

/** The URL token is the authority for these operations, not an API key. */
export const urlTokenAuth = { security: [] } satisfies Partial<RouteConfig>;

export const uploadIdParams = z.object({ upload_id: UploadIdSchema });

export function tokenQuery(required: boolean, description: string) {
  const token = z.string().openapi({ description });
  return z.object({ token: required ? token : token.optional() });
}

export const TOKEN_DESCRIPTION =
  "The one-time token from the `url` / `tus_url` that POST /v1/uploads returned. It is the only authorization " +
  "these endpoints take (no API key); missing or wrong → 401.";

/**
 * A problem+json response. `statusOf` keeps the documented status tied to the error code the handler
 * throws (ERROR_STATUS), so the two cannot drift apart.
 */
export function problem(code: ErrorCode, description: string, headers?: Headers, body = true) {
  const status = ERROR_STATUS[code];
  return {
    [status]: {
      description,
      ...(headers ? { headers } : {}),
      // HEAD answers carry the problem's headers (Content-Type application/problem+json) but, as HTTP says, no body.
      ...(body ? { content: errorResponses[400].content } : {}),
    },
  } as Responses;
}

const integer = { type: "integer", minimum: 0 } as const;
const TUS_RESUMABLE = {
  description: `Always \`${TUS_VERSION}\`.`,
  required: true,
  schema: { type: "string" as const, const: TUS_VERSION },
};
const UPLOAD_OFFSET_ON_ERROR = {
  description: "The durable offset, when the refusal knows it: HEAD is not needed to resume.",
  schema: integer,
};
const offsetOnError: Headers = { "Upload-Offset": UPLOAD_OFFSET_ON_ERROR };
const UPLOAD_EXPIRES = {
  description: "When the upload stops taking bytes (RFC 7231 HTTP-date).",
  required: true,
  schema: { type: "string" as const },
};

/** Every tus response carries Tus-Resumable, errors included. */
function tusErrors(which: ErrorCode[], body = true, extra: Partial<Record<ErrorCode, [string, Headers?]>> = {}) {
  const described: Record<ErrorCode, string> = {
    bad_request:
      "A malformed tus header (Upload-Offset, Upload-Length, Upload-Defer-Length, Upload-Metadata, Upload-Checksum, " +
      "Content-Length), or a length the upload cannot take.",
    unauthenticated: "The `token` query parameter is missing or does not belong to this upload.",
    not_found: "`upload_id` is malformed or no such upload exists.",
    method_not_allowed: "X-HTTP-Method-Override names a method tus does not define (Allow lists the ones it does).",
    invalid_state: "The upload is already complete; it takes no more bytes.",
    gone: "The upload expired, was cancelled or failed.",
    payload_too_large: "Larger than the upload allows.",
    unsupported_media_type: "Wrong Content-Type, or a file type the upload's allowed_content_types refuses.",
    precondition_failed: `Tus-Resumable is missing or is not \`${TUS_VERSION}\`. Tus-Version lists what is spoken.`,
    checksum_mismatch: "The sha1 of the body does not match Upload-Checksum; the chunk was discarded (tus checksum).",
    service_unavailable: "Storage failed mid-write; HEAD for the durable offset and resume.",
    internal_error: "Unexpected failure (reported with a request_id).",
  } as Record<ErrorCode, string>;
  const out: Responses = {};
  for (const code of which) {
    const [description, more] = extra[code] ?? [described[code], code === "invalid_state" ? offsetOnError : undefined];
    const headers: Headers = { "Tus-Resumable": TUS_RESUMABLE, ...more };
    if (code === "precondition_failed") {
      headers["Tus-Version"] = {
        description: "Versions this server speaks.",
        required: true,
        schema: { type: "string" as const },
      };
    }
    const status = ERROR_STATUS[code];
    const prev = out[status] as { description: string; headers: Headers } | undefined;
    // Two codes can share a status (409: conflict and invalid_state): one response documents both.
    Object.assign(
      out,
      prev
        ? {
            [status]: {
              ...prev,
              description: `${prev.description} Or: ${description}`,
              headers: { ...prev.headers, ...headers },
            },
          }
        : problem(code, description, headers, body),
    );
  }
  return out;
}

const tusRequestHeaders = {
  "Tus-Resumable": z.literal(TUS_VERSION).openapi({
    description: "Required on every request except OPTIONS; anything else is refused with 412.",
  }),
};
const uploadLength = z
  .string()
  .regex(/^\d{1,20}$/)
  .openapi({ description: "Total size of the file in bytes (non-negative integer)." });
const uploadChecksum = z
  .string()
  .regex(/^[A-Za-z0-9-]+ [A-Za-z0-9+/]+={0,2}$/)
  .openapi({
    description: `\`<algorithm> <base64 digest>\` of this request's body (tus checksum; algorithms: ${TUS_CHECKSUM_ALGORITHMS}). A mismatch discards the chunk with 460.`,
  });
const octetStream = {
  "application/offset+octet-stream": { schema: { type: "string", format: "binary" } },
} as const;

const CORS_NOTE =
  "Browsers: CORS follows the upload's `cors_origin` (on errors too); without one there is no browser access.";

const HEAD_TUS: RouteConfig = {
  method: "head",
  path: "/tus/{upload_id}",
  tags: [UPLOAD_BYTES_TAG],
  summary: "tus: get the upload offset",
  description:
    "Where to resume: Upload-Offset counts only bytes that are durable. A completed upload answers from its " +
    `record (Upload-Offset = Upload-Length = its size). Never cached. ${CORS_NOTE}`,
  ...urlTokenAuth,
  request: {
    params: uploadIdParams,
    query: tokenQuery(true, TOKEN_DESCRIPTION),
    headers: z.object(tusRequestHeaders),
  },
  responses: {
    200: {
      description: "The upload's state.",
      headers: {
        "Tus-Resumable": TUS_RESUMABLE,
        "Upload-Offset": { description: "Bytes received and durable.", required: true, schema: integer },
        "Upload-Length": { description: "The total size, unless it was deferred.", schema: integer },
        "Upload-Defer-Length": {
          description: "`1` when the size has not been declared yet (creation-defer-length).",
          schema: { type: "string" as const, const: "1" },
        },
        "Upload-Metadata": {
          description: "The Upload-Metadata given at creation, as sent.",
          schema: { type: "string" as const },
        },
        "Upload-Expires": {
          ...UPLOAD_EXPIRES,
          required: false,
          description: `${UPLOAD_EXPIRES.description} Absent once complete.`,
        },
        "Cache-Control": {
          description: "`no-store`.",
          required: true,
          schema: { type: "string" as const, const: "no-store" },
        },
      },
    },
    ...tusErrors(["unauthenticated", "not_found", "gone", "precondition_failed", "internal_error"], false),
  },
};

const PATCH_TUS: RouteConfig = {
  method: "patch",
  path: "/tus/{upload_id}",
  tags: [UPLOAD_BYTES_TAG],
  summary: "tus: append bytes",
  description:
    "Appends the body at Upload-Offset, which must equal the upload's current offset. The body streams into R2; " +
    `the offset advances only as bytes become durable. One request may carry at most ${MAX_PATCH_BODY} bytes ` +
    "(the Workers body limit; tus-js-client: chunkSize ≤ 50 MB). The last byte completes the upload and creates " +
    `its asset. ${CORS_NOTE}`,
  ...urlTokenAuth,
  request: {
    params: uploadIdParams,
    query: tokenQuery(true, TOKEN_DESCRIPTION),
    headers: z.object({
      ...tusRequestHeaders,
      "Upload-Offset": z
        .string()
        .regex(/^\d{1,20}$/)
        .openapi({ description: "The offset this body starts at; must match the upload's offset (else 409)." }),
      "Upload-Length": uploadLength.optional().openapi({
        description: "Declares the total size of a deferred-length upload; once set it cannot change.",
      }),
      "Upload-Checksum": uploadChecksum.optional(),
    }),
    body: { required: true, description: "The next chunk of the file.", content: octetStream },
  },
  responses: {
    204: {
      description: "The chunk is stored.",
      headers: {
        "Tus-Resumable": TUS_RESUMABLE,
        "Upload-Offset": { description: "The new durable offset.", required: true, schema: integer },
        "Upload-Expires": UPLOAD_EXPIRES,
      },
    },
    ...tusErrors(
      [
        "bad_request",
        "unauthenticated",
        "not_found",
        "conflict",
        "invalid_state",
        "gone",
        "precondition_failed",
        "payload_too_large",
        "unsupported_media_type",
        "checksum_mismatch",
        "internal_error",
        "service_unavailable",
      ],
      true,
      {
        bad_request: [
          "A malformed tus header, an Upload-Length that differs from the declared one or is below the offset, or a " +
            "checksummed body that was cut off.",
          offsetOnError,
        ],
        conflict: [
          "Upload-Offset does not match the upload's offset, or another PATCH to this upload is in progress.",
          offsetOnError,
        ],
        payload_too_large: [
          `Content-Length over ${MAX_PATCH_BODY} bytes, or the chunk would end past Upload-Length / the upload's maximum size.`,
          offsetOnError,
        ],
        unsupported_media_type: [
          "Content-Type is not application/offset+octet-stream, or the upload has allowed_content_types and was " +
            "not created with a `filetype`.",
        ],
        gone: ["The upload expired, was cancelled or failed.", offsetOnError],
        checksum_mismatch: [
          "The sha1 of the body does not match Upload-Checksum; the chunk was discarded (tus checksum).",
          offsetOnError,
        ],
        service_unavailable: [
          "Storage failed mid-write, or completing the upload failed after its last byte; HEAD and resume.",
          offsetOnError,
        ],
      },
    ),
  },
};

const POST_TUS: RouteConfig = {
  method: "post",
  path: "/tus/{upload_id}",
  tags: [UPLOAD_BYTES_TAG],
  summary: "tus: create (declare length and metadata)",
  description:
    "tus creation on an upload that already exists: POST /v1/uploads made it and handed out its `tus_url`, which " +
    "is the tus endpoint. Declares Upload-Length (or Upload-Defer-Length: 1) and Upload-Metadata (`filetype` is " +
    "checked against allowed_content_types, and required when the upload has them: without it the creation, and " +
    "any PATCH, is 415). With creation-with-upload the body carries the first bytes. Retrying " +
    "with the same Upload-Length is harmless. Location is the tus_url itself, token included.\n\n" +
    "POST with `X-HTTP-Method-Override: PATCH | DELETE | HEAD` is handled as that method (for proxies that only " +
    `pass GET and POST). ${CORS_NOTE}`,
  ...urlTokenAuth,
  request: {
    params: uploadIdParams,
    query: tokenQuery(true, TOKEN_DESCRIPTION),
    headers: z.object({
      ...tusRequestHeaders,
      "Upload-Length": uploadLength.optional().openapi({
        description: "Total size in bytes. Send exactly one of Upload-Length and Upload-Defer-Length.",
      }),
      "Upload-Defer-Length": z
        .literal("1")
        .optional()
        .openapi({ description: "`1`: the size is declared later, on a PATCH (creation-defer-length)." }),
      "Upload-Metadata": z
        .string()
        .max(4096)
        .optional()
        .openapi({
          description:
            "Comma-separated `key base64value` pairs (value optional, keys unique). `filetype` (or `type`, " +
            "`content_type`) is the file's MIME type.",
        }),
      "Upload-Checksum": uploadChecksum.optional(),
      "X-HTTP-Method-Override": z.enum(TUS_METHODS).optional().openapi({
        description: "Handle this POST as the named method (case-insensitive); any other method name → 405.",
      }),
    }),
    body: {
      required: false,
      description: "creation-with-upload: the first bytes of the file (only taken while nothing has arrived yet).",
      content: octetStream,
    },
  },
  responses: {
    201: {
      description: "Created (or the same creation repeated).",
      headers: {
        "Tus-Resumable": TUS_RESUMABLE,
        Location: {
          description: "The upload URL to HEAD / PATCH: the tus_url, token included.",
          required: true,
          schema: { type: "string" as const, format: "uri" },
        },
        "Upload-Offset": {
          description: "Bytes stored so far (creation-with-upload).",
          required: true,
          schema: integer,
        },
        "Upload-Expires": UPLOAD_EXPIRES,
      },
    },
    ...tusErrors(
      [
        "bad_request",
        "unauthenticated",
        "not_found",
        "method_not_allowed",
        "conflict",
        "invalid_state",
        "gone",
        "precondition_failed",
        "payload_too_large",
        "unsupported_media_type",
        "checksum_mismatch",
        "internal_error",
        "service_unavailable",
      ],
      true,
      {
        bad_request: [
          "A malformed tus header, neither or both of Upload-Length and Upload-Defer-Length, a zero length, or an " +
            "Upload-Metadata filetype that is not a MIME type.",
        ],
        conflict: [
          "The upload was already created with a different Upload-Length, or a PATCH to it is in progress.",
          offsetOnError,
        ],
        payload_too_large: [
          "Upload-Length (or the first chunk) exceeds the upload's maximum size, or Content-Length is over the " +
            "single-request limit.",
          offsetOnError,
        ],
        unsupported_media_type: [
          "A body that is not application/offset+octet-stream, or a filetype the upload's allowed_content_types refuses " +
            "(or none, when the upload has allowed_content_types).",
        ],
        checksum_mismatch: [
          "creation-with-upload: the first chunk does not match Upload-Checksum and was discarded.",
          offsetOnError,
        ],
        service_unavailable: ["Storage failed while writing the first chunk; HEAD and resume.", offsetOnError],
      },
    ),
  },
};

const DELETE_TUS: RouteConfig = {
  method: "delete",
  path: "/tus/{upload_id}",
  tags: [UPLOAD_BYTES_TAG],
  summary: "tus: terminate the upload",
  description:
    "tus termination: cancels the upload (the same as DELETE /v1/uploads/{upload_id}) and frees its stored " +
    `bytes. ${CORS_NOTE}`,
  ...urlTokenAuth,
  request: {
    params: uploadIdParams,
    query: tokenQuery(true, TOKEN_DESCRIPTION),
    headers: z.object(tusRequestHeaders),
  },
  responses: {
    204: { description: "Cancelled.", headers: { "Tus-Resumable": TUS_RESUMABLE } },
    ...tusErrors(
      ["unauthenticated", "not_found", "invalid_state", "gone", "precondition_failed", "internal_error"],
      true,
      {
        invalid_state: [
          "The upload is complete (or its last byte is being completed); it can no longer be cancelled.",
          offsetOnError,
        ],
        gone: ["The upload expired, was already cancelled, or failed."],
      },
    ),
  },
};

const discoveryHeaders: Headers = {
  "Tus-Resumable": TUS_RESUMABLE,
  "Tus-Version": {
    description: "Versions spoken.",
    required: true,
    schema: { type: "string" as const, const: TUS_VERSION },
  },
  "Tus-Extension": {
    description: "Extensions supported.",
    required: true,
    schema: { type: "string" as const, const: TUS_EXTENSIONS },
  },
  "Tus-Max-Size": {
    description:
      "Largest upload accepted, in bytes: the upload's max_size_bytes when the token is valid, else the server limit.",
    required: true,
    schema: integer,
  },
  "Tus-Checksum-Algorithm": {
    description: "Algorithms accepted in Upload-Checksum.",
    required: true,
    schema: { type: "string" as const, const: TUS_CHECKSUM_ALGORITHMS },
  },
};

const OPTIONS_TUS: RouteConfig = {
  method: "options",
  path: "/tus/{upload_id}",
  tags: [UPLOAD_BYTES_TAG],
  summary: "tus: discover capabilities / CORS preflight",
  description:
    "tus discovery (no Tus-Resumable needed) and the browser's CORS preflight. Never refused: a missing or wrong " +
    "token only means the generic limits and no CORS grant. With a valid token and a request Origin matching the " +
    "upload's `cors_origin`, a preflight (Access-Control-Request-Method) is answered with Access-Control-Allow-* headers.",
  ...urlTokenAuth,
  request: { params: uploadIdParams, query: tokenQuery(false, `${TOKEN_DESCRIPTION} Optional here.`) },
  responses: { 204: { description: "What this server speaks.", headers: discoveryHeaders } },
};

/**
 * `/tus` without an upload ID answers OPTIONS (discovery, generic limits). Every other method there is
 * refused (412 without Tus-Resumable, then 404 for POST, 405 otherwise): uploads are created with
 * POST /v1/uploads, so the collection is not documented as a creation endpoint.
 */
const OPTIONS_TUS_COLLECTION: RouteConfig = {
  method: "options",
  path: "/tus",
  tags: [UPLOAD_BYTES_TAG],
  summary: "tus: discover capabilities",
  description:
    "tus discovery with the server-wide limits. This is not a creation endpoint: other methods here are refused " +
    "(412 without Tus-Resumable; then POST → 404, anything else → 405). Create uploads with POST /v1/uploads and use " +
    "the returned `tus_url` as the tus endpoint.",
  ...urlTokenAuth,
  responses: { 204: { description: "What this server speaks.", headers: discoveryHeaders } },
};

export const TUS_OPERATIONS: readonly RouteConfig[] = [
  OPTIONS_TUS_COLLECTION,
  HEAD_TUS,
  PATCH_TUS,
  POST_TUS,
  DELETE_TUS,
  OPTIONS_TUS,
];

export function registerTusDocs(app: App) {
  for (const op of TUS_OPERATIONS) app.openAPIRegistry.registerPath(op);
}
