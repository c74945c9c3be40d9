import { z } from "@hono/zod-openapi";
import { AUDIO_TRACK_ERROR_CODES } from "../../lib/audio-tracks";
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

const LanguageCodeSchema = z
  .string()
  .max(35)
  .refine((v) => canonicalLanguage(v) !== null, "must be a well-formed BCP 47 language tag (e.g. 'en', 'pt-BR')")
  .openapi({ example: "en-US" });

export const CreateTextTrackSchema = z
  .object({
    type: z.literal("text"),
    text_type: z.enum(["subtitles", "captions"]).openapi({
      description:
        "`subtitles`: a translation of the dialogue. `captions`: dialogue plus sounds and music, for viewers who cannot hear.",
    }),
    language_code: LanguageCodeSchema,
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
  .openapi("CreateTextTrackRequest");

export const MAX_GENERATED_SUBTITLES = 5;

/** How a generated track can fail (src/services/tracks/generated.ts). */
export const GENERATED_TRACK_ERROR_CODES = [
  "text_generation_unavailable",
  "text_generation_no_audio",
  "text_generation_asset_errored",
  "text_generation_failed",
] as const;

export const GeneratedSubtitlesSchema = z
  .array(
    z
      .object({
        language_code: LanguageCodeSchema.openapi({ description: "The language spoken in the asset's audio." }),
        name: z.string().trim().min(1).max(100).optional().openapi({
          description: "Shown in players' track menus. Default: the language's English name and '(generated)'.",
        }),
      })
      .strict(),
  )
  .max(MAX_GENERATED_SUBTITLES)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((g, i) => {
      const tag = canonicalLanguage(g.language_code);
      if (tag && seen.has(tag)) {
        ctx.addIssue({ code: "custom", path: [i, "language_code"], message: `'${tag}' is asked for twice` });
      }
      if (tag) seen.add(tag);
    });
  })
  .openapi("GeneratedSubtitles", {
    description:
      "Subtitles to generate from the audio by speech-to-text, one text track per entry (`source: generated`), " +
      "`preparing` until the asset is ready and the deployment's speech engine has run. A deployment without one " +
      "(the default: no engine ships with Keyframe) errors each such track with `text_generation_unavailable`.",
  });
export type GeneratedSubtitlesInput = z.infer<typeof GeneratedSubtitlesSchema>;

export const CreateAudioTrackSchema = z
  .object({
    type: z.literal("audio"),
    url: z.string().url().max(2048).openapi({
      description:
        "An audio (or audio and video) file the transcoder fetches (public http(s) only, every redirect checked). Its first audio stream becomes the track.",
      example: "https://example.com/dub-fr.m4a",
    }),
    language_code: LanguageCodeSchema,
    name: z.string().trim().min(1).max(100).optional().openapi({
      description: "Shown in players' audio menus. Default: the language's English name.",
    }),
    default: z.boolean().optional().openapi({
      description:
        "Players pick this audio unless the viewer chose another (DEFAULT=YES in the audio group). At most one audio track per asset: setting it clears it on the others.",
    }),
    correlation_id: z.string().max(200).optional(),
  })
  .strict()
  .openapi("CreateAudioTrackRequest");

export const CreateTrackSchema = z
  .discriminatedUnion("type", [CreateTextTrackSchema, CreateAudioTrackSchema])
  .openapi("CreateTrackRequest");
export type CreateTrackInput = z.infer<typeof CreateTrackSchema>;
export type CreateTextTrackInput = z.infer<typeof CreateTextTrackSchema>;
export type CreateAudioTrackInput = z.infer<typeof CreateAudioTrackSchema>;

export const TrackErrorSchema = z
  .object({
    code: z.string().openapi({
      description: `Text: text_url_forbidden | text_fetch_failed | text_too_large | text_encoding_invalid | text_empty | text_format_unknown | text_timestamp_invalid | text_timing_invalid | text_cue_too_long | text_too_many_cues. Generated text: ${GENERATED_TRACK_ERROR_CODES.join(" | ")}. Audio: ${AUDIO_TRACK_ERROR_CODES.join(" | ")}.`,
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
    type: z
      .enum(["text", "audio"])
      .openapi({ description: "`text`: subtitles or captions. `audio`: a dubbed audio track." }),
    text_type: z.enum(["subtitles", "captions"]).nullable().openapi({ description: "Text tracks; null for audio." }),
    status: z.enum(["preparing", "ready", "errored"]),
    language_code: z.string(),
    name: z.string(),
    closed_captions: z.boolean(),
    default: z.boolean(),
    source: z.enum(["url", "inline", "generated"]).openapi({
      description:
        "`url` or `inline`: a file you sent. `generated`: speech-to-text (the asset's `generated_subtitles`).",
    }),
    format: z.enum(["srt", "webvtt"]).nullable().openapi({ description: "Text tracks: the file's format." }),
    cue_count: z.number().int().nullable(),
    dropped_cues: z.number().int().nullable(),
    duration: z.number().nullable().openapi({
      description:
        "Audio tracks, once ready: seconds of the encoded track (the asset's duration, cut or padded to it).",
    }),
    max_channels: z.number().int().nullable().openapi({ description: "Audio tracks, once ready: channels (2)." }),
    error: TrackErrorSchema.nullable(),
    correlation_id: z.string().nullable(),
    created_at: z.string(),
    ready_at: z.string().nullable(),
  })
  .openapi("Track");
export type Track = z.infer<typeof TrackSchema>;
