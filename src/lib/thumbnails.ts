/**
 * Thumbnails at a time and size: the one definition of what a request means, shared by the edge (which
 * looks the result up in R2), the API (which has it rendered and stores it) and the transcoder (which
 * renders it). Pure: no bindings.
 *
 * A request is normalised before anything else: time rounded to 0.1 s and clamped into the video, a
 * missing time becomes the poster's time, and a fit mode only matters when both dimensions are given.
 * Two requests that normalise alike share one R2 object:
 *
 *   assets/{asset}/thumbs/{run}/{time}_{width|auto}x{height|auto}_{fit_mode}.jpg
 *
 * The key names the run, so a re-processed asset never serves a frame of its previous run, and it sits
 * under `assets/{asset}/`, so deleting the asset deletes its thumbnails.
 */
import { z } from "zod";

export const FIT_MODES = ["preserve", "stretch", "crop", "smartcrop", "pad"] as const;
export const FitModeSchema = z.enum(FIT_MODES);
export type FitMode = z.infer<typeof FitModeSchema>;

export const MAX_THUMBNAIL_DIMENSION = 3840;
export const MAX_THUMBNAIL_TIME = 86_400;
/** Renders larger than this are refused by the API (a 3840x3840 JPEG at q 3 is ~3 MB). */
export const MAX_THUMBNAIL_BYTES = 16 * 1024 * 1024;

/** What a viewer asked for, validated but not yet normalised (absent = not given). */
export interface RequestedThumbnail {
  time?: number;
  width?: number;
  height?: number;
  fit_mode?: FitMode;
}

/** A normalised request: equal values mean the same image. */
export interface ThumbnailParams {
  /** Seconds, a multiple of 0.1, inside the video when its duration is known. */
  time: number;
  width: number | null;
  height: number | null;
  fit_mode: FitMode;
}

const TIME_RE = /^\d{1,5}(\.\d{1,6})?$/;
const DIM_RE = /^\d{1,4}$/;

/** Parses query-string values; null when any given value is invalid. */
export function parseThumbnailQuery(raw: Partial<Record<keyof RequestedThumbnail, string>>): RequestedThumbnail | null {
  const out: RequestedThumbnail = {};
  if (raw.time !== undefined) {
    if (!TIME_RE.test(raw.time) || Number(raw.time) > MAX_THUMBNAIL_TIME) return null;
    out.time = Number(raw.time);
  }
  for (const dim of ["width", "height"] as const) {
    const v = raw[dim];
    if (v === undefined) continue;
    if (!DIM_RE.test(v) || Number(v) < 1 || Number(v) > MAX_THUMBNAIL_DIMENSION) return null;
    out[dim] = Number(v);
  }
  if (raw.fit_mode !== undefined) {
    const fit = FitModeSchema.safeParse(raw.fit_mode);
    if (!fit.success) return null;
    out.fit_mode = fit.data;
  }
  return out;
}

/** Does a query value equal a value pinned in a token? Numbers compare as numbers (`5` = `5.0`). */
export function sameThumbnailValue(name: keyof RequestedThumbnail, query: string, pinned: unknown): boolean {
  if (name === "fit_mode") return query === String(pinned);
  return query.trim() !== "" && Number(query) === Number(pinned);
}

/** The poster's time (see transcoder/src/ffmpeg/poster.ts posterTime): 10% in, or 1 s for short clips. */
export function defaultThumbnailTime(durationSeconds: number | null): number {
  if (!durationSeconds || !(durationSeconds > 0)) return 0;
  return durationSeconds >= 10 ? durationSeconds * 0.1 : Math.min(1, durationSeconds / 2);
}

/**
 * The latest time worth seeking to: 0.1 s before the end, so the seek still lands on a frame (a frame
 * lasts ≤ 0.1 s at ≥ 10 fps; the transcoder steps back further for slower video).
 */
export function lastThumbnailTime(durationSeconds: number | null): number {
  if (!durationSeconds || !(durationSeconds > 0)) return MAX_THUMBNAIL_TIME;
  return Math.max(0, Math.floor((durationSeconds - 0.1) * 10 + 1e-6) / 10);
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export function normalizeThumbnail(req: RequestedThumbnail, durationSeconds: number | null): ThumbnailParams {
  const wanted = req.time ?? defaultThumbnailTime(durationSeconds);
  const time = Math.min(round1(Math.max(0, wanted)), lastThumbnailTime(durationSeconds));
  const width = req.width ?? null;
  const height = req.height ?? null;
  // With one dimension (or none) the other follows the aspect ratio whatever the mode: one image, one key.
  const fit_mode = width !== null && height !== null ? (req.fit_mode ?? "preserve") : "preserve";
  return { time: round1(time), width, height, fit_mode };
}

export function thumbnailKey(assetId: string, runId: string, p: ThumbnailParams): string {
  return `assets/${assetId}/thumbs/${runId}/${p.time.toFixed(1)}_${p.width ?? "auto"}x${p.height ?? "auto"}_${p.fit_mode}.jpg`;
}

const Dimension = z.number().int().min(1).max(MAX_THUMBNAIL_DIMENSION).nullable();
const Time = z.number().min(0).max(MAX_THUMBNAIL_TIME);

/** Edge → API (`POST /internal/thumbnails`, HMAC-signed, see edge-auth.ts): render one thumbnail. */
export const ThumbnailRenderRequestSchema = z
  .object({
    asset_id: z.string().regex(/^as_[A-Za-z0-9]{8,40}$/),
    time: Time,
    width: Dimension,
    height: Dimension,
    fit_mode: FitModeSchema,
  })
  .strict();
export type ThumbnailRenderRequest = z.infer<typeof ThumbnailRenderRequestSchema>;

/**
 * API → transcoder (`POST /thumbnails`, answered synchronously with image/jpeg). `source_url` is read
 * with `Authorization: Bearer <source_token>` (Range), a token that can read one asset's source only.
 */
export const TranscoderThumbnailRequestSchema = z
  .object({
    asset_id: z.string().min(1).max(64),
    source_url: z.url({ protocol: /^https?$/ }),
    source_token: z.string().min(20).max(4096),
    time: Time,
    /** Seconds; when known the time is clamped into the video. */
    duration: z.number().positive().nullable().optional(),
    width: Dimension,
    height: Dimension,
    fit_mode: FitModeSchema,
  })
  .strict();
export type TranscoderThumbnailRequest = z.infer<typeof TranscoderThumbnailRequestSchema>;

/** Response headers of a rendered or cached thumbnail (transcoder → API → edge → viewer). */
export const THUMBNAIL_HEADER = "x-keyframe-thumbnail";
export const THUMBNAIL_TIME_HEADER = "x-keyframe-thumbnail-time";
