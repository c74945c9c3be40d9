/**
 * The ABR ladder: ONE ffmpeg process decodes the source once, normalizes it (deinterlace,
 * constant frame rate ≤ 60), splits it, scales each branch to a rung and encodes each rung into
 * its own video-only HLS output; the audio becomes one more HLS output (AAC-LC 128k stereo 48k).
 *
 * Keyframes are forced every 2 s in every rung at the same timestamps, and segments are cut at
 * 6 s, so all renditions share segment boundaries and players can switch at any segment.
 * Nothing here is ffmpeg-version specific: no -fps_mode (5.1+), no -var_stream_map.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type MaxResolution, RESOLUTION_HEIGHT } from "../../../src/lib/transcoder-protocol.js";
import { watermarkInputArgs } from "../watermark.js";
import { hlsOutputArgs } from "./hls-output.js";
import { inputPolicyArgs } from "./input-policy.js";
import type { Rational, VideoFacts } from "./probe.js";
import { type RunFfmpegOptions, runFfmpeg } from "./process.js";
import { overlayChains, type WatermarkInput } from "./watermark.js";

export const KEYFRAME_SECONDS = 2;
export const MAX_FRAME_RATE = 60;
export const AUDIO_DIR = "audio";
export const AUDIO_BITRATE = "128k";
export const AUDIO_SAMPLE_RATE = 48_000;
export const AUDIO_CHANNELS = 2;

/** Standard rungs by short side, largest first. 240 is used only when the cap is below 360. */
export const LADDER_HEIGHTS = [2160, 1440, 1080, 720, 480, 360] as const;

/** Peak bitrate per rung at ≤ 30 fps (kbit/s); crf keeps simple content well under it. */
const MAXRATE_KBPS: Record<number, number> = {
  2160: 12_000,
  1440: 7_000,
  1080: 4_500,
  720: 2_500,
  480: 1_200,
  360: 700,
  240: 400,
};

export interface Rung {
  /** Folder and rendition name, e.g. `v720`. */
  name: string;
  /** The rung's short-side size (720 for 1280x720 and for a portrait 720x1280). */
  size: number;
  width: number;
  height: number;
  maxrateKbps: number;
  bufsizeKbps: number;
}

function even(x: number): number {
  return Math.max(2, Math.round(x / 2) * 2);
}

function maxrateFor(size: number, fps: number): number {
  const base = MAXRATE_KBPS[size] ?? (size > 240 ? 400 : 250);
  return Math.round(fps > 31 ? base * 1.5 : base);
}

/**
 * Rungs for a picture displayed at displayWidth×displayHeight: every standard size ≤ the short
 * side and ≤ max_resolution (never upscale). When that leaves nothing (small sources or a 240p
 * cap), one rung: 240, or the source's own short side when it is smaller than 240.
 */
export function planRungs(
  displayWidth: number,
  displayHeight: number,
  maxResolution: MaxResolution,
  frameRate = 30,
): Rung[] {
  const portrait = displayHeight > displayWidth;
  const shortSide = Math.min(displayWidth, displayHeight);
  const longSide = Math.max(displayWidth, displayHeight);
  const cap = Math.min(shortSide, RESOLUTION_HEIGHT[maxResolution]);
  let sizes: number[] = LADDER_HEIGHTS.filter((h) => h <= cap);
  if (sizes.length === 0) sizes = [cap >= 240 ? 240 : Math.max(2, Math.floor(cap / 2) * 2)];
  return sizes.map((size) => {
    const other = even((longSide * size) / shortSide);
    const maxrateKbps = maxrateFor(size, frameRate);
    return {
      name: `v${size}`,
      size,
      width: portrait ? size : other,
      height: portrait ? other : size,
      maxrateKbps,
      bufsizeKbps: maxrateKbps * 2,
    };
  });
}

const STANDARD_RATES: Rational[] = [
  { num: 24000, den: 1001 },
  { num: 24, den: 1 },
  { num: 25, den: 1 },
  { num: 30000, den: 1001 },
  { num: 30, den: 1 },
  { num: 48, den: 1 },
  { num: 50, den: 1 },
  { num: 60000, den: 1001 },
  { num: 60, den: 1 },
];

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The constant output frame rate. CFR sources keep theirs; VFR sources take the base rate their
 * timestamps sit on (r_frame_rate) when plausible, else the average; anything above 60 fps is
 * divided down (120 → 60, 100 → 50). Close-to-standard rates snap to the standard value.
 */
