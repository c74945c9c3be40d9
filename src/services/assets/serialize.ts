import type { schema } from "../../db/client";
import { playbackUrls } from "../../lib/playback-urls";
import type { MaxResolution } from "../../lib/transcoder-protocol";
import type { Asset, StaticRenditions } from "./schemas";

type AssetRow = typeof schema.assets.$inferSelect;
type PlaybackRow = Pick<typeof schema.playbackIds.$inferSelect, "id" | "policy">;

/** The file a download URL points at: the first one, once the static renditions are ready. */
export function downloadFile(view: StaticRenditions): string | null {
  return view.status === "ready" ? (view.files[0]?.name ?? null) : null;
}

/**
 * `disabled` for mp4_support none. A `preparing` download of an asset that errored will never come:
 * it shows as `errored` (the pipeline failure is in `error`).
 */
export function staticRenditionsView(
  row: Pick<AssetRow, "mp4Support" | "staticRenditions" | "status">,
): StaticRenditions {
  if (row.mp4Support !== "standard") return { status: "disabled", files: [] };
  const stored = row.staticRenditions ?? { status: "preparing" as const, files: [] };
  const status = stored.status === "preparing" && row.status === "errored" ? "errored" : stored.status;
  return { status, files: status === "ready" ? (stored.files as StaticRenditions["files"]) : [] };
}

/** `textTracks`: added subtitle/caption tracks, listed after the media tracks found at probe. */
export function serializeAsset(
  env: Pick<Env, "EDGE_PUBLIC_URL">,
  row: AssetRow,
  playbackIds: PlaybackRow[],
  textTracks: Record<string, unknown>[] = [],
): Asset {
  const staticRenditions = staticRenditionsView(row);
  // Only assets with mp4_support carry the field (null until the file is ready).
  const download = staticRenditions.status === "disabled" ? undefined : { file: downloadFile(staticRenditions) };
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
    mp4_support: row.mp4Support,
    static_renditions: staticRenditions,
    playback_ids: playbackIds.map((p) => ({ id: p.id, policy: p.policy, urls: playbackUrls(env, p.id, download) })),
    upload_id: row.uploadId,
    source_asset_id: row.sourceAssetId,
    clip: row.clip ? { start_time: row.clip.start_time, end_time: row.clip.end_time } : null,
    chapters: row.chapters ?? [],
    watermark: row.watermark ?? null,
    duration: row.duration === null ? null : row.duration / 1000,
    aspect_ratio: row.aspectRatio,
    resolution: row.resolution,
    max_frame_rate: row.maxFrameRate === null ? null : Number(row.maxFrameRate),
    tracks: [...((row.tracks ?? []) as Record<string, unknown>[]), ...textTracks],
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
