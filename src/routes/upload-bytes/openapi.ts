/**
 * The one-time upload URL (`PUT /uploads/{upload_id}?token=…` and its CORS preflight) in the OpenAPI
 * document. put.ts serves them as plain Hono routes (the body is a raw stream, errors carry the upload's
 * CORS), so they are registered here in the document only: no route, no validation, same behaviour.
 */
import { type RouteConfig, z } from "@hono/zod-openapi";
import type { App } from "../../app";
import { MAX_DIRECT_UPLOAD_BYTES } from "../../services/uploads/direct-upload";
import { problem, TOKEN_DESCRIPTION, tokenQuery, UPLOAD_BYTES_TAG, uploadIdParams, urlTokenAuth } from "../tus/openapi";

const CORS_NOTE =
  "CORS follows the upload's `cors_origin` on every answer, errors included, so a browser can read why a PUT " +
  "failed; without one there is no browser access.";

const allowOrigin = {
  "Access-Control-Allow-Origin": {
    description: "The upload's `cors_origin` (`*`, or the request Origin when it matches).",
    schema: { type: "string" as const },
  },
  Vary: { description: "`Origin` when `cors_origin` is one exact origin.", schema: { type: "string" as const } },
} as const;

const PUT_UPLOAD: RouteConfig = {
  method: "put",
  path: "/uploads/{upload_id}",
  tags: [UPLOAD_BYTES_TAG],
  summary: "Upload a file in one request",
  description:
    "The upload's one-time `url`: PUT the whole file as the body. It streams straight into storage, then the " +
    "upload completes and its asset is created (`queued`). Content-Length is required (no chunked bodies) and the " +
    `file may be at most ${MAX_DIRECT_UPLOAD_BYTES} bytes (or the upload's max_size_bytes); use the tus_url for ` +
    "larger or resumable uploads. Only one transfer may run at a time. An empty body is refused and leaves the " +
    `upload open for another try. ${CORS_NOTE}`,
  ...urlTokenAuth,
  request: {
    params: uploadIdParams,
    query: tokenQuery(true, TOKEN_DESCRIPTION),
    body: {
      required: true,
      description:
        "The file's bytes. Any Content-Type is taken (it is stored as the source's type) unless the upload set " +
        "allowed_content_types: then it must match one of them (`video/*` patterns work) and must be present.",
      content: { "*/*": { schema: { type: "string", format: "binary" } } },
    },
  },
  responses: {
    200: {
      description: "Stored; the upload is completed and its asset created.",
      headers: allowOrigin,
      content: {
        "application/json": {
          schema: z
            .object({
              upload_id: z.string().openapi({ example: "up_01jv3k8w9x0000000000000000" }),
              asset_id: z.string().openapi({ description: "The asset created from this file." }),
            })
            .openapi("DirectUploadResult"),
        },
      },
    },
    ...problem(
      "bad_request",
      "The body is empty, or it ended before (or ran past) Content-Length bytes; the upload stays open.",
      allowOrigin,
    ),
    ...problem(
      "unauthenticated",
      "The `token` query parameter is missing or does not belong to this upload.",
      allowOrigin,
    ),
    ...problem("not_found", "`upload_id` is malformed or no such upload exists.", allowOrigin),
    ...problem(
      "conflict",
      "The upload is already completed, cancelled or errored, or another transfer to it is in progress.",
      allowOrigin,
    ),
    ...problem("gone", "The upload URL has expired; create a new upload.", allowOrigin),
    ...problem("length_required", "No Content-Length (chunked bodies go to the tus URL).", allowOrigin),
    ...problem(
      "payload_too_large",
      `Content-Length is over the upload's max_size_bytes or the ${MAX_DIRECT_UPLOAD_BYTES}-byte one-request limit.`,
      allowOrigin,
    ),
    ...problem(
      "unsupported_media_type",
      "Content-Type is missing or not in the upload's allowed_content_types.",
      allowOrigin,
    ),
    ...problem("internal_error", "Unexpected failure (reported with a request_id)."),
  },
};

const OPTIONS_UPLOAD: RouteConfig = {
  method: "options",
  path: "/uploads/{upload_id}",
  tags: [UPLOAD_BYTES_TAG],
  summary: "CORS preflight for the one-time upload URL",
  description:
    "Checks the token like the PUT does. When the request Origin is allowed by the upload's `cors_origin`, grants " +
    "PUT with Content-Type and Content-Length; otherwise answers 204 without a grant.",
  ...urlTokenAuth,
  request: { params: uploadIdParams, query: tokenQuery(true, TOKEN_DESCRIPTION) },
  responses: {
    204: {
      description: "The preflight answer (with Access-Control-Allow-* headers only when the origin is allowed).",
      headers: {
        ...allowOrigin,
        "Access-Control-Allow-Methods": { description: "`PUT, OPTIONS`.", schema: { type: "string" as const } },
        "Access-Control-Allow-Headers": {
          description: "`content-type, content-length`.",
          schema: { type: "string" as const },
        },
        "Access-Control-Max-Age": { description: "`600`.", schema: { type: "string" as const } },
      },
    },
    ...problem(
      "unauthenticated",
      "The `token` query parameter is missing or does not belong to this upload.",
      allowOrigin,
    ),
    ...problem("not_found", "`upload_id` is malformed or no such upload exists.", allowOrigin),
    ...problem("internal_error", "Unexpected failure (reported with a request_id)."),
  },
};

export const UPLOAD_BYTE_OPERATIONS: readonly RouteConfig[] = [PUT_UPLOAD, OPTIONS_UPLOAD];

export function registerUploadByteDocs(app: App) {
  for (const op of UPLOAD_BYTE_OPERATIONS) app.openAPIRegistry.registerPath(op);
}
