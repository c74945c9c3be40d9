import type { schema } from "../../db/client";
import type { AudioTrackDetails, TextTrackDetails } from "../../db/schema";
import type { Track } from "./schemas";

export type TrackRow = typeof schema.assetTracks.$inferSelect;

export { textTrackKey as trackKey } from "../../lib/webvtt";

export function serializeTrack(row: TrackRow): Track {
  const text = row.type === "text" ? (row.details as TextTrackDetails | null) : null;
  const audio = row.type === "audio" ? (row.details as AudioTrackDetails | null) : null;
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
    format: (text?.format as Track["format"]) ?? null,
    cue_count: text?.cue_count ?? null,
    dropped_cues: text?.dropped_cues ?? null,
    duration: audio?.duration ?? null,
    max_channels: audio?.channels ?? null,
    error: row.error ?? null,
    correlation_id: row.correlationId,
    created_at: row.createdAt,
    ready_at: row.readyAt,
  };
}
