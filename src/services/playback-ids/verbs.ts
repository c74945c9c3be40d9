/** Playback IDs: how an asset is exposed to viewers, each with its own policy and origin allow-list. */
import { and, asc, eq, isNull } from "drizzle-orm";
import { schema } from "../../db/client";
import { NotFoundError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { playbackUrls } from "../../lib/playback-urls";
import { nowIso } from "../../lib/time";
import { loadAssetRow } from "../assets/load";
import type { Verb } from "../context";
import { commit } from "../events/record";
import { rowWithDefaults, withResource } from "../events/snapshot";
import type { CreatePlaybackIdInput, PlaybackId } from "./schemas";

type Row = typeof schema.playbackIds.$inferSelect;

export function serializePlaybackId(env: Pick<Env, "EDGE_PUBLIC_URL">, row: Row): PlaybackId {
  return {
    id: row.id,
    asset_id: row.assetId,
    live_stream_id: row.liveStreamId,
    policy: row.policy,
    allowed_origins: row.allowedOrigins ?? [],
    allow_no_referrer: row.allowNoReferrer,
    urls: playbackUrls(env, row.id),
    created_at: row.createdAt,
  };
}

export async function createPlaybackId({ ctx, input }: Verb<{ assetId: string; body: CreatePlaybackIdInput }>) {
  const asset = await loadAssetRow(ctx, input.assetId);
  const id = newId("playbackId");
  const origins = (input.body.allowed_origins ?? []).map((o) => o.toLowerCase());
  const row = rowWithDefaults(schema.playbackIds, {
    id,
    environmentId: ctx.caller.environmentId,
    assetId: asset.id,
    policy: input.body.policy,
    allowedOrigins: origins,
    allowNoReferrer: input.body.allow_no_referrer ?? true,
  });
  await commit(
    ctx,
    [ctx.db.insert(schema.playbackIds).values(row)],
    [
      {
        type: "playback_id.created",
        subjectId: id,
        assetId: asset.id,
        correlationId: asset.correlationId,
        data: withResource(
          { playback_id: id, asset_id: asset.id, policy: input.body.policy },
          serializePlaybackId(ctx.env, row),
        ),
      },
    ],
    [{ action: "playback_id.create", resourceType: "playback_id", resourceId: id }],
  );
  return getPlaybackId({ ctx, input: { assetId: asset.id, playbackId: id } });
}

async function loadPlaybackRow(ctx: Verb<unknown>["ctx"], assetId: string, playbackId: string) {
  const row = await ctx.db.query.playbackIds.findFirst({
    where: and(
      eq(schema.playbackIds.id, playbackId),
      eq(schema.playbackIds.assetId, assetId),
      eq(schema.playbackIds.environmentId, ctx.caller.environmentId),
      isNull(schema.playbackIds.deletedAt),
    ),
  });
  if (!row) throw new NotFoundError("playback ID", playbackId);
  return row;
}

export async function getPlaybackId({ ctx, input }: Verb<{ assetId: string; playbackId: string }>) {
  await loadAssetRow(ctx, input.assetId);
  return serializePlaybackId(ctx.env, await loadPlaybackRow(ctx, input.assetId, input.playbackId));
}

export async function listPlaybackIds({ ctx, input }: Verb<{ assetId: string }>) {
  const asset = await loadAssetRow(ctx, input.assetId);
  const rows = await ctx.db
    .select()
    .from(schema.playbackIds)
    .where(and(eq(schema.playbackIds.assetId, asset.id), isNull(schema.playbackIds.deletedAt)))
    .orderBy(asc(schema.playbackIds.id));
  return { data: rows.map((r) => serializePlaybackId(ctx.env, r)), next_cursor: null };
}

export async function deletePlaybackId({ ctx, input }: Verb<{ assetId: string; playbackId: string }>) {
  const asset = await loadAssetRow(ctx, input.assetId);
  const row = await loadPlaybackRow(ctx, asset.id, input.playbackId);
  await commit(
    ctx,
    [ctx.db.update(schema.playbackIds).set({ deletedAt: nowIso() }).where(eq(schema.playbackIds.id, row.id))],
    [
      {
        type: "playback_id.deleted",
        subjectId: row.id,
        assetId: asset.id,
        correlationId: asset.correlationId,
        // The last state: the playback ID as GET showed it just before the delete.
        data: withResource({ playback_id: row.id, asset_id: asset.id }, serializePlaybackId(ctx.env, row)),
      },
    ],
    [{ action: "playback_id.delete", resourceType: "playback_id", resourceId: row.id }],
  );
}
