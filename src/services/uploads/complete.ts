/**
 * Completing an upload: the single place that turns received bytes into an asset and a job. Called by
 * the one-shot PUT path and by tus when the last byte lands. Guarded on the upload's status in the
 * same batch, so a second completion of the same upload never creates a second asset, and an upload
 * cancelled or expired meanwhile never creates one at all (InvalidStateError).
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import { schema } from "../../db/client";
import { InvalidStateError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { nowIso } from "../../lib/time";
import type { MaxResolution } from "../../lib/transcoder-protocol";
import { serializeAsset } from "../assets/serialize";
import type { ServiceContext } from "../context";
import { commit, type EventInput, type Statement } from "../events/record";
import { rowWithDefaults, withResource } from "../events/snapshot";
import { enqueueJob, newJobStatement } from "../jobs/create";
import { serializePlaybackId } from "../playback-ids/verbs";
import { generatedTrackRows } from "../tracks/generated";
import type { GeneratedSubtitlesInput } from "../tracks/schemas";
import { uploadEventData } from "./verbs";

const UPLOAD_NOT_OPEN = "upload is no longer open";

export interface CompleteUploadInput {
  uploadId: string;
  /** R2 key where the complete source now lives. */
  sourceKey: string;
  size: number;
  contentType: string | null;
}

export async function completeUpload(
  ctx: ServiceContext,
  input: CompleteUploadInput,
): Promise<{ assetId: string; jobId: string | null; alreadyCompleted: boolean }> {
  const upload = await ctx.db.query.uploads.findFirst({
    where: and(eq(schema.uploads.id, input.uploadId), eq(schema.uploads.environmentId, ctx.caller.environmentId)),
  });
  if (!upload) throw new Error(`completeUpload: unknown upload ${input.uploadId}`);
  if (upload.status === "completed" && upload.assetId) {
    return { assetId: upload.assetId, jobId: null, alreadyCompleted: true };
  }
  const settings = (upload.newAssetSettings ?? {}) as Record<string, unknown>;
  const assetId = newId("asset");
  const at = nowIso();
  const maxResolution = (settings.max_resolution as MaxResolution | undefined) ?? "1080p";
  const mp4Support = settings.mp4_support === "standard" ? "standard" : "none";
  const policy = (settings.playback_policy as "public" | "signed" | undefined) ?? "signed";
  const { jobId, statement: jobInsert } = newJobStatement(ctx, {
    assetId,
    correlationId: upload.correlationId,
    settings: {
      max_resolution: maxResolution,
      fast_path: true,
      source_size_bytes: input.size,
      source_content_type: input.contentType ?? undefined,
      max_duration_seconds: upload.maxDurationSeconds ?? undefined,
      max_size_bytes: upload.maxSizeBytes ?? undefined,
      mp4_support: mp4Support,
    },
  });
  const playbackId = newId("playbackId");
  const completed = {
    status: "completed" as const,
    assetId,
    sourceKey: input.sourceKey,
    size: input.size,
    bytesReceived: input.size,
    contentType: input.contentType,
    completedAt: at,
    updatedAt: at,
  };
  const asset = rowWithDefaults(schema.assets, {
    id: assetId,
    environmentId: ctx.caller.environmentId,
    status: "queued",
    title: (settings.title as string | undefined) ?? null,
    description: (settings.description as string | undefined) ?? null,
    tags: (settings.tags as string[] | undefined) ?? [],
    externalId: (settings.external_id as string | undefined) ?? null,
    metadata: (settings.metadata as Record<string, string> | undefined) ?? {},
    passthrough: (settings.passthrough as string | undefined) ?? null,
    correlationId: upload.correlationId,
    playbackPolicy: policy,
    maxResolution,
    mp4Support,
    staticRenditions: mp4Support === "standard" ? { status: "preparing", files: [] } : null,
    uploadId: upload.id,
    sourceKey: input.sourceKey,
  });
  const playback = rowWithDefaults(schema.playbackIds, {
    id: playbackId,
    environmentId: ctx.caller.environmentId,
    assetId,
    policy,
  });
  // assets.upload_id is unique: if a concurrent completion won, this whole batch fails and rolls back.
  const statements: Statement[] = [
    ctx.db
      .update(schema.uploads)
      .set(completed)
      .where(and(eq(schema.uploads.id, upload.id), inArray(schema.uploads.status, ["waiting", "uploading"]))),
    // Abort the whole batch unless the update above really completed the upload (it may have been
    // cancelled or expired meanwhile): json() on a non-JSON string raises, and D1 rolls the batch back.
    ctx.db
      .select({
        guard: sql`CASE WHEN ${schema.uploads.status} = 'completed' AND ${schema.uploads.assetId} = ${assetId}
          THEN 1 ELSE json(${UPLOAD_NOT_OPEN}) END`,
      })
      .from(schema.uploads)
      .where(eq(schema.uploads.id, upload.id)),
  ];
  statements.push(
    ctx.db.insert(schema.assets).values(asset),
    ctx.db.insert(schema.playbackIds).values(playback),
    jobInsert,
  );
  const events: EventInput[] = [
    {
      type: "upload.completed",
      subjectId: upload.id,
      uploadId: upload.id,
      assetId,
      correlationId: upload.correlationId,
      data: await uploadEventData(
        ctx,
        { ...upload, ...completed },
        {
          upload_id: upload.id,
          asset_id: assetId,
          size: input.size,
        },
      ),
    },
    {
      type: "asset.created",
      subjectId: assetId,
      assetId,
      uploadId: upload.id,
      correlationId: upload.correlationId,
      data: withResource(
        { asset_id: assetId, upload_id: upload.id, status: "queued" },
        serializeAsset(ctx.env, asset, [playback]),
      ),
    },
    {
      type: "playback_id.created",
      subjectId: playbackId,
      assetId,
      correlationId: upload.correlationId,
      data: withResource(
        { playback_id: playbackId, asset_id: assetId, policy },
        serializePlaybackId(ctx.env, playback),
      ),
    },
  ];
  const generated = generatedTrackRows(ctx, asset, settings.generated_subtitles as GeneratedSubtitlesInput | undefined);
  statements.push(...generated.statements);
  events.push(...generated.events);
  try {
    await commit(ctx, statements, events, [
      { action: "upload.complete", resourceType: "upload", resourceId: upload.id, details: { asset_id: assetId } },
    ]);
  } catch (err) {
    const text = String((err as Error).message) + String((err as { cause?: Error }).cause?.message);
    if (!/UNIQUE|malformed JSON/i.test(text)) throw err;
    const winner = await ctx.db.query.uploads.findFirst({ where: eq(schema.uploads.id, upload.id) });
    if (winner?.status === "completed" && winner.assetId) {
      return { assetId: winner.assetId, jobId: null, alreadyCompleted: true };
    }
    throw new InvalidStateError("upload", upload.id, winner?.status ?? "missing", "complete");
  }
  await enqueueJob(ctx.env, jobId);
  return { assetId, jobId, alreadyCompleted: false };
}
