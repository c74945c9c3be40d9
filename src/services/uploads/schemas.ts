import { z } from "@hono/zod-openapi";
import { idPattern } from "../../lib/ids";
import { MaxResolutionSchema } from "../../lib/transcoder-protocol";
import { AssetMetaFields, CorrelationIdSchema, Mp4SupportFieldSchema, PlaybackPolicySchema } from "../assets/schemas";
import { GeneratedSubtitlesSchema } from "../tracks/schemas";

export const UploadIdSchema = z
  .string()
  .regex(idPattern("upload"), "must be an upload ID (up_…)")
  .openapi({ param: { name: "upload_id", in: "path" } });

export const MAX_UPLOAD_BYTES = 50 * 1024 ** 4; // 50 TiB ceiling on any declared size; policy sets the real cap.
export const DEFAULT_UPLOAD_EXPIRES_IN = 3600;
export const MAX_UPLOAD_EXPIRES_IN = 7 * 24 * 3600;

export const NewAssetSettingsSchema = z
  .object({
    ...AssetMetaFields,
    playback_policy: PlaybackPolicySchema.default("signed").openapi({
      description: "Playback policy of the asset's first playback ID. Private (`signed`) by default.",
    }),
    max_resolution: MaxResolutionSchema.optional(),
    mp4_support: Mp4SupportFieldSchema.optional(),
    generated_subtitles: GeneratedSubtitlesSchema.optional(),
  })
  .strict()
  .openapi("NewAssetSettings");

export const ContentTypePatternSchema = z
  .string()
  .max(100)
  .regex(/^[a-z]+\/([a-z0-9.+-]+|\*)$/i, "must be a MIME type like 'video/mp4' or 'video/*'");

export const CreateUploadSchema = z
  .object({
    new_asset_settings: NewAssetSettingsSchema.optional(),
    cors_origin: z
      .string()
      .max(255)
      .regex(/^(\*|https?:\/\/[^/\s]+)$/, "must be '*' or an origin like 'https://app.example.com'")
      .optional(),
    expires_in: z.number().int().min(60).max(MAX_UPLOAD_EXPIRES_IN).default(DEFAULT_UPLOAD_EXPIRES_IN).openapi({
      description: "Seconds the upload URL stays valid (60 s – 7 days, default 1 h).",
    }),
    max_size_bytes: z.number().int().positive().max(MAX_UPLOAD_BYTES).optional(),
    max_duration_seconds: z
      .number()
      .int()
      .positive()
      .max(24 * 3600)
      .optional(),
    allowed_content_types: z.array(ContentTypePatternSchema).min(1).max(20).optional(),
    correlation_id: CorrelationIdSchema.optional(),
  })
  .strict()
  .openapi("CreateUploadRequest");
export type CreateUploadInput = z.infer<typeof CreateUploadSchema>;

export const UploadSchema = z
  .object({
    id: z.string(),
    status: z.enum(["waiting", "uploading", "completed", "expired", "cancelled", "errored"]),
    url: z
      .string()
      .nullable()
      .optional()
      .openapi({
        description:
          "One-time URL to PUT the file to; null once no longer usable. It is a credential: only keys with " +
          "`uploads:write` (or `*`) receive it; for other keys the field is omitted.",
      }),
    tus_url: z.string().nullable().optional().openapi({
      description:
        "tus 1.0 endpoint for resumable uploads (same token, same rule as `url`: omitted for keys without `uploads:write`).",
    }),
    asset_id: z.string().nullable(),
    new_asset_settings: z.record(z.string(), z.unknown()),
    cors_origin: z.string().nullable(),
    max_size_bytes: z.number().nullable(),
    max_duration_seconds: z.number().nullable(),
    allowed_content_types: z.array(z.string()).nullable(),
    size: z.number().nullable(),
    bytes_received: z.number(),
    correlation_id: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    expires_at: z.string(),
    created_at: z.string(),
    completed_at: z.string().nullable(),
  })
  .openapi("Upload");
export type Upload = z.infer<typeof UploadSchema>;
