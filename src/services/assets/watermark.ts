/**
 * The `watermark` field of POST /v1/assets (issue 16): validated here, stored on the asset, handed to the
 * transcoder with each job (./watermark-settings below). The layout rules live in src/lib/watermark.ts.
 */
import { z } from "@hono/zod-openapi";
import { ValidationError } from "../../lib/errors";
import { checkOutboundUrl } from "../../lib/url-safety";
import {
  PERCENT_RE,
  WATERMARK_MAX_BYTES,
  WATERMARK_MAX_SIDE,
  WATERMARK_POSITIONS,
  type WatermarkSettings,
  type WatermarkSpec,
} from "../../lib/watermark";

/** `12` (px) or `"5%"`. */
const LengthSchema = (maxPx: number, what: string) =>
  z
    .union([
      z.number().int().min(0).max(maxPx),
      z
        .string()
        .regex(PERCENT_RE, `must be a number of pixels or a percentage like '5%'`)
        .refine((v) => Number.parseFloat(v) <= 100, "a percentage must be at most 100%"),
    ])
    .openapi({ description: `${what}: pixels of the source picture (integer) or a percentage string ('5%').` });

export const WatermarkSchema = z
  .object({
    url: z
      .string()
      .url()
      .max(2048)
      .openapi({
        description: `A PNG, JPEG or WebP image (public http(s) only, at most ${WATERMARK_MAX_BYTES} bytes and ${WATERMARK_MAX_SIDE} px on a side), fetched by the transcoder like an ingest URL.`,
      }),
    position: z.enum(WATERMARK_POSITIONS).default("bottom-right"),
    margin_x: LengthSchema(4096, "Horizontal distance from the nearest edge (ignored for center)").default("3%"),
    margin_y: LengthSchema(4096, "Vertical distance from the nearest edge (ignored for center)").default("3%"),
    width: LengthSchema(WATERMARK_MAX_SIDE, "Width of the watermark (the height keeps its aspect ratio)")
      .refine((v) => v !== 0 && v !== "0%", "must be more than 0")
      .default("15%"),
    opacity: z.number().min(0.05).max(1).default(1),
  })
  .strict()
  .openapi("Watermark", {
    description:
      "An image burned into every rendition (and so into the MP4 download, which is copied " +
      "from the top rendition), the poster and the storyboard: no unwatermarked frame of the asset is served. " +
      "Thumbnails at a time and animated previews (rendered from the source) answer 404 for a watermarked asset. " +
      "The asset skips the remux fast path, so it becomes ready once the ladder is done. A clip of a watermarked " +
      "asset keeps its watermark unless it names its own.",
  });
export type Watermark = z.infer<typeof WatermarkSchema>;

/** The create-time URL check: a URL the transcoder would refuse is a 400 now, not an errored asset later. */
export function checkWatermarkUrl(env: { ALLOW_PRIVATE_INGEST_URLS?: string }, w: Watermark): void {
  const verdict = checkOutboundUrl(w.url, { allowPrivate: env.ALLOW_PRIVATE_INGEST_URLS === "true" });
  if (!verdict.ok) {
    throw new ValidationError(`The watermark URL was refused: ${verdict.reason}.`, [
      { location: "json.watermark.url", message: verdict.reason },
    ]);
  }
}

/** The job settings' `watermark` for an asset row (spread into JobSettings; nothing when it has none). */
export function watermarkSettings(
  env: { ALLOW_PRIVATE_INGEST_URLS?: string },
  row: { watermark?: WatermarkSpec | null },
): { watermark?: WatermarkSettings } {
  if (!row.watermark) return {};
  return { watermark: { ...row.watermark, allow_private: env.ALLOW_PRIVATE_INGEST_URLS === "true" } };
}
