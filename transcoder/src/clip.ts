/**
 * Frame-accurate clips (issue 16): cut `[start_time, end_time)` of a downloaded original into a new
 * H.264/AAC MP4 that the usual pipeline then processes as the clip asset's input.
 *
 * The whole range is re-encoded, not stream-copied with only the edge GOPs re-encoded ("smart cut"): a
 * smart cut has to match the source's codec, profile, level, SPS/PPS and timestamps exactly at each
 * splice, which fails in ways ffprobe does not show on the long tail of real uploads, and the ladder
 * re-encodes every rendition afterwards anyway. A coarse input seek plus an exact output seek makes the
 * first frame the one at or just after `start_time`; keyframes every 2 s keep the result fast-path-able.
 */
import { rename, stat } from "node:fs/promises";
import { FfmpegError, InputError } from "./ffmpeg/errors.js";
import { inputPolicyArgs } from "./ffmpeg/input-policy.js";
import { runProcess } from "./ffmpeg/process.js";

export interface ClipRange {
  start_time: number;
  end_time: number;
}

export interface CutClipRun {
  ffmpegPath: string;
  signal?: AbortSignal;
}

/** Longer than any sane GOP (the pipeline's own is 2 s; cameras use up to ~10 s). */
export const CLIP_PREROLL_SECONDS = 15;

/** ffmpeg arguments that write the range of `input` to `output` (MP4). */
export function buildClipArgs(input: string, output: string, range: ClipRange): string[] {
  const duration = range.end_time - range.start_time;
  // Input seeking is fast but lands on a keyframe, and for some containers (MPEG-TS) the one AFTER the
  // target. So seek to PREROLL seconds before the start, then drop decoded frames up to the exact start
  // (output `-ss`): exact whenever the source's GOP is shorter than the preroll.
  const coarse = Math.max(0, range.start_time - CLIP_PREROLL_SECONDS);
  return [
    "-hide_banner",
    "-nostdin",
    "-y",
    "-loglevel",
    "error",
    ...(coarse > 0 ? ["-ss", coarse.toFixed(6)] : []),
    ...inputPolicyArgs(input),
    "-i",
    input,
    "-ss",
    (range.start_time - coarse).toFixed(6),
    "-t",
    duration.toFixed(6),
    "-map",
    "0:v:0?",
    "-map",
    "0:a?",
    "-sn",
    "-dn",
    "-map_metadata",
    "0",
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    // Near-transparent: this is an intermediate that the ladder encodes again.
    "-crf",
    "16",
    "-force_key_frames",
    "expr:gte(t,n_forced*2)",
    "-c:a",
    "aac",
    "-b:a",
    "192k",
    "-movflags",
    "+faststart",
    "-f",
    "mp4",
    output,
  ];
}

/** Replaces the file at `source` with the clip of it. */
export async function cutClip(source: string, range: ClipRange, run: CutClipRun): Promise<void> {
  if (!(range.end_time > range.start_time)) {
    throw new InputError("input_unsupported", `the clip range ${range.start_time}–${range.end_time} s is empty`);
  }
  const out = `${source}.clip.mp4`;
  try {
    // No stall timeout: ffmpeg writes a file, not stdout, and reads a local file that cannot stall; the
    // job's cancel signal (deleted asset, superseded run, shutdown) still stops it.
    await runProcess(run.ffmpegPath, buildClipArgs(source, out, range), { signal: run.signal });
  } catch (err) {
    if (err instanceof FfmpegError && err.details.exitCode !== null) {
      throw new InputError("input_unreadable", `the clip could not be cut from the source: ${err.message}`, {
        cause: err,
      });
    }
    throw err;
  }
  const written = await stat(out).catch(() => null);
  // An MP4 with no samples (the range lies past the media's last frame) is a few hundred bytes of headers.
  if (!written || written.size < 1024) {
    throw new InputError("input_no_media", `the clip range ${range.start_time}–${range.end_time} s holds no media`);
  }
  await rename(out, source);
}
