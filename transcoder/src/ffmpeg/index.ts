/**
 * The ffmpeg library: pure argument builders, one per kind of work, plus thin runners. It knows
 * nothing of jobs, HTTP or the API; the runner (../runner.ts) composes it.
 */
import { buildLadderArgs, type LadderOptions } from "./ladder.js";
import { buildPosterArgs, type PosterOptions } from "./poster.js";
import { buildProgressiveArgs, type ProgressiveOptions } from "./progressive.js";
import { buildRemuxArgs, type RemuxOptions } from "./remux.js";
import { buildStoryboardArgs, type StoryboardOptions } from "./storyboard.js";

export type FfmpegTask = RemuxOptions | LadderOptions | PosterOptions | StoryboardOptions | ProgressiveOptions;

export function buildFfmpegArgs(task: FfmpegTask): string[] {
  switch (task.kind) {
    case "remux":
      return buildRemuxArgs(task);
    case "ladder":
      return buildLadderArgs(task);
    case "poster":
      return buildPosterArgs(task);
    case "storyboard":
      return buildStoryboardArgs(task);
    case "progressive":
      return buildProgressiveArgs(task);
  }
}

export * from "./binaries.js";
export * from "./errors.js";
export * from "./hls-output.js";
export * from "./ladder.js";
export * from "./poster.js";
export * from "./probe.js";
export * from "./process.js";
export * from "./progress.js";
export * from "./progressive.js";
export * from "./remux.js";
export * from "./storyboard.js";
export * from "./validate.js";
