/**
 * Thumbnails at a time and size: the one definition of what a request means, shared by the edge (which
 * looks the result up in R2), the API (which has it rendered and stores it) and the transcoder (which
 * renders it). Pure: no bindings.
 *
 * A request is normalised before anything else, onto a small grid (so a loop over every width or
 * every tenth of a second cannot make thousands of renders, see THUMBNAIL_SIZES / thumbnailTimeStep):
 * width and height snap UP to the next size in THUMBNAIL_SIZES, time snaps to the nearest multiple of
 * a step tied to the duration (0.1 s for clips up to 20 s, then duration / 200, so at most ~200
 * positions per video) and is clamped into the video; a missing time becomes the poster's time, and a
 * fit mode only matters when both dimensions are given. Two requests that normalise alike share one
 * R2 object:
 *
 *   assets/{asset}/thumbs/{run}/{time}_{width|auto}x{height|auto}_{fit_mode}.jpg
 *
 * The key names the run, so a re-processed asset never serves a frame of its previous run, and it sits
 * under `assets/{asset}/`, so deleting the asset deletes its thumbnails.
 */
import { z } from "zod";
import { TranscoderAnimatedSchema } from "./animated";

export const FIT_MODES = ["preserve", "stretch", "crop", "smartcrop", "pad"] as const;
export const FitModeSchema = z.enum(FIT_MODES);
export type FitMode = z.infer<typeof FitModeSchema>;

export const MAX_THUMBNAIL_DIMENSION = 3840;
/**
 * The sizes a thumbnail can have (pixels, for width and height alike). A requested dimension snaps up to
 * the next one, so the image is never smaller than asked; `?width=1..200` can make at most 7 images.
 */
export const THUMBNAIL_SIZES = [
  64, 90, 100, 120, 160, 180, 200, 240, 320, 360, 480, 540, 640, 720, 854, 960, 1080, 1280, 1440, 1920, 2160, 2560,
  3840,
] as const;
/** Time positions per video at most (beyond 20 s the time step grows with the duration). */
export const THUMBNAIL_TIME_POSITIONS = 200;
/** Distinct renders stored per asset run; past it the nearest stored render is served instead. */
export const MAX_STORED_RENDERS_PER_RUN = 200;
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

/** The time grid's step in seconds: 0.1 s up to 20 s of video, then duration / 200 (in 0.1 s units). */
export function thumbnailTimeStep(durationSeconds: number | null): number {
  if (!durationSeconds || !(durationSeconds > 0)) return 0.1;
  return Math.max(1, Math.ceil((durationSeconds * 10) / THUMBNAIL_TIME_POSITIONS - 1e-9)) / 10;
}

/** The grid size a requested dimension snaps up to. */
export function snapThumbnailSize(px: number): number {
  return THUMBNAIL_SIZES.find((s) => s >= px) ?? MAX_THUMBNAIL_DIMENSION;
}

export function normalizeThumbnail(req: RequestedThumbnail, durationSeconds: number | null): ThumbnailParams {
  const wanted = req.time ?? defaultThumbnailTime(durationSeconds);
  const step = thumbnailTimeStep(durationSeconds);
  const snapped = round1(Math.round(Math.max(0, wanted) / step) * step);
  const time = Math.min(snapped, lastThumbnailTime(durationSeconds));
  const width = req.width === undefined ? null : snapThumbnailSize(req.width);
  const height = req.height === undefined ? null : snapThumbnailSize(req.height);
  // With one dimension (or none) the other follows the aspect ratio whatever the mode: one image, one key.
  const fit_mode = width !== null && height !== null ? (req.fit_mode ?? "preserve") : "preserve";
  return { time: round1(time), width, height, fit_mode };
}

export function thumbnailPrefix(assetId: string, runId: string): string {
  return `assets/${assetId}/thumbs/${runId}/`;
}

export function thumbnailKey(assetId: string, runId: string, p: ThumbnailParams): string {
  return `${thumbnailPrefix(assetId, runId)}${p.time.toFixed(1)}_${p.width ?? "auto"}x${p.height ?? "auto"}_${p.fit_mode}.jpg`;
}

/** The inverse of thumbnailKey's file name; null for anything else. */
export function parseThumbnailKey(key: string): ThumbnailParams | null {
  const m = /\/(\d+\.\d)_(\d+|auto)x(\d+|auto)_([a-z]+)\.jpg$/.exec(key);
  if (!m) return null;
  const fit = FitModeSchema.safeParse(m[4]);
  if (!fit.success) return null;
  const dim = (v: string) => (v === "auto" ? null : Number(v));
  return { time: Number(m[1]), width: dim(m[2]), height: dim(m[3]), fit_mode: fit.data };
}

/**
 * The stored render closest to what was asked: same fit mode and dimensions given first, then nearest
 * in time, then nearest in size. Used past MAX_STORED_RENDERS_PER_RUN instead of rendering.
 */
export function nearestThumbnail(want: ThumbnailParams, keys: readonly string[]): string | null {
  let best: { key: string; score: number } | null = null;
  for (const key of keys) {
    const p = parseThumbnailKey(key);
    if (!p) continue;
    const shape =
      (p.fit_mode === want.fit_mode ? 0 : 1) +
      ((p.width === null) !== (want.width === null) ? 1 : 0) +
      ((p.height === null) !== (want.height === null) ? 1 : 0);
    const size = Math.abs((p.width ?? 0) - (want.width ?? 0)) + Math.abs((p.height ?? 0) - (want.height ?? 0));
    const score = shape * 1e9 + Math.abs(p.time - want.time) * 1e5 + size;
    if (!best || score < best.score) best = { key, score };
  }
  return best?.key ?? null;
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
    /** The playback ID the viewer used: renders are rate-limited per playback ID (absent: per asset). */
    playback_id: z.string().min(1).max(64).optional(),
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
    /** Render an animated preview of this range instead of a still (./animated.ts); `time` = its start. */
    animated: TranscoderAnimatedSchema.optional(),
  })
  .strict();
export type TranscoderThumbnailRequest = z.infer<typeof TranscoderThumbnailRequestSchema>;

/** Response headers of a rendered or cached thumbnail (transcoder → API → edge → viewer). */
export const THUMBNAIL_HEADER = "x-keyframe-thumbnail";
export const THUMBNAIL_TIME_HEADER = "x-keyframe-thumbnail-time";
