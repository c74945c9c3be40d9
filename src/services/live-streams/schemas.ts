/** Live stream shapes at the API boundary: what callers may send and what they get back. */
import { z } from "@hono/zod-openapi";
import { idPattern } from "../../lib/ids";
import { LiveRenditionSchema } from "../../lib/live-ladder-protocol";
import { MaxResolutionSchema } from "../../lib/transcoder-protocol";
import {
  AssetMetaFields,
  CorrelationIdSchema,
  Mp4SupportFieldSchema,
  PlaybackIdRefSchema,
  PlaybackPolicySchema,
} from "../assets/schemas";
import { GeneratedSubtitlesSchema } from "../tracks/schemas";

export const LiveStreamIdSchema = z
  .string()
  .regex(idPattern("liveStream"), "must be a live stream ID (ls_…)")
  .openapi({ param: { name: "live_stream_id", in: "path" }, example: "ls_0kzq3h1x2a00abcdefghjkmnpq" });

export const LIVE_STATUSES = ["idle", "active", "disabled"] as const;
export const LatencyModeSchema = z.enum(["standard", "low"]).openapi({
  description: "`standard`: ≈6 s segments. `low`: ≈2 s segments (configure the encoder's -hls_time to match).",
});

/** Target segment duration per latency mode, in seconds: what the live playlist's TARGETDURATION assumes. */
export const TARGET_DURATION_S = { standard: 6, low: 2 } as const;

export const RecordingSettingsSchema = z
  .object({
    mode: z.enum(["automatic", "off"]).openapi({
      description: "`automatic`: every broadcast session records into a new asset that is `ready` when it ends.",
    }),
    new_asset_settings: z
      .object({
        ...AssetMetaFields,
        playback_policy: PlaybackPolicySchema.optional(),
        mp4_support: Mp4SupportFieldSchema.optional(),
        max_resolution: MaxResolutionSchema.optional().openapi({
          description: "Top rung of the ladder the recording is transcoded into after the broadcast (default 1080p).",
        }),
        generated_subtitles: GeneratedSubtitlesSchema.optional(),
      })
      .strict()
      .optional()
      .openapi({
        description:
          "Applied to each recording asset: title, description, tags, external_id, metadata, passthrough, " +
          "playback_policy (a playback ID is created), mp4_support, max_resolution (the pipeline run after " +
          "the broadcast) and generated_subtitles. Changes apply to the next broadcast's recording.",
      }),
  })
  .strict()
  .openapi("LiveRecordingSettings");

const SettingsFields = {
  reconnect_window: z.number().int().min(0).max(1800).optional().openapi({
    description: "Seconds an encoder may stay away and come back into the same session (default 60).",
  }),
  max_continuous_duration: z.number().int().min(60).max(43200).optional().openapi({
    description: "Seconds after which a session is ended (default 43200 = 12 h).",
  }),
  latency_mode: LatencyModeSchema.optional(),
  recording: RecordingSettingsSchema.optional(),
  dvr_window: z.number().int().min(0).max(21600).optional().openapi({
    description: "Seconds viewers can seek back in the live playlist (0 = a short sliding window).",
  }),
  passthrough: z.string().max(1024).nullable().optional(),
  renditions: z
    .array(LiveRenditionSchema)
    .max(8)
    .optional()
    .openapi({
      description:
        "The live ladder: lower renditions the transcoder encodes from the broadcast while it is on air, segment " +
        "by segment, listed in the live master next to the source rendition (which is never re-encoded) and kept " +
        "in the recording. Each must be at most `recording.new_asset_settings.max_resolution` (default 1080p), " +
        "unique, at most 4, and needs `latency_mode: standard`; one at or above the broadcast's own height is " +
        "skipped. `[]` (the default) turns the ladder off. Changes apply while the stream is idle.",
      example: ["720p", "360p"],
    }),
};

export const CreateLiveStreamSchema = z
  .object({
    ...SettingsFields,
    playback_policy: PlaybackPolicySchema.optional().openapi({
      description: "Create a playback ID with this policy alongside the stream.",
    }),
    correlation_id: CorrelationIdSchema.optional(),
  })
  .strict()
  .openapi("CreateLiveStreamRequest");
export type CreateLiveStreamInput = z.infer<typeof CreateLiveStreamSchema>;