export function outputFrameRate(
  video: Pick<VideoFacts, "rFrameRate" | "avgFrameRate" | "variableFrameRate"> & { interlaced?: boolean },
): Rational {
  const r = video.rFrameRate;
  const avg = video.avgFrameRate;
  const value = (x: Rational | undefined) => (x ? x.num / x.den : undefined);
  let chosen: Rational | undefined;
  if (video.variableFrameRate) chosen = r && (value(r) ?? 0) <= 120 ? r : avg;
  // Interlaced streams report the field rate as r; deinterlacing keeps the frame rate (avg).
  else chosen = video.interlaced ? (avg ?? r) : (r ?? avg);
  if (!chosen) return { num: 30, den: 1 };
  let fps = chosen.num / chosen.den;
  let { num, den } = chosen;
  const k = Math.max(1, Math.ceil(fps / MAX_FRAME_RATE - 1e-9));
  den *= k;
  fps /= k;
  const nearest = STANDARD_RATES.reduce((best, s) =>
    Math.abs(s.num / s.den - fps) < Math.abs(best.num / best.den - fps) ? s : best,
  );
  if (Math.abs(nearest.num / nearest.den - fps) / fps < 0.01) return nearest;
  const g = gcd(num, den);
  num /= g;
  den /= g;
  // Keep the rational small enough for ffmpeg's parser and readable in logs.
  if (num > 1_000_000 || den > 1_000_000) return { num: Math.round(fps * 1000), den: 1000 };
  return { num, den };
}

export interface LadderVideo {
  streamIndex: number;
  rungs: Rung[];
  frameRate: Rational;
  deinterlace?: boolean;
  /** The video stream's own duration when known: the chunked ladder cuts its timeline, not the container's. */
  durationSeconds?: number;
  /** Burned in at the picture's display size before the split (issue 16); every rung carries it. */
  watermark?: WatermarkInput & { displayWidth: number; displayHeight: number };
}

export interface LadderOptions {
  kind: "ladder";
  /** Absolute path of the source. */
  input: string;
  /** Absent for audio-only sources. */
  video?: LadderVideo;
  /** Absolute stream index of the audio to encode; absent for silent sources. */
  audioStreamIndex?: number;
  /** The source's other audio streams, each encoded like the main one into its own folder (`audio_1`, …). */
  extraAudio?: readonly { streamIndex: number; dir: string }[];
}

export function gopFrames(frameRate: Rational): number {
  return Math.max(1, Math.round((frameRate.num / frameRate.den) * KEYFRAME_SECONDS));
}

/**
 * A slice of the timeline for the segment-parallel ladder (../ladder-chunks): the input is opened at
 * `seekSeconds` (an accurate seek: frames before it are decoded and dropped), decoding stops after
 * `inputSeconds`, every rung stops after exactly `frames` frames, and segments are numbered from
 * `startNumber`. Absent `frames`/`inputSeconds`: to the end of the source.
 */
export interface LadderSlice {
  seekSeconds: number;
  inputSeconds?: number;
  frames?: number;
  startNumber: number;
  /** Input options before `-i` (an HTTP source's timeout and token header: ../ladder-chunks/serve.ts). */
  inputArgs?: readonly string[];
}

export function buildLadderArgs(options: LadderOptions): string[] {
  const { video } = options;
  if (!video?.rungs.length && options.audioStreamIndex === undefined) {
    throw new Error("ladder needs at least one video rung or an audio stream");
  }
  const args = [...inputPolicyArgs(options.input), "-i", options.input];
  if (video?.rungs.length) args.push(...videoLadderArgs(video));
  args.push(...audioLadderArgs(options));
  return args;
}

/** The audio half of the ladder alone (the chunked ladder encodes audio whole, beside the video chunks). */
export function buildAudioLadderArgs(options: LadderOptions): string[] {
  if (options.audioStreamIndex === undefined) throw new Error("audio ladder needs an audio stream");
  return [...inputPolicyArgs(options.input), "-i", options.input, ...audioLadderArgs(options)];
}

/**
 * One slice of the video ladder: the same graph and rung settings as buildLadderArgs, video only, its
 * folders relative to ffmpeg's cwd (the chunk's own work folder).
 */
export function buildVideoSliceArgs(video: LadderVideo, input: string, slice: LadderSlice): string[] {
  if (!video.rungs.length) throw new Error("a video slice needs at least one rung");
  const seek = slice.seekSeconds > 0 ? ["-ss", seconds(slice.seekSeconds)] : [];
  const limit = slice.inputSeconds !== undefined ? ["-t", seconds(slice.inputSeconds)] : [];
  return [
    ...(slice.inputArgs ?? []),
    ...inputPolicyArgs(input),
    ...seek,
    ...limit,
    "-i",
    input,
    ...videoLadderArgs(video, {
      frames: slice.frames,
      startNumber: slice.startNumber,
    }),
  ];
}

