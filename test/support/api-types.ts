/**
 * Response shapes for tests, taken from the API contract instead of `any`: the SDK's generated OpenAPI types, narrowed
 * by the transcoder protocol where the document only says "object" (an asset's media tracks and renditions).
 */
import type { components } from "../../sdk/src/generated/openapi";
import type { Track as MediaTrack, Rendition } from "../../src/lib/transcoder-protocol";

type Schemas = components["schemas"];

/** RFC 9457 problem+json with our closed `code` vocabulary and the field-level `errors[]`. */
export type Problem = Schemas["Problem"];
/** An added track (`text` or `audio`), as POST/GET …/tracks answer. */
export type Track = Schemas["Track"];
export type TextTrack = Track;
/** An asset's `tracks[]`: the media tracks found at probe, then the added text tracks. */
export type AssetTrack = MediaTrack | TextTrack;
export type { MediaTrack, Rendition };
export type Asset = Omit<Schemas["Asset"], "tracks" | "renditions"> & {
  tracks: AssetTrack[];
  renditions: Rendition[];
};
export type ApiKey = Schemas["ApiKey"];
export type AuditEntry = Schemas["AuditEntry"];
export type CreatedApiKey = Schemas["CreatedApiKey"];
export type Event = Schemas["Event"];
export type DirectUploadResult = Schemas["DirectUploadResult"];
export type Health = Schemas["Health"];
export type LiveStream = Schemas["LiveStream"];
export type LiveStreamHealth = Schemas["LiveStreamHealth"];
/** A live stream as created or after a key reset: the only responses that carry its `stream_key`. */
export type CreatedLiveStream = LiveStream & { stream_key: string };
export type PlaybackId = Schemas["PlaybackId"];
export type SigningKey = Schemas["SigningKey"];
export type CreatedSigningKey = Schemas["CreatedSigningKey"];
export type SystemSigningKeyRotation = Schemas["SystemSigningKeyRotation"];
export type PlaybackTokens = Schemas["PlaybackTokens"];
export type SimulcastTarget = Schemas["SimulcastTarget"];
export type TimelineEntry = Schemas["TimelineEntry"];
export type Upload = Schemas["Upload"];
export type WebhookEndpoint = Schemas["WebhookEndpoint"];
export type WebhookEndpointWithSecret = Schemas["WebhookEndpointWithSecret"];
export type WebhookDelivery = Schemas["WebhookDelivery"];

/** A cursor-paginated list (`AssetList`, `UploadList`, …). */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** The transcoder's `GET /health` (transcoder/src/http/routes.ts `health`), the fields tests read. */
export interface TranscoderHealth {
  ok: boolean;
  ffmpeg: { path: string; source: string; version: string };
  ffprobe: { path: string; source: string; version: string };
  running: number;
  queued: number;
}
