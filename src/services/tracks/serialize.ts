import type { schema } from "../../db/client";
import type { Track } from "./schemas";

export type TrackRow = typeof schema.assetTracks.$inferSelect;

export { textTrackKey as trackKey } from "../../lib/webvtt";

export function serializeTrack(row: TrackRow): Track {
  return {
    id: row.id,
    asset_id: row.assetId,
    type: row.type,
    text_type: row.textType,
    status: row.status,
    language_code: row.languageCode,
    name: row.name,
    closed_captions: row.closedCaptions,
    default: row.isDefault,
    source: row.sourceKind,
    format: (row.details?.format as Track["format"]) ?? null,
    cue_count: row.details?.cue_count ?? null,
    dropped_cues: row.details?.dropped_cues ?? null,
    error: row.error ?? null,
    correlation_id: row.correlationId,
    created_at: row.createdAt,
    ready_at: row.readyAt,
  };
}