/** Seconds for -ss/-t: microseconds (ffmpeg's own resolution), rounded down so a frame exactly there stays in. */
function seconds(x: number): string {
  return (Math.floor(x * 1e6 + 1e-6) / 1e6).toFixed(6);
}

/** The filter graph (input 0 is the source, input 1 the watermark) and one HLS output per rung. */
function videoLadderArgs(video: LadderVideo, slice: { frames?: number; startNumber?: number } = {}): string[] {
  const args: string[] = [];
  const rate = `${video.frameRate.num}/${video.frameRate.den}`;
  const pre = [...(video.deinterlace ? ["yadif=0:-1:1"] : []), `fps=${rate}`];
  const n = video.rungs.length;
  const branches = video.rungs.map((_, i) => `[s${i}]`).join("");
  const split = n > 1 ? `split=${n}${branches}` : "null[s0]";
  const wm = video.watermark;
  const graph = wm
    ? [
        // Square pixels at display size first, so the watermark's pixels are the viewer's pixels.
        `[0:${video.streamIndex}]${pre.join(",")},scale=${wm.displayWidth}:${wm.displayHeight},setsar=1[base]`,
        ...overlayChains(1, "base", "marked", wm.displayWidth, wm.displayHeight, wm.spec),
        `[marked]${split}`,
      ]
    : [`[0:${video.streamIndex}]${pre.join(",")}${n > 1 ? `,${split}` : "[s0]"}`];
  if (wm) args.push(...watermarkInputArgs(wm.path));
  video.rungs.forEach((rung, i) => {
    graph.push(`[s${i}]scale=${rung.width}:${rung.height},setsar=1,format=yuv420p[v${i}]`);
  });
  args.push("-filter_complex", graph.join(";"));
  const gop = String(gopFrames(video.frameRate));
  video.rungs.forEach((rung, i) => {
    args.push(
      "-map",
      `[v${i}]`,
      "-an",
      "-sn",
      "-dn",
      "-c:v",
      "libx264",
      "-preset",
      "veryfast",
      "-profile:v",
      "high",
      "-crf",
      "23",
      "-maxrate",
      `${rung.maxrateKbps}k`,
      "-bufsize",
      `${rung.bufsizeKbps}k`,
      "-g",
      gop,
      "-keyint_min",
      gop,
      "-sc_threshold",
      "0",
      // In a slice, t counts from the slice's first frame, which sits on the segment grid.
      "-force_key_frames",
      `expr:gte(t,n_forced*${KEYFRAME_SECONDS})`,
      // The source's CEA-608/708 captions (decoded as frame side data) go back into every rung's SEI.
      "-a53cc",
      "1",
      ...(slice.frames !== undefined ? ["-frames:v", String(slice.frames)] : []),
      ...hlsOutputArgs(rung.name, slice.startNumber),
    );
  });
  return args;
}

function audioLadderArgs(options: LadderOptions): string[] {
  if (options.audioStreamIndex === undefined) return [];
  const args = audioOutputArgs(options.audioStreamIndex, AUDIO_DIR);
  for (const extra of options.extraAudio ?? []) args.push(...audioOutputArgs(extra.streamIndex, extra.dir));
  return args;
}

/** One audio stream as an AAC-LC stereo 48 kHz HLS output: every audio rendition is encoded alike. */
function audioOutputArgs(streamIndex: number, dir: string): string[] {
  return [
    "-map",
    `0:${streamIndex}`,
    "-vn",
    "-sn",
    "-dn",
    "-c:a",
    "aac",
    "-b:a",
    AUDIO_BITRATE,
    "-ac",
    String(AUDIO_CHANNELS),
    "-ar",
    String(AUDIO_SAMPLE_RATE),
    ...hlsOutputArgs(dir),
  ];
}

/** Folders the ladder writes, relative to the output directory. */
export function ladderDirs(options: LadderOptions): string[] {
  return [
    ...(options.video?.rungs.map((r) => r.name) ?? []),
    ...(options.audioStreamIndex !== undefined ? [AUDIO_DIR, ...(options.extraAudio ?? []).map((a) => a.dir)] : []),
  ];
}

export async function runLadder(
  options: LadderOptions,
  outputDir: string,
  run: RunFfmpegOptions = {},
): Promise<string[]> {
  const dirs = ladderDirs(options);
  for (const dir of dirs) await mkdir(path.join(outputDir, dir), { recursive: true });
  await runFfmpeg(buildLadderArgs(options), { ...run, cwd: outputDir });
  return dirs;
}
