/** Asset shapes at the API boundary: what callers may send and what they get back. */
import { z } from "@hono/zod-openapi";
import { idPattern } from "../../lib/ids";
import { PlaybackUrlsSchema } from "../../lib/playback-urls";
import { MaxResolutionSchema, Mp4SupportSchema, StaticRenditionNameSchema } from "../../lib/transcoder-protocol";
import { GeneratedSubtitlesSchema } from "../tracks/schemas";
import { WatermarkSchema } from "./watermark";

export const AssetIdSchema = z
  .string()
  .regex(idPattern("asset"), "must be an asset ID (as_…)")
  .openapi({ param: { name: "asset_id", in: "path" }, example: "as_0kzq3h1x2a00abcdefghjkmnpq" });

export const PlaybackPolicySchema = z.enum(["public", "signed"]);
export const TagsSchema = z.array(z.string().min(1).max(64)).max(50);
export const MetadataSchema = z
  .record(z.string().min(1).max(64), z.string().max(1024))
  .refine((m) => Object.keys(m).length <= 50, "at most 50 metadata keys")
  .openapi({ description: "Free-form string key/values (≤ 50 keys)." });
export const CorrelationIdSchema = z
  .string()
  .min(1)
  .max(255)
  .openapi({ description: "Your own operation ID; follows the object into jobs, logs and webhook payloads." });

/** Fields an app can set on an asset, shared by create, update and upload `new_asset_settings`. */
export const AssetMetaFields = {
  title: z.string().max(512).nullable().optional(),
  description: z.string().max(5000).nullable().optional(),
  tags: TagsSchema.optional(),
  external_id: z.string().max(255).nullable().optional(),
  metadata: MetadataSchema.optional(),
  passthrough: z.string().max(1024).nullable().optional(),
};

export const Mp4SupportFieldSchema = Mp4SupportSchema.openapi({
  description:
    "`standard`: also produce a progressive MP4 download (`highest.mp4`; `audio.m4a` for audio-only assets) " +
    "after the adaptive ladder. Default `none`.",
});

/** Shortest clip: about one frame at 10 fps, so a clip always has a frame to show. */
export const MIN_CLIP_SECONDS = 0.1;

/**
 * Either a URL to ingest, or a range of an existing ready asset to cut a new asset from (a clip).
 * One object rather than a union so a mix of both gets one precise error instead of two branches' noise.
 */
export const AssetInputSchema = z
  .object({
    url: z
      .string()
      .url()
      .max(2048)
      .optional()
      .openapi({ description: "http(s) URL to ingest from, fetched off the request path." }),
    asset_id: z
      .string()
      .regex(idPattern("asset"), "must be an asset ID (as_…)")
      .optional()
      .openapi({
        description:
          "Make a clip of this ready asset (same environment) instead of ingesting a file; or of a live " +
          "stream's recording, also while it is still recording (the range must lie in what is recorded so far: " +
          "422 `range_not_recorded` otherwise).",
      }),
    start_time: z
      .number()
      .finite()
      .nonnegative()
      .optional()
      .openapi({ description: "Clip start, seconds into the source asset (default 0). Only with `asset_id`." }),
    end_time: z.number().finite().positive().optional().openapi({
      description: "Clip end, seconds into the source asset (default: its duration). Only with `asset_id`.",
    }),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.url !== undefined && v.asset_id !== undefined) {
      ctx.addIssue({ code: "custom", path: ["asset_id"], message: "send either url or asset_id, not both" });
    } else if (v.url === undefined && v.asset_id === undefined) {
      ctx.addIssue({ code: "custom", path: [], message: "send url or asset_id" });
    }
    if (v.asset_id === undefined) {
      for (const f of ["start_time", "end_time"] as const) {
        if (v[f] !== undefined) ctx.addIssue({ code: "custom", path: [f], message: `${f} needs asset_id` });
      }
    }
    if (v.end_time !== undefined && v.end_time - (v.start_time ?? 0) < MIN_CLIP_SECONDS) {
      ctx.addIssue({
        code: "custom",
        path: ["end_time"],
        message: `end_time must be at least ${MIN_CLIP_SECONDS} s after start_time`,
      });
    }
  })
  .openapi("AssetInput", {
    description:
      "`{ url }` ingests a file. `{ asset_id, start_time, end_time }` cuts a frame-accurate clip of a ready " +
      "asset into a new asset (re-encoded from the source asset's original; see the README).",
  });

export const MAX_CHAPTERS = 500;
export const ChapterSchema = z
  .object({
    start_time: z.number().finite().nonnegative().openapi({ description: "Seconds from the start of the asset." }),
    title: z
      .string()
      .trim()
      .min(1)
      .max(256)
      .refine((t) => !/[\r\n]|-->/.test(t), "a title is one line and may not contain '-->'"),
  })
  .strict()
  .openapi("Chapter");
