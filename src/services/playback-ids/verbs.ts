/**
 * Playback IDs: how an asset or a live stream is exposed to viewers, each with its own policy and origin
 * allow-list. One set of verbs over an owner (asset or live stream); the asset routes and the live-stream
 * routes (../live-streams/playback-ids.ts) load their owner and call these.
 */
import { and, asc, eq, isNull } from "drizzle-orm";
import { schema } from "../../db/client";
import { NotFoundError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { playbackUrls } from "../../lib/playback-urls";
import { nowIso } from "../../lib/time";
import { loadAssetRow } from "../assets/load";
import type { ServiceContext, Verb } from "../context";
import { commit } from "../events/record";
import { rowWithDefaults, withResource } from "../events/snapshot";
import type { CreatePlaybackIdInput, PlaybackId } from "./schemas";

type Row = typeof schema.playbackIds.$inferSelect;

/** What a playback ID points at. Asset-owned IDs' events carry the asset (its timeline shows them). */
export interface PlaybackOwner {
  kind: "asset" | "live_stream";
  id: string;
  correlationId: string | null;
}

const pb = schema.playbackIds;
const ownerColumn = (o: PlaybackOwner) => (o.kind === "asset" ? pb.assetId : pb.liveStreamId);
const ownerRef = (o: PlaybackOwner) => (o.kind === "asset" ? { asset_id: o.id } : { live_stream_id: o.id });
const ownerRow = (o: PlaybackOwner) => (o.kind === "asset" ? { assetId: o.id } : { liveStreamId: o.id });
const eventAsset = (o: PlaybackOwner) => (o.kind === "asset" ? { assetId: o.id } : {});

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

async function loadOwnedRow(ctx: ServiceContext, owner: PlaybackOwner, playbackId: string): Promise<Row> {
  const row = await ctx.db.query.playbackIds.findFirst({
    where: and(
      eq(pb.id, playbackId),
      eq(ownerColumn(owner), owner.id),
      eq(pb.environmentId, ctx.caller.environmentId),
      isNull(pb.deletedAt),
    ),
  });
  if (!row) throw new NotFoundError("playback ID", playbackId);
  return row;
}

export async function createOwnedPlaybackId(ctx: ServiceContext, owner: PlaybackOwner, body: CreatePlaybackIdInput) {
  const id = newId("playbackId");
  const row = rowWithDefaults(pb, {
    id,
    environmentId: ctx.caller.environmentId,
    ...ownerRow(owner),
    policy: body.policy,
    allowedOrigins: (body.allowed_origins ?? []).map((o) => o.toLowerCase()),
    allowNoReferrer: body.allow_no_referrer ?? true,
  });
  await commit(
    ctx,
    [ctx.db.insert(pb).values(row)],
    [
      {
        type: "playback_id.created",
        subjectId: id,
        ...eventAsset(owner),
        correlationId: owner.correlationId,
        data: withResource(
          { playback_id: id, ...ownerRef(owner), policy: body.policy },
          serializePlaybackId(ctx.env, row),
        ),
      },
    ],
    [{ action: "playback_id.create", resourceType: "playback_id", resourceId: id }],
  );
  return serializePlaybackId(ctx.env, await loadOwnedRow(ctx, owner, id));
}

export async function getOwnedPlaybackId(ctx: ServiceContext, owner: PlaybackOwner, playbackId: string) {
  return serializePlaybackId(ctx.env, await loadOwnedRow(ctx, owner, playbackId));
}

export async function listOwnedPlaybackIds(ctx: ServiceContext, owner: PlaybackOwner) {
  const rows = await ctx.db
    .select()
    .from(pb)
    .where(and(eq(ownerColumn(owner), owner.id), isNull(pb.deletedAt)))
    .orderBy(asc(pb.id));
  return { data: rows.map((r) => serializePlaybackId(ctx.env, r)), next_cursor: null };
}

export async function deleteOwnedPlaybackId(ctx: ServiceContext, owner: PlaybackOwner, playbackId: string) {
  const row = await loadOwnedRow(ctx, owner, playbackId);
  await commit(
    ctx,
    [ctx.db.update(pb).set({ deletedAt: nowIso() }).where(eq(pb.id, row.id))],
    [
      {
        type: "playback_id.deleted",
        subjectId: row.id,
        ...eventAsset(owner),
        correlationId: owner.correlationId,
        // The last state: the playback ID as GET showed it just before the delete.
        data: withResource({ playback_id: row.id, ...ownerRef(owner) }, serializePlaybackId(ctx.env, row)),
      },
    ],
    [{ action: "playback_id.delete", resourceType: "playback_id", resourceId: row.id }],
  );
}

async function assetOwner(ctx: ServiceContext, assetId: string): Promise<PlaybackOwner> {
  const asset = await loadAssetRow(ctx, assetId);
  return { kind: "asset", id: asset.id, correlationId: asset.correlationId };
}

export async function createPlaybackId({ ctx, input }: Verb<{ assetId: string; body: CreatePlaybackIdInput }>) {
  return createOwnedPlaybackId(ctx, await assetOwner(ctx, input.assetId), input.body);
}

export async function getPlaybackId({ ctx, input }: Verb<{ assetId: string; playbackId: string }>) {
  return getOwnedPlaybackId(ctx, await assetOwner(ctx, input.assetId), input.playbackId);
}

export async function listPlaybackIds({ ctx, input }: Verb<{ assetId: string }>) {
  return listOwnedPlaybackIds(ctx, await assetOwner(ctx, input.assetId));
}

export async function deletePlaybackId({ ctx, input }: Verb<{ assetId: string; playbackId: string }>) {
  return deleteOwnedPlaybackId(ctx, await assetOwner(ctx, input.assetId), input.playbackId);
}
