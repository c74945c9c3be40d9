/**
 * Frame-accurate clips (issue 16): cut `[start_time, end_time)` of a downloaded original into a new
 * H.264/AAC MP4 that the usual pipeline then processes as the clip asset's input.
 *
 * A smart cut runs first (./smart-cut.ts): the whole GOPs inside the range are stream-copied and only the
 * partial GOPs at the edges re-encoded. It is only tried on sources it can match exactly (progressive
 * 8-bit 4:2:0 H.264, constant frame rate, closed GOPs, no rotation, at least one whole GOP in the range)
 * and its result is checked (frame count, continuous timestamps, a clean decode) before it is used. Any
 * refusal or failure falls back to re-encoding the whole range, as before: a coarse input seek plus an
 * exact output seek makes the first frame the one at or just after `start_time`; keyframes every 2 s keep
 * the result fast-path-able. `cutClip` says which path ran and why, for the job log.
 */
import { rename, rm, stat } from "node:fs/promises";
import { FfmpegError, InputError } from "./ffmpeg/errors.js";
import { inputPolicyArgs } from "./ffmpeg/input-policy.js";
import { runFfmpeg } from "./ffmpeg/process.js";
import { INTERMEDIATE_H264_ARGS, planSmartCut, probeSmartCutSource, runSmartCut } from "./smart-cut.js";

export interface ClipRange {
  start_time: number;
  end_time: number;
}

export interface CutClipRun {
  ffmpegPath: string;
  ffprobePath: string;
  signal?: AbortSignal;
}

/** Which cut made the clip: "smart" (edges re-encoded, middle copied) or "reencode" (the whole range). */
export interface ClipCut {
  mode: "smart" | "reencode";
  /** Why the smart cut did not run or was not used. */
  reason?: string;
}

/** Longer than any sane GOP (the pipeline's own is 2 s; cameras use up to ~10 s). */
export const CLIP_PREROLL_SECONDS = 15;

/** ffmpeg arguments (for runFfmpeg, which adds its quiet, overwriting options) that write the range of `input` to `output` (MP4). */
export function buildClipArgs(input: string, output: string, range: ClipRange): string[] {
  const duration = range.end_time - range.start_time;
  // Input seeking is fast but lands on a keyframe, and for some containers (MPEG-TS) the one AFTER the
  // target. So seek to PREROLL seconds before the start, then drop decoded frames up to the exact start
  // (output `-ss`): exact whenever the source's GOP is shorter than the preroll.
  const coarse = Math.max(0, range.start_time - CLIP_PREROLL_SECONDS);
  return [
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
    ...INTERMEDIATE_H264_ARGS,
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
export async function cutClip(source: string, range: ClipRange, run: CutClipRun): Promise<ClipCut> {
  if (!(range.end_time > range.start_time)) {
    throw new InputError("input_unsupported", `the clip range ${range.start_time}–${range.end_time} s is empty`);
  }
  const out = `${source}.clip.mp4`;
  const smart = await trySmartCut(source, range, run, out);
  if (smart === true) {
    await rename(out, source);
    return { mode: "smart" };
  }
  await reencodeClip(source, range, run, out);
  await rename(out, source);
  return { mode: "reencode", reason: smart.reason };
}

/** `true` when `out` holds the verified smart cut; otherwise why not (and `out` is gone). */
async function trySmartCut(
  source: string,
  range: ClipRange,
  run: CutClipRun,
  out: string,
): Promise<true | { reason: string }> {
  try {
    const src = await probeSmartCutSource(source, range, run);
    const plan = planSmartCut(src, range);
    if ("reason" in plan) return plan;
    await runSmartCut(source, plan, { startTime: src.startTime, audio: src.audio, output: out }, run);
    return true;
  } catch (err) {
    // A cancelled job stops here; anything else (an unreadable source included) is the full re-encode's
    // to try, and to report in its own words.
    if (run.signal?.aborted) throw err;
    await rm(out, { force: true });
    return { reason: `the smart cut failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

async function reencodeClip(source: string, range: ClipRange, run: CutClipRun, out: string): Promise<void> {
  try {
    // No stall timeout: ffmpeg writes a file, not stdout, and reads a local file that cannot stall; the
    // job's cancel signal (deleted asset, superseded run, shutdown) still stops it.
    await runFfmpeg(buildClipArgs(source, out, range), { ffmpegPath: run.ffmpegPath, signal: run.signal });
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
}
