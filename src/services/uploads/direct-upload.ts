/**
 * The one-shot upload byte path: `PUT /uploads/{upload_id}?token=…` streams the body straight into
 * R2 at `sources/{upload_id}/source` (never buffered), then completes the upload (asset `queued` +
 * job). The upload's own rules are enforced before a byte is read: token, state, expiry, declared
 * size (Content-Length required), content type.
 *
 * Zero-byte bodies are refused with 400 and the upload stays `waiting` (the client may PUT again):
 * an empty file can never become media, so it never becomes an asset.
 */
import { and, eq, isNull, lt, or } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import { KeyframeError } from "../../lib/errors";
import { isId } from "../../lib/ids";
import { log } from "../../lib/log";
import { verifyHmacToken } from "../../lib/signing";
import { nowIso } from "../../lib/time";
import { putFixedLength } from "../../r2/stream";
import { systemContext } from "../jobs/system";
import { completeUpload } from "./complete";

/** The Workers request-body limit (Free/Pro plans); larger files belong on the resumable tus path. */
export const MAX_DIRECT_UPLOAD_BYTES = 100_000_000;

/** A one-shot PUT that has not finished in this long is presumed dead (100 MB at ~0.5 Mbit/s). */
export const STALE_CLAIM_MS = 30 * 60 * 1000;

export type UploadRow = typeof schema.uploads.$inferSelect;

export function directUploadKey(uploadId: string) {
  return `sources/${uploadId}/source`;
}

/** Token check (constant time) before any lookup, then the row. */
export async function loadUploadForBytes(env: Env, uploadId: string, token: string | undefined): Promise<UploadRow> {
  if (!isId("upload", uploadId)) throw new KeyframeError("not_found", `No upload with id '${uploadId}' exists.`);
  const ok = await verifyHmacToken(env.JOB_TOKEN_SECRET, `upload:${uploadId}`, token);
  if (!ok) throw new KeyframeError("unauthenticated", "The upload URL's token is missing or invalid.");
  const row = await createDb(env.DB).query.uploads.findFirst({ where: eq(schema.uploads.id, uploadId) });
  if (!row) throw new KeyframeError("not_found", `No upload with id '${uploadId}' exists.`);
  return row;
}

/** Matches `video/mp4` against patterns like `video/*` (parameters ignored, case-insensitive). */
export function contentTypeAllowed(contentType: string | null, allowed: string[] | null): boolean {
  if (!allowed || allowed.length === 0) return true;
  if (!contentType) return false;
  const [type, sub] = contentType.toLowerCase().split("/");
  return allowed.some((pattern) => {
    const [pt, ps] = pattern.toLowerCase().split("/");
    return pt === type && (ps === "*" || ps === sub);
  });
}

export interface ReceiveInput {
  row: UploadRow;
  contentLength: number | null;
  contentType: string | null;
  body: ReadableStream<Uint8Array> | null;
  requestId: string;
  waitUntil: (p: Promise<unknown>) => void;
}

