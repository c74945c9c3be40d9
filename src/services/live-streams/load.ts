/** Environment-scoped reads and the view shared by the live stream verbs; the DO stub lookup. */
import { and, asc, eq, inArray, isNull } from "drizzle-orm";
import { schema } from "../../db/client";
import { NotFoundError } from "../../lib/errors";
import { playbackUrls } from "../../lib/playback-urls";
import type { LiveStream } from "../../live/live-stream";
import type { ServiceContext } from "../context";
import { withResource } from "../events/snapshot";
import type { LiveStreamView } from "./schemas";

export type LiveStreamRow = typeof schema.liveStreams.$inferSelect;

/** The stream's Durable Object: one per stream, named by the stream ID. */
export function liveStub(env: Env, streamId: string): DurableObjectStub<LiveStream> {
  return env.LIVE_STREAMS.get(env.LIVE_STREAMS.idFromName(streamId));
}

/** `{API_PUBLIC_URL}/live/{stream_key}/index.m3u8`: what ffmpeg's HLS muxer is given as its output. */
export function ingestUrl(env: Pick<Env, "API_PUBLIC_URL">, streamKey: string): string {
  return `${env.API_PUBLIC_URL.replace(/\/$/, "")}/live/${streamKey}/index.m3u8`;
}

export async function loadLiveStreamRow(ctx: ServiceContext, id: string): Promise<LiveStreamRow> {
  const row = await ctx.db.query.liveStreams.findFirst({
    where: and(
      eq(schema.liveStreams.id, id),
      eq(schema.liveStreams.environmentId, ctx.caller.environmentId),
      isNull(schema.liveStreams.deletedAt),
    ),
  });
  if (!row) throw new NotFoundError("live stream", id);
  return row;
}

export async function livePlaybackIds(ctx: ServiceContext, streamIds: string[]) {
  const map = new Map<string, { id: string; policy: "public" | "signed" }[]>();
  if (streamIds.length === 0) return map;
  const rows = await ctx.db
    .select({ id: schema.playbackIds.id, policy: schema.playbackIds.policy, sid: schema.playbackIds.liveStreamId })
    .from(schema.playbackIds)
    .where(and(inArray(schema.playbackIds.liveStreamId, streamIds), isNull(schema.playbackIds.deletedAt)))
    .orderBy(asc(schema.playbackIds.id));
  for (const r of rows) {
    const list = map.get(r.sid as string) ?? [];
    list.push({ id: r.id, policy: r.policy });
    map.set(r.sid as string, list);
  }
  return map;
}

export function serializeLiveStream(
  env: Pick<Env, "EDGE_PUBLIC_URL" | "API_PUBLIC_URL" | "RTMP_RELAY_URL">,
  row: LiveStreamRow,
  playbackIds: { id: string; policy: "public" | "signed" }[],
  streamKey?: string,
): LiveStreamView {
  return {
    id: row.id,
    status: row.status,
    connection: row.connection,
    ...(streamKey ? { stream_key: streamKey } : {}),
    ingest: {
      hls_url: streamKey ? ingestUrl(env, streamKey) : null,
      cmaf_url: streamKey ? ingestUrl(env, streamKey).replace(/index\.m3u8$/, "cmaf.mp4") : null,
      rtmp_url: env.RTMP_RELAY_URL ? env.RTMP_RELAY_URL.replace(/\/$/, "") : null,
    },
    latency_mode: row.latencyMode,
    renditions: (row.renditions ?? []) as LiveStreamView["renditions"],
    reconnect_window: row.reconnectWindow,
    max_continuous_duration: row.maxContinuousDuration,
    dvr_window: row.dvrWindow,
    recording: { mode: row.recording.mode, new_asset_settings: row.recording.new_asset_settings ?? {} },
    playback_ids: playbackIds.map((p) => ({ id: p.id, policy: p.policy, urls: playbackUrls(env, p.id) })),
    active_asset_id: row.activeAssetId,
    recent_asset_ids: row.recentAssetIds ?? [],
    passthrough: row.passthrough,
    correlation_id: row.correlationId,
    connected_at: row.connectedAt,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

export async function getLiveStreamView(ctx: ServiceContext, id: string, streamKey?: string) {
  const row = await loadLiveStreamRow(ctx, id);
  const pbs = await livePlaybackIds(ctx, [row.id]);
  return serializeLiveStream(ctx.env, row, pbs.get(row.id) ?? [], streamKey);
}

/** The ids a `live_stream.*` event carried before it carried the stream (kept for compatibility). */
export function liveEventData(row: Pick<LiveStreamRow, "id" | "passthrough">, extra: Record<string, unknown> = {}) {
  return { live_stream_id: row.id, passthrough: row.passthrough ?? null, ...extra };
}

/**
 * `data` of a `live_stream.*` event: the stream as GET shows it in the state `row` holds (never with its
 * stream key or ingest URL: GET shows neither), over the event's ids. `playbackIds` when they change in
 * the same batch (a new stream's); otherwise the stream's current ones are read.
 */
export async function liveStreamEventData(
  ctx: ServiceContext,
  row: LiveStreamRow,
  extra: Record<string, unknown> = {},
  playbackIds?: { id: string; policy: "public" | "signed" }[],
): Promise<Record<string, unknown>> {
  const pbs = playbackIds ?? (await livePlaybackIds(ctx, [row.id])).get(row.id) ?? [];
  return withResource(liveEventData(row, extra), serializeLiveStream(ctx.env, row, pbs));
}
