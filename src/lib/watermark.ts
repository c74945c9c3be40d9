/**
 * Watermarks (issue 16): an image burned into every rendition of an asset. The request shape (shared by the
 * API's create schema and the job settings the transcoder receives) and the layout arithmetic both sides use:
 * sizes and margins are pixels of the source picture as displayed, or a percentage of its width (width,
 * margin_x) or height (margin_y), so every rendition shows the same watermark scaled with the picture.
 */
import { z } from "zod";

export const WATERMARK_POSITIONS = ["top-left", "top-right", "bottom-left", "bottom-right", "center"] as const;
export type WatermarkPosition = (typeof WATERMARK_POSITIONS)[number];

/** The image as fetched: at most this many bytes and this many pixels on a side. */
export const WATERMARK_MAX_BYTES = 2 * 1024 * 1024;
export const WATERMARK_MAX_SIDE = 4096;

export const PERCENT_RE = /^(\d{1,3}(\.\d{1,2})?)%$/;

/** What the transcoder gets: the watermark plus whether private addresses may be fetched (dev/test only). */
export const WatermarkSettingsSchema = z.object({
  url: z.string().url(),
  position: z.enum(WATERMARK_POSITIONS),
  margin_x: z.union([z.number(), z.string()]),
  margin_y: z.union([z.number(), z.string()]),
  width: z.union([z.number(), z.string()]),
  opacity: z.number().min(0).max(1),
  allow_private: z.boolean().default(false),
});
export type WatermarkSettings = z.infer<typeof WatermarkSettingsSchema>;
/** A watermark as stored on the asset row (the API's `watermark` with its defaults applied). */
export type WatermarkSpec = Omit<WatermarkSettings, "allow_private">;

/** A length in pixels of a picture `total` px long on that axis. */
export function resolveLength(value: number | string, total: number): number {
  if (typeof value === "number") return value;
  const m = PERCENT_RE.exec(value);
  return m ? Math.round((Number.parseFloat(m[1]) / 100) * total) : 0;
}

export interface WatermarkLayout {
  /** Overlay width in px of the source picture (even, ≥ 2); the height follows the image's aspect ratio. */
  width: number;
  /** ffmpeg overlay x/y expressions (`W`, `H` the picture, `w`, `h` the scaled watermark). */
  x: string;
  y: string;
  opacity: number;
}

export function watermarkLayout(
  w: Omit<WatermarkSettings, "url" | "allow_private">,
  pictureWidth: number,
  pictureHeight: number,
): WatermarkLayout {
  const width = Math.max(2, Math.min(pictureWidth, Math.round(resolveLength(w.width, pictureWidth) / 2) * 2));
  const mx = resolveLength(w.margin_x, pictureWidth);
  const my = resolveLength(w.margin_y, pictureHeight);
  const left = String(mx);
  const right = `W-w-${mx}`;
  const top = String(my);
  const bottom = `H-h-${my}`;
  const [x, y] =
    w.position === "top-left"
      ? [left, top]
      : w.position === "top-right"
        ? [right, top]
        : w.position === "bottom-left"
          ? [left, bottom]
          : w.position === "bottom-right"
            ? [right, bottom]
            : ["(W-w)/2", "(H-h)/2"];
  return { width, x, y, opacity: w.opacity };
}
