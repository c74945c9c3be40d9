import type { schema } from "../../db/client";
import { playbackUrls } from "../../lib/playback-urls";
import type { MaxResolution } from "../../lib/transcoder-protocol";
import type { Asset } from "./schemas";

type AssetRow = typeof schema.assets.$inferSelect;
type PlaybackRow = Pick<typeof schema.playbackIds.$inferSelect, "id" | "policy">;

export function serializeAsset(env: Pick<Env, "EDGE_PUBLIC_URL">, row: AssetRow, playbackIds: PlaybackRow[]): Asset {
  return {
    id: row.id,
    status: row.status,
    title: row.title,
    description: row.description,
    tags: row.tags ?? [],
    external_id: row.externalId,
    metadata: row.metadata ?? {},
    passthrough: row.passthrough,
    correlation_id: row.correlationId,
    max_resolution: row.maxResolution as MaxResolution,
    playback_ids: playbackIds.map((p) => ({ id: p.id, policy: p.policy, urls: playbackUrls(env, p.id) })),
    upload_id: row.uploadId,
    duration: row.duration === null ? null : row.duration / 1000,
    aspect_ratio: row.aspectRatio,
    resolution: row.resolution,
    max_frame_rate: row.maxFrameRate === null ? null : Number(row.maxFrameRate),
    tracks: (row.tracks ?? []) as Record<string, unknown>[],
    renditions: (row.renditions ?? []) as Record<string, unknown>[],
    renditions_status: row.renditionsStatus,
    source: row.source,
    progress: row.progress,
    error: row.error,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
    ready_at: row.readyAt,
  };
}