export async function receiveUploadBytes(
  env: Env,
  input: ReceiveInput,
): Promise<{ upload_id: string; asset_id: string }> {
  const { row } = input;
  assertOpen(row);
  if (input.contentLength === null) {
    throw new KeyframeError("length_required", "Send a Content-Length; chunked bodies go to the tus URL instead.");
  }
  if (input.contentLength === 0 || !input.body) {
    throw new KeyframeError("bad_request", "The body is empty; a zero-byte file cannot be processed.");
  }
  const limit = Math.min(row.maxSizeBytes ?? MAX_DIRECT_UPLOAD_BYTES, MAX_DIRECT_UPLOAD_BYTES);
  if (input.contentLength > limit) {
    const why =
      row.maxSizeBytes !== null && row.maxSizeBytes <= MAX_DIRECT_UPLOAD_BYTES
        ? `this upload's max_size_bytes is ${row.maxSizeBytes}`
        : `one-shot uploads are limited to ${MAX_DIRECT_UPLOAD_BYTES} bytes; use the tus_url for larger files`;
    throw new KeyframeError("payload_too_large", `The file is ${input.contentLength} bytes; ${why}.`);
  }
  if (!contentTypeAllowed(input.contentType, row.allowedContentTypes)) {
    throw new KeyframeError(
      "unsupported_media_type",
      `Content-Type '${input.contentType ?? "(none)"}' is not allowed; allowed: ${(row.allowedContentTypes ?? []).join(", ")}.`,
    );
  }

  const ctx = systemContext(env, row.environmentId, input.waitUntil, input.requestId);
  const u = schema.uploads;
  // Claim the upload for this PUT: only one body may stream at a time (a second PUT, or tus, gets 409),
  // and tus refuses bytes while the claim is `put` (UploadSession.markUploading). A PUT claim left behind
  // by a transfer whose isolate died (untouched for STALE_CLAIM_MS) may be taken over, so the client's
  // retry is not refused until the upload expires; a tus transfer is never taken over.
  const staleBefore = new Date(Date.now() - STALE_CLAIM_MS).toISOString();
  const claimed = await ctx.db
    .update(u)
    .set({
      status: "uploading",
      claimedBy: "put",
      size: input.contentLength,
      contentType: input.contentType,
      updatedAt: nowIso(),
    })
    .where(
      and(
        eq(u.id, row.id),
        or(
          and(eq(u.status, "waiting"), isNull(u.claimedBy)),
          and(eq(u.status, "uploading"), eq(u.claimedBy, "put"), lt(u.updatedAt, staleBefore)),
        ),
      ),
    )
    .returning({ id: u.id });
  if (claimed.length === 0) {
    const now = await ctx.db.query.uploads.findFirst({ where: eq(u.id, row.id) });
    assertOpen(now ?? row);
    throw new KeyframeError("conflict", "Another transfer to this upload is in progress.");
  }

  const key = directUploadKey(row.id);
  try {
    await putFixedLength(env.MEDIA, key, input.body, input.contentLength, {
      httpMetadata: input.contentType ? { contentType: input.contentType } : undefined,
    });
  } catch (err) {
    // Give the upload back so the client can try again — only if it is still this PUT's: the source key is
    // shared with tus, and deleting it without holding the claim could remove a source tus completed.
    const released = await ctx.db
      .update(u)
      .set({ status: "waiting", claimedBy: null, updatedAt: nowIso() })
      .where(and(eq(u.id, row.id), eq(u.status, "uploading"), eq(u.claimedBy, "put")))
      .returning({ id: u.id });
    if (released.length > 0) await env.MEDIA.delete(key).catch(() => undefined);
    log.warn("direct_upload_interrupted", { upload_id: row.id, error: (err as Error).message });
    throw new KeyframeError(
      "bad_request",
      `The body ended before Content-Length (${input.contentLength}) bytes arrived, or exceeded it.`,
    );
  }

  const result = await completeUpload(ctx, {
    uploadId: row.id,
    sourceKey: key,
    size: input.contentLength,
    contentType: input.contentType,
  });
  if (result.alreadyCompleted) throw new KeyframeError("conflict", "This upload was already completed.");
  log.info("direct_upload_completed", { upload_id: row.id, asset_id: result.assetId, size: input.contentLength });
  return { upload_id: row.id, asset_id: result.assetId };
}

function assertOpen(row: UploadRow) {
  if (row.status === "completed") {
    throw new KeyframeError("conflict", `This upload is already completed (asset '${row.assetId}').`);
  }
  if (row.status === "cancelled" || row.status === "errored") {
    throw new KeyframeError("conflict", `This upload is ${row.status}.`);
  }
  if (row.status === "expired" || row.expiresAt <= nowIso()) {
    throw new KeyframeError("gone", "This upload URL has expired; create a new upload.");
  }
}
