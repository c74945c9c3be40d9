/**
 * Storyboard: a sprite of small thumbnails (one every `interval` seconds, at most 100, 160 px
 * wide, 10 per row) and a WebVTT file whose cues point into it with `#xywh=` fragments.
 */
import { stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { inputPolicyArgs } from "./input-policy.js";
import { type RunFfmpegOptions, runFfmpeg } from "./process.js";

export const STORYBOARD_IMAGE = "storyboard.jpg";
export const STORYBOARD_VTT = "storyboard.vtt";
export const STORYBOARD_MAX_THUMBS = 100;
export const STORYBOARD_THUMB_WIDTH = 160;
export const STORYBOARD_COLUMNS = 10;

export interface StoryboardPlan {
  interval: number;
  count: number;
  columns: number;
  rows: number;
  thumbWidth: number;
  thumbHeight: number;
  duration: number;
}

function even(x: number): number {
  return Math.max(2, Math.round(x / 2) * 2);
}

/**
 * `intervalStep`: thumbs are taken every multiple of this (2 when reading only the keyframes of
 * a rendition whose keyframes are 2 s apart).
 */
export function planStoryboard(
  duration: number,
  displayWidth: number,
  displayHeight: number,
  { intervalStep = 1 }: { intervalStep?: number } = {},
): StoryboardPlan {
  const safeDuration = duration > 0 ? duration : 1;
  const interval = Math.max(
    intervalStep,
    Math.ceil(safeDuration / STORYBOARD_MAX_THUMBS / intervalStep) * intervalStep,
  );
  const count = Math.max(1, Math.min(STORYBOARD_MAX_THUMBS, Math.ceil(safeDuration / interval)));
  const columns = Math.min(STORYBOARD_COLUMNS, count);
  return {
    interval,
    count,
    columns,
    rows: Math.ceil(count / columns),
    thumbWidth: STORYBOARD_THUMB_WIDTH,
    thumbHeight: even((displayHeight * STORYBOARD_THUMB_WIDTH) / displayWidth),
    duration: safeDuration,
  };
}

export interface StoryboardOptions {
  kind: "storyboard";
  /** A file path or any ffmpeg input URL (e.g. `concat:init.mp4|seg_00000.m4s|…`). */
  input: string;
  output: string;
  plan: StoryboardPlan;
  /** Absolute stream index; the first video stream when absent. */
  streamIndex?: number;
  /** Decode keyframes only: cheap, exact when keyframes sit on the interval grid (our renditions). */
  keyframesOnly?: boolean;
  deinterlace?: boolean;
}

export function buildStoryboardArgs(options: StoryboardOptions): string[] {
  const { plan } = options;
  const filters = [
    ...(options.deinterlace ? ["yadif=0:-1:1"] : []),
    `fps=1/${plan.interval}`,
    `scale=${plan.thumbWidth}:${plan.thumbHeight}`,
    "setsar=1",
    `tile=${plan.columns}x${plan.rows}`,
  ];
  return [
    ...(options.keyframesOnly ? ["-skip_frame", "nokey"] : []),
    ...inputPolicyArgs(options.input),
    "-i",
    options.input,
    "-map",
    options.streamIndex === undefined ? "0:v:0" : `0:${options.streamIndex}`,
    "-an",
    "-sn",
    "-dn",
    "-vf",
    filters.join(","),
    "-frames:v",
    "1",
    "-q:v",
    "5",
    "-map_metadata",
    "-1",
    "-f",
    "image2",
    "-update",
    "1",
    options.output,
  ];
}

function vttTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

export function buildStoryboardVtt(plan: StoryboardPlan, image = STORYBOARD_IMAGE): string {
  const lines = ["WEBVTT", ""];
  for (let i = 0; i < plan.count; i++) {
    const start = i * plan.interval;
    const end = Math.min((i + 1) * plan.interval, plan.duration);
    if (end <= start) break;
    const x = (i % plan.columns) * plan.thumbWidth;
    const y = Math.floor(i / plan.columns) * plan.thumbHeight;
    lines.push(
      `${vttTime(start)} --> ${vttTime(end)}`,
      `${image}#xywh=${x},${y},${plan.thumbWidth},${plan.thumbHeight}`,
      "",
    );
  }
  return lines.join("\n");
}

/** Writes the sprite (options.output, relative to cwd) and `storyboard.vtt` next to it. */
export async function runStoryboard(
  options: StoryboardOptions,
  cwd: string,
  run: RunFfmpegOptions = {},
): Promise<{ image: string; vtt: string }> {
  const image = path.resolve(cwd, options.output);
  await runFfmpeg(buildStoryboardArgs(options), { ...run, cwd });
  if (!((await stat(image).catch(() => undefined))?.size ?? 0)) throw new Error("ffmpeg wrote no storyboard image");
  const vtt = path.join(path.dirname(image), STORYBOARD_VTT);
  await writeFile(vtt, buildStoryboardVtt(options.plan, path.basename(image)));
  return { image, vtt };
}
