/** Poster: one JPEG frame near the start (10% in, or 1 s for short clips), at most 1280 wide. */
import { stat } from "node:fs/promises";
import path from "node:path";
import { watermarkInputArgs } from "../watermark.js";
import { inputPolicyArgs } from "./input-policy.js";
import { type RunFfmpegOptions, runFfmpeg } from "./process.js";
import { overlayChains, type WatermarkInput } from "./watermark.js";

export const POSTER_NAME = "poster.jpg";
export const POSTER_MAX_WIDTH = 1280;

export interface PosterOptions {
  kind: "poster";
  input: string;
  /** Output path, relative to the cwd ffmpeg runs in, or absolute. */
  output: string;
  streamIndex: number;
  atSeconds: number;
  width: number;
  height: number;
  deinterlace?: boolean;
  /** The asset's watermark, burned in at display size before the poster is scaled (as in the ladder). */
  watermark?: WatermarkInput & { displayWidth: number; displayHeight: number };
}

function even(x: number): number {
  return Math.max(2, Math.round(x / 2) * 2);
}

export function posterTime(duration: number): number {
  if (!(duration > 0)) return 0;
  return duration >= 10 ? duration * 0.1 : Math.min(1, duration / 2);
}

/** Display size scaled to fit POSTER_MAX_WIDTH, never upscaled, even dimensions. */
export function posterSize(
  displayWidth: number,
  displayHeight: number,
  maxWidth = POSTER_MAX_WIDTH,
): { width: number; height: number } {
  const width = even(Math.min(displayWidth, maxWidth));
  return { width, height: even((displayHeight * width) / displayWidth) };
}

export function buildPosterArgs(options: PosterOptions): string[] {
  const filters = [
    ...(options.deinterlace ? ["yadif=0:-1:1"] : []),
    `scale=${options.width}:${options.height}`,
    "setsar=1",
  ];
  const wm = options.watermark;
  const picture = wm
    ? [
        ...watermarkInputArgs(wm.path),
        "-filter_complex",
        [
          `[0:${options.streamIndex}]${options.deinterlace ? "yadif=0:-1:1," : ""}scale=${wm.displayWidth}:${wm.displayHeight},setsar=1[base]`,
          ...overlayChains(1, "base", "marked", wm.displayWidth, wm.displayHeight, wm.spec),
          `[marked]scale=${options.width}:${options.height},setsar=1[poster]`,
        ].join(";"),
        "-map",
        "[poster]",
      ]
    : ["-map", `0:${options.streamIndex}`, "-vf", filters.join(",")];
  return [
    // Input seeking: jumps to the keyframe before, then decodes up to the exact time.
    "-ss",
    options.atSeconds.toFixed(3),
    ...inputPolicyArgs(options.input),
    "-i",
    options.input,
    ...picture,
    "-an",
    "-sn",
    "-dn",
    "-frames:v",
    "1",
    "-q:v",
    "3",
    "-map_metadata",
    "-1",
    "-f",
    "image2",
    "-update",
    "1",
    options.output,
  ];
}

async function nonEmpty(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}

/** Writes the poster; when seeking lands past the last frame (short or odd files), takes the first frame. */
export async function runPoster(options: PosterOptions, cwd: string, run: RunFfmpegOptions = {}): Promise<void> {
  const target = path.resolve(cwd, options.output);
  await runFfmpeg(buildPosterArgs(options), { ...run, cwd });
  if (!(await nonEmpty(target)) && options.atSeconds > 0) {
    await runFfmpeg(buildPosterArgs({ ...options, atSeconds: 0 }), { ...run, cwd });
  }
  if (!(await nonEmpty(target))) throw new Error("ffmpeg wrote no poster frame");
}
