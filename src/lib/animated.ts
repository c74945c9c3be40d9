/**
 * Animated previews (`/{playback_id}/animated.gif|webp?start=&end=&width=&fps=`): the one definition of
 * what a request means, shared by the edge (R2 lookup), the API (render + store) and the transcoder
 * (render). Pure: no bindings.
 *
 * Like still thumbnails (./thumbnails.ts), a request is snapped onto a small grid before anything else, so
 * a loop over parameters cannot make thousands of renders, and the result is content-addressed in R2:
 *
 *   start   snapped down to a multiple of 0.5 s, clamped inside the video        (default 0)
 *   end     snapped up to a multiple of 0.5 s; at most 10 s after start, at most the duration
 *                                                                           (default start + 5 s)
 *   width   snapped up to ANIMATED_WIDTHS (80 … 640), capped at 640           (default 320)
 *   fps     snapped up to ANIMATED_FPS (5 … 30), capped at 30                 (default 15)
 *
 *   assets/{asset}/animated/{run}/{start}-{end}_{width}w_{fps}fps.{gif|webp}
 *
 * Values over a cap are clamped (documented); malformed values are refused (400).
 */
import { z } from "zod";

export const ANIMATED_FORMATS = ["gif", "webp"] as const;
export const AnimatedFormatSchema = z.enum(ANIMATED_FORMATS);
export type AnimatedFormat = z.infer<typeof AnimatedFormatSchema>;

export const ANIMATED_WIDTHS = [80, 120, 160, 240, 320, 480, 640] as const;
export const ANIMATED_FPS = [5, 10, 15, 20, 25, 30] as const;
export const MAX_ANIMATED_SECONDS = 10;
export const ANIMATED_TIME_STEP = 0.5;
export const DEFAULT_ANIMATED_SECONDS = 5;
export const DEFAULT_ANIMATED_WIDTH = 320;
export const DEFAULT_ANIMATED_FPS = 15;
/** Distinct animated renders stored per asset run; past it new ones are refused (429), stored ones still serve. */
export const MAX_STORED_ANIMATED_PER_RUN = 50;
/** A 640 px, 10 s, 30 fps GIF of busy video is ~10–20 MB; anything past this is refused. */
export const MAX_ANIMATED_BYTES = 40 * 1024 * 1024;
const MAX_TIME = 86_400;

export const ANIMATED_CONTENT_TYPES: Record<AnimatedFormat, string> = { gif: "image/gif", webp: "image/webp" };

export interface RequestedAnimated {
  start?: number;
  end?: number;
  width?: number;
  fps?: number;
}

export interface AnimatedParams {
  format: AnimatedFormat;
  start: number;
  end: number;
  width: number;
  fps: number;
}

const TIME_RE = /^\d{1,5}(\.\d{1,6})?$/;
const INT_RE = /^\d{1,4}$/;

/** Parses query values; `{ error }` names the first bad one. */
export function parseAnimatedQuery(
  raw: Partial<Record<keyof RequestedAnimated, string | null>>,
): RequestedAnimated | { error: string } {
  const out: RequestedAnimated = {};
  for (const name of ["start", "end"] as const) {
    const v = raw[name];
    if (v === undefined || v === null) continue;
    if (!TIME_RE.test(v) || Number(v) > MAX_TIME) return { error: `${name} must be seconds (e.g. 2.5)` };
    out[name] = Number(v);
  }
  for (const name of ["width", "fps"] as const) {
    const v = raw[name];
    if (v === undefined || v === null) continue;
    if (!INT_RE.test(v) || Number(v) < 1) return { error: `${name} must be a positive integer` };
    out[name] = Number(v);
  }
  if (out.start !== undefined && out.end !== undefined && out.end <= out.start) {
    return { error: "end must be after start" };
  }
  return out;
}

const snapDown = (x: number) => Math.floor(x / ANIMATED_TIME_STEP + 1e-9) * ANIMATED_TIME_STEP;
const snapUp = (x: number) => Math.ceil(x / ANIMATED_TIME_STEP - 1e-9) * ANIMATED_TIME_STEP;

/** Null when the range lies wholly past the end of the video. */
export function normalizeAnimated(
  format: AnimatedFormat,
  req: RequestedAnimated,
  durationSeconds: number | null,
): AnimatedParams | null {
  const duration = durationSeconds && durationSeconds > 0 ? durationSeconds : null;
  const start = snapDown(req.start ?? 0);
  if (duration !== null && start >= duration) return null;
  let end = snapUp(req.end ?? start + DEFAULT_ANIMATED_SECONDS);
  end = Math.min(end, start + MAX_ANIMATED_SECONDS);
  if (duration !== null) end = Math.min(end, snapUp(duration));
  if (end <= start) end = start + ANIMATED_TIME_STEP;
  const width = ANIMATED_WIDTHS.find((w) => w >= (req.width ?? DEFAULT_ANIMATED_WIDTH)) ?? 640;
  const fps = ANIMATED_FPS.find((f) => f >= (req.fps ?? DEFAULT_ANIMATED_FPS)) ?? 30;
  return { format, start, end, width, fps };
}

export function animatedPrefix(assetId: string, runId: string): string {
  return `assets/${assetId}/animated/${runId}/`;
}

export function animatedKey(assetId: string, runId: string, p: AnimatedParams): string {
  return `${animatedPrefix(assetId, runId)}${p.start.toFixed(1)}-${p.end.toFixed(1)}_${p.width}w_${p.fps}fps.${p.format}`;
}

const Params = {
  format: AnimatedFormatSchema,
  start: z.number().min(0).max(MAX_TIME),
  end: z
    .number()
    .positive()
    .max(MAX_TIME + MAX_ANIMATED_SECONDS),
  width: z.number().int().min(1).max(640),
  fps: z.number().int().min(1).max(30),
};

/** Edge → API (`POST /internal/animated`, HMAC-signed like thumbnails). */
export const AnimatedRenderRequestSchema = z
  .object({
    asset_id: z.string().regex(/^as_[A-Za-z0-9]{8,40}$/),
    ...Params,
    playback_id: z.string().min(1).max(64).optional(),
  })
  .strict();
export type AnimatedRenderRequest = z.infer<typeof AnimatedRenderRequestSchema>;

/** The `animated` part of an API → transcoder `POST /thumbnails` request (see TranscoderThumbnailRequestSchema). */
export const TranscoderAnimatedSchema = z.object(Params).strict();
export type TranscoderAnimated = z.infer<typeof TranscoderAnimatedSchema>;
