import { z } from "@hono/zod-openapi";
import { idPattern } from "../../lib/ids";
import { SUBTITLE_LIMITS } from "../../lib/webvtt";

export const TrackIdParamSchema = z
  .string()
  .regex(idPattern("track"), "must be a track ID (tr_…)")
  .openapi({ param: { name: "track_id", in: "path" } });

/** Canonical BCP 47 tag, or null when the tag is not well-formed. */
export function canonicalLanguage(tag: string): string | null {
  if (!/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(tag)) return null;
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? null;
  } catch {
    return null;
  }
}

/** Inline content fits the API's 1 MiB JSON body limit; larger files come by URL (up to maxBytes). */
export const MAX_INLINE_CONTENT_CHARS = 1_000_000;

export const CreateTrackSchema = z
  .object({
    type: z.literal("text"),
    text_type: z.enum(["subtitles", "captions"]).openapi({
      description:
        "`subtitles`: a translation of the dialogue. `captions`: dialogue plus sounds and music, for viewers who cannot hear.",
    }),
    language_code: z
      .string()
      .max(35)
      .refine((v) => canonicalLanguage(v) !== null, "must be a well-formed BCP 47 language tag (e.g. 'en', 'pt-BR')")
      .openapi({ example: "en-US" }),
    name: z.string().trim().min(1).max(100).optional().openapi({
      description: "Shown in players' track menus. Default: the language's English name.",
    }),
    closed_captions: z.boolean().optional().openapi({
      description: "Marks the track as closed captions (SDH). Default: true for `captions`, false for `subtitles`.",
    }),
    default: z.boolean().optional().openapi({
      description:
        "Players select this track unless the viewer chose another. At most one per asset: setting it clears it on the others.",
    }),
    url: z
      .string()
      .url()
      .max(2048)
      .optional()
      .openapi({
        description: `An SRT or WebVTT file the API fetches (public http(s) only, up to ${SUBTITLE_LIMITS.maxBytes} bytes).`,
      }),
    content: z.string().max(MAX_INLINE_CONTENT_CHARS).optional().openapi({
      description: "The SRT or WebVTT file itself, for small files (the request body is capped at 1 MiB).",
    }),
    correlation_id: z.string().max(200).optional(),
  })
  .strict()
  // "Exactly one of url/content" is checked by the verb after the asset lookup, so another environment's
  // asset is a 404 whatever the body (a zod refine here would answer 400 first).
  .openapi("CreateTrackRequest");
export type CreateTrackInput = z.infer<typeof CreateTrackSchema>;

export const TrackErrorSchema = z
  .object({
    code: z.string().openapi({
      description:
        "text_url_forbidden | text_fetch_failed | text_too_large | text_encoding_invalid | text_empty | text_format_unknown | text_timestamp_invalid | text_timing_invalid | text_cue_too_long | text_too_many_cues",
    }),
    message: z.string(),
    line: z.number().int().optional(),
    cue: z.number().int().optional(),
  })
  .openapi("TrackError");

export const TrackSchema = z
  .object({
    id: z.string(),
    asset_id: z.string(),
    type: z.literal("text"),
    text_type: z.enum(["subtitles", "captions"]),
    status: z.enum(["preparing", "ready", "errored"]),
    language_code: z.string(),
    name: z.string(),
    closed_captions: z.boolean(),
    default: z.boolean(),
    source: z.enum(["url", "inline"]),
    format: z.enum(["srt", "webvtt"]).nullable(),
    cue_count: z.number().int().nullable(),
    dropped_cues: z.number().int().nullable(),
    error: TrackErrorSchema.nullable(),
    correlation_id: z.string().nullable(),
    created_at: z.string(),
    ready_at: z.string().nullable(),
  })
  .openapi("Track");
export type Track = z.infer<typeof TrackSchema>;
