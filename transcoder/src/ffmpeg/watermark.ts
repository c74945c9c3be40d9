/**
 * The watermark as an ffmpeg filter graph fragment: the image (input `inputIndex`) scaled to its width in
 * source pixels, its alpha multiplied by the opacity, overlaid on the picture at full source size — before
 * the ladder's split, so every rung gets the same picture scaled down and one overlay serves them all.
 */
import { type WatermarkLayout, type WatermarkSpec, watermarkLayout } from "../../../src/lib/watermark.js";

export interface WatermarkInput {
  /** Local path of the checked image (../watermark.ts). */
  path: string;
  spec: Omit<WatermarkSpec, "url">;
}

/**
 * Graph chains that take `[${from}]` (a picture `width`×`height` in display size) to `[${to}]` with the
 * watermark burned in.
 */
export function overlayChains(
  inputIndex: number,
  from: string,
  to: string,
  width: number,
  height: number,
  spec: Omit<WatermarkSpec, "url">,
): string[] {
  const layout: WatermarkLayout = watermarkLayout(spec, width, height);
  const alpha = layout.opacity < 1 ? `,colorchannelmixer=aa=${layout.opacity.toFixed(3)}` : "";
  return [
    `[${inputIndex}:v]scale=${layout.width}:-2,format=rgba${alpha}[wm_${to}]`,
    // eof_action=repeat (the default) keeps the single picture over every frame.
    `[${from}][wm_${to}]overlay=x=${layout.x}:y=${layout.y}:format=auto,format=yuv420p[${to}]`,
  ];
}
