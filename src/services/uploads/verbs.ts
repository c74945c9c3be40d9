/**
 * Upload sessions (intake). This module owns the upload state machine:
 * waiting → uploading → completed | expired | cancelled | errored.
 */

import { and, desc, eq, lt } from "drizzle-orm";
import { schema } from "../../db/client";
import { InvalidStateError, NotFoundError } from "../../lib/errors";
import { idPattern, newId } from "../../lib/ids";
import { decodeCursor, page } from "../../lib/pagination";
import { hasScope } from "../../lib/scopes";
import { hmacToken } from "../../lib/signing";
import { isoIn, nowIso } from "../../lib/time";
import { uploadSession } from "../../upload-session/client";
import type { ServiceContext, Verb } from "../context";
import { commit } from "../events/record";
import { rowWithDefaults, withResource } from "../events/snapshot";
import { recordDeletions, runPendingDeletions, uploadMediaPrefixes } from "../media/pending-deletions";
import type { CreateUploadInput, Upload } from "./schemas";

type Row = typeof schema.uploads.$inferSelect;
export type UploadStatus = Row["status"];

const OPEN: UploadStatus[] = ["waiting", "uploading"];

/** The one-time URL secret is derived, not stored: HMAC(server secret, upload ID). */
export function uploadUrlToken(env: Env, uploadId: string): Promise<string> {
  return hmacToken(env.JOB_TOKEN_SECRET, `upload:${uploadId}`);
}

/**
 * `url` and `tus_url` carry the upload's bearer token: whoever holds them can PUT a file into the upload
 * or cancel it. They are included only for callers that hold `uploads:write` (the scope that creates and
 * cancels uploads); a read-only key sees the upload without them, and so does every event (`data` of
 * `upload.*` is the upload as a read-only key's GET shows it: `uploadEventData`).
 */
export async function serializeUpload(ctx: ServiceContext, row: Row): Promise<Upload> {
  const credentials = hasScope(ctx.caller.scopes, "uploads:write") ? await uploadUrls(ctx.env, row) : {};
  return {
    id: row.id,
    status: row.status,
    ...credentials,
    asset_id: row.assetId,
    new_asset_settings: row.newAssetSettings ?? {},
    cors_origin: row.corsOrigin,
    max_size_bytes: row.maxSizeBytes,
    max_duration_seconds: row.maxDurationSeconds,
    allowed_content_types: row.allowedContentTypes,
    size: row.size,
    bytes_received: row.bytesReceived,
    correlation_id: row.correlationId,
    error: row.error,
    expires_at: row.expiresAt,
    created_at: row.createdAt,
    completed_at: row.completedAt,
  };
}

/** `data` of an `upload.*` event: the upload in the state `row` holds, without its URLs (they are bearer tokens). */
export async function uploadEventData(
  ctx: ServiceContext,
  row: Row,
  ids: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  return withResource(ids, await serializeUpload({ ...ctx, caller: { ...ctx.caller, scopes: [] } }, row));
}

async function uploadUrls(env: Env, row: Row): Promise<Pick<Upload, "url" | "tus_url">> {
  const open = OPEN.includes(row.status) && row.expiresAt > nowIso();
  const base = env.API_PUBLIC_URL.replace(/\/$/, "");
  const token = open ? await uploadUrlToken(env, row.id) : null;
  return {
    url: token ? `${base}/uploads/${row.id}?token=${token}` : null,
    tus_url: token ? `${base}/tus/${row.id}?token=${token}` : null,
  };
}

export async function createUpload({ ctx, input }: Verb<CreateUploadInput>) {
  const id = newId("upload");
  const settings = input.new_asset_settings ?? { playback_policy: "signed" as const };
  const row = rowWithDefaults(schema.uploads, {
    id,
    environmentId: ctx.caller.environmentId,
    status: "waiting",
    newAssetSettings: settings,
    corsOrigin: input.cors_origin ?? null,
    maxSizeBytes: input.max_size_bytes ?? null,
    maxDurationSeconds: input.max_duration_seconds ?? null,
    allowedContentTypes: input.allowed_content_types ?? null,
    correlationId: input.correlation_id ?? null,
    expiresAt: isoIn(input.expires_in * 1000),
  });
  const data = await uploadEventData(ctx, row, { upload_id: id, status: "waiting" });
  await commit(
    ctx,
    [ctx.db.insert(schema.uploads).values(row)],
    [
      {
        type: "upload.created",
        subjectId: id,
        uploadId: id,
        correlationId: input.correlation_id,
        data,
      },
    ],
    [{ action: "upload.create", resourceType: "upload", resourceId: id }],
  );
  return getUpload({ ctx, input: { uploadId: id } });
}

export async function loadUploadRow(ctx: ServiceContext, uploadId: string) {
  const row = await ctx.db.query.uploads.findFirst({
    where: and(eq(schema.uploads.id, uploadId), eq(schema.uploads.environmentId, ctx.caller.environmentId)),
  });
  if (!row) throw new NotFoundError("upload", uploadId);
  return row;
}

export async function getUpload({ ctx, input }: Verb<{ uploadId: string }>) {
  return serializeUpload(ctx, await loadUploadRow(ctx, input.uploadId));
}

export async function listUploads({ ctx, input }: Verb<{ limit: number; cursor?: string; status?: UploadStatus }>) {
  const after = decodeCursor(input.cursor, idPattern("upload"));
  const u = schema.uploads;
  const rows = await ctx.db
    .select()
    .from(u)
    .where(
      and(
        eq(u.environmentId, ctx.caller.environmentId),
        input.status ? eq(u.status, input.status) : undefined,
        after ? lt(u.id, after) : undefined,
      ),
    )
    .orderBy(desc(u.id))
    .limit(input.limit + 1);
  const { rows: pageRows, nextCursor } = page(rows, input.limit);
  return { data: await Promise.all(pageRows.map((r) => serializeUpload(ctx, r))), next_cursor: nextCursor };
}

/** Cancels an open upload. Cancelling one already cancelled is a no-op; a finished one is a conflict. */
export async function cancelUpload({ ctx, input }: Verb<{ uploadId: string }>) {
  const row = await loadUploadRow(ctx, input.uploadId);
  if (row.status === "cancelled") return;
  if (!OPEN.includes(row.status)) throw new InvalidStateError("upload", row.id, row.status, "cancel");
  // The tus session first: it aborts the R2 multipart upload and frees buffered bytes, and refuses
  // when the last byte already landed (the asset is being created; cancelling would race it).
  const session = await uploadSession(ctx.env, row.id).cancel();
  if (!session.ok) throw new InvalidStateError("upload", row.id, "completing", "cancel");
  const at = nowIso();
  const data = await uploadEventData(ctx, { ...row, status: "cancelled", updatedAt: at }, { upload_id: row.id });
  await commit(
    ctx,
    [
      ctx.db
        .update(schema.uploads)
        .set({ status: "cancelled", updatedAt: at })
        .where(and(eq(schema.uploads.id, row.id), eq(schema.uploads.status, row.status))),
      // Bytes already written as objects (a PUT's source) go too; the cron finishes it if this attempt fails.
      ...recordDeletions(ctx, { type: "upload", id: row.id }, uploadMediaPrefixes(row.id)),
    ],
    [
      {
        type: "upload.cancelled",
        subjectId: row.id,
        uploadId: row.id,
        correlationId: row.correlationId,
        data,
      },
    ],
    [{ action: "upload.cancel", resourceType: "upload", resourceId: row.id }],
  );
  ctx.waitUntil(runPendingDeletions(ctx.env, { type: "upload", id: row.id }).catch(() => undefined));
}