export type Chapter = z.infer<typeof ChapterSchema>;

/** Chapter markers; each runs to the next one's start (the last to the end of the asset). */
export const ChaptersSchema = z
  .array(ChapterSchema)
  .max(MAX_CHAPTERS)
  .superRefine((list, ctx) => {
    const seen = new Set<number>();
    list.forEach((c, i) => {
      if (seen.has(c.start_time)) {
        ctx.addIssue({ code: "custom", path: [i, "start_time"], message: "two chapters start at the same time" });
      }
      seen.add(c.start_time);
    });
  })
  .openapi({
    description:
      "Chapter markers, any order (stored sorted by start_time). Served as a WebVTT chapters file at " +
      "`{edge}/{playback_id}/chapters.vtt` and shown in the embed player. `[]` removes them.",
  });

export const CreateAssetSchema = z
  .object({
    ...AssetMetaFields,
    playback_policy: PlaybackPolicySchema.optional().openapi({
      description: "Create a playback ID with this policy alongside the asset.",
    }),
    max_resolution: MaxResolutionSchema.optional(),
    mp4_support: Mp4SupportFieldSchema.optional(),
    correlation_id: CorrelationIdSchema.optional(),
    input: AssetInputSchema.optional(),
    chapters: ChaptersSchema.optional(),
    watermark: WatermarkSchema.optional(),
    generated_subtitles: GeneratedSubtitlesSchema.optional(),
  })
  .strict()
  .openapi("CreateAssetRequest");
export type CreateAssetInput = z.infer<typeof CreateAssetSchema>;

export const UpdateAssetSchema = z
  .object({ ...AssetMetaFields, chapters: ChaptersSchema.optional() })
  .strict()
  .refine((v) => Object.keys(v).length > 0, "send at least one field to update")
  .openapi("UpdateAssetRequest");
export type UpdateAssetInput = z.infer<typeof UpdateAssetSchema>;

export const ASSET_STATUSES = ["waiting", "queued", "processing", "ready", "errored"] as const;

export const PlaybackIdRefSchema = z.object({ id: z.string(), policy: PlaybackPolicySchema, urls: PlaybackUrlsSchema });

export const StaticRenditionFileViewSchema = z
  .object({
    name: StaticRenditionNameSchema,
    ext: z.enum(["mp4", "m4a"]),
    width: z.number().int().optional(),
    height: z.number().int().optional(),
    bitrate: z.number().int().openapi({ description: "Average bits/s." }),
    filesize: z.number().int().openapi({ description: "Bytes." }),
  })
  .openapi("StaticRenditionFile");

export const StaticRenditionsSchema = z
  .object({
    status: z.enum(["disabled", "preparing", "ready", "errored"]),
    files: z.array(StaticRenditionFileViewSchema),
  })
  .openapi("StaticRenditions", {
    description:
      "Progressive downloads. `disabled` when mp4_support is `none`; `preparing` until the ladder is done; " +
      "files are served at `{edge}/{playback_id}/downloads/{name}` (signed playback IDs: a token with aud `d`).",
  });
export type StaticRenditions = z.infer<typeof StaticRenditionsSchema>;

export const AssetSchema = z
  .object({
    id: z.string(),
    status: z.enum([...ASSET_STATUSES, "deleted"]),
    title: z.string().nullable(),
    description: z.string().nullable(),
    tags: z.array(z.string()),
    external_id: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    passthrough: z.string().nullable(),
    correlation_id: z.string().nullable(),
    max_resolution: MaxResolutionSchema,
    mp4_support: Mp4SupportSchema,
    static_renditions: StaticRenditionsSchema,
    playback_ids: z.array(PlaybackIdRefSchema),
    upload_id: z.string().nullable(),
    source_asset_id: z
      .string()
      .nullable()
      .openapi({ description: "For a clip: the asset it was cut from (`input.asset_id` at creation)." }),
    clip: z
      .object({ start_time: z.number(), end_time: z.number() })
      .nullable()
      .openapi({ description: "For a clip: the range of the source asset it holds, in seconds." }),
    chapters: z.array(ChapterSchema),
    watermark: WatermarkSchema.nullable(),
    duration: z.number().nullable().openapi({ description: "Seconds." }),
    aspect_ratio: z.string().nullable(),
    resolution: z.string().nullable(),
    max_frame_rate: z.number().nullable(),
    tracks: z.array(z.record(z.string(), z.unknown())),
    renditions: z.array(z.record(z.string(), z.unknown())),
    renditions_status: z.enum(["preparing", "complete"]).nullable(),
    source: z.record(z.string(), z.unknown()).nullable(),
    progress: z.object({ stage: z.string(), percent: z.number() }).nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    ready_at: z.string().nullable(),
  })
  .openapi("Asset");
export type Asset = z.infer<typeof AssetSchema>;