export const UpdateLiveStreamSchema = z
  .object(SettingsFields)
  .strict()
  .refine((v) => Object.keys(v).length > 0, "send at least one field to update")
  .openapi("UpdateLiveStreamRequest");
export type UpdateLiveStreamInput = z.infer<typeof UpdateLiveStreamSchema>;

export const LiveStreamSchema = z
  .object({
    id: z.string(),
    status: z.enum(LIVE_STATUSES),
    connection: z.enum(["connected", "disconnected"]),
    stream_key: z.string().optional().openapi({
      description: "The secret that authorizes ingest. Returned only by create and reset-stream-key; stored hashed.",
    }),
    ingest: z.object({
      hls_url: z.string().nullable().openapi({
        description:
          "The exact URL to give ffmpeg as its HLS output (`-f hls -method PUT`). Only when `stream_key` is shown.",
      }),
      cmaf_url: z.string().nullable().openapi({
        description:
          "The URL for a CMAF chunked push: one long-lived PUT of fragmented MP4 (`ffmpeg -f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof+cmaf -frag_duration 500000 -method PUT`; ffmpeg 4.x does not know `+cmaf`: leave it out there), read as it arrives. With `latency_mode: low` each fragment is published as an LL-HLS part (EXT-X-PART, blocking playlist reload). Only when `stream_key` is shown.",
      }),
      rtmp_url: z.string().nullable().openapi({
        description:
          "The RTMP relay's server URL (OBS: Server; the Stream Key is `stream_key`), or null when this deployment runs no relay. Publish to `{rtmp_url}/{stream_key}`.",
        example: "rtmp://rtmp.example.com/live",
      }),
    }),
    latency_mode: LatencyModeSchema,
    renditions: z.array(LiveRenditionSchema).openapi({
      description: "The live ladder's renditions, largest first (`[]`: the source rendition only).",
    }),
    reconnect_window: z.number().int(),
    max_continuous_duration: z.number().int(),
    dvr_window: z.number().int(),
    recording: z.object({ mode: z.enum(["automatic", "off"]), new_asset_settings: z.record(z.string(), z.unknown()) }),
    playback_ids: z.array(PlaybackIdRefSchema),
    active_asset_id: z.string().nullable(),
    recent_asset_ids: z.array(z.string()),
    passthrough: z.string().nullable(),
    correlation_id: z.string().nullable(),
    connected_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("LiveStream");
export type LiveStreamView = z.infer<typeof LiveStreamSchema>;

export const LiveHealthSchema = z
  .object({
    status: z.enum(LIVE_STATUSES),
    connection: z.enum(["connected", "disconnected"]),
    session_id: z.string().nullable(),
    connected_since: z.string().nullable(),
    last_segment_at: z.string().nullable(),
    target_segment_duration: z.number(),
    average_segment_duration: z.number().nullable().openapi({ description: "Seconds, over the last 10 segments." }),
    ingest_bitrate: z.number().nullable().openapi({ description: "bits/s over the last 10 segments." }),
    average_segment_interval: z.number().nullable().openapi({
      description:
        "Seconds between segment arrivals over the last 10 (the encoder's cadence; near the target when healthy).",
    }),
    container: z.enum(["mpegts", "fmp4"]).nullable(),
    codecs: z.string().nullable().openapi({
      description: "RFC 6381 codecs of the current connection (from its init segment or its MPEG-TS headers).",
    }),
    video_width: z.number().int().nullable(),
    video_height: z.number().int().nullable(),
    keyframe_aligned: z.boolean().nullable().openapi({
      description:
        "Whether every segment of the current connection starts with a keyframe (MPEG-TS: random access flag).",
    }),
    segments: z.number().int(),
    reconnects: z.number().int(),
    dropped_segments: z.number().int().openapi({
      description: "This session's segments received but skipped by the encoder's playlist (a later one is listed).",
    }),
    late_segments: z.number().int().openapi({
      description: "This session's segments that arrived more than 1.5× the target duration after the previous one.",
    }),
    refused_requests: z
      .number()
      .int()
      .openapi({ description: "Ingest requests refused since the stream was created." }),
  })
  .openapi("LiveStreamHealth");
export type LiveHealth = z.infer<typeof LiveHealthSchema>;
