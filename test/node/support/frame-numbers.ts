/**
 * Video whose every frame shows its own frame number as a 10-bit barcode (lavfi geq: column k is white
 * when bit k is set), and the decoder that reads it back from any file or URL ffmpeg can open. Survives
 * scaling and lossy encoding (48 px bars), so a clip's first frame can be checked after the whole ladder.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "vitest";
import type { Asset } from "../../support/api-types";
import { type FfprobeOutput, ffmpegBin, ffprobeJson } from "./media";

const run = promisify(execFile);
export const NUMBERED = { width: 480, height: 270, bits: 10 } as const;
const BAR = NUMBERED.width / NUMBERED.bits;

export async function makeNumberedVideo(
  out: string,
  o: {
    seconds: number;
    fps: number;
    gop?: number;
    bframes?: number;
    /** x264's open GOPs: B-frames after a keyframe may reference the GOP before it. */
    openGop?: boolean;
    format?: "mp4" | "mpegts";
    tsOffset?: number;
  },
): Promise<string> {
  const { width: W, height: H } = NUMBERED;
  const lum = `if(lt(Y\\,${H / 2})\\,if(mod(floor(N/pow(2\\,floor(X/${BAR})))\\,2)\\,235\\,16)\\,128)`;
  await run(await ffmpegBin(), [
    "-y",
    "-v",
    "error",
    "-f",
    "lavfi",
    "-i",
    `color=c=gray:s=${W}x${H}:r=${o.fps}:d=${o.seconds},format=gray,geq=lum='${lum}'`,
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=440:sample_rate=48000:duration=${o.seconds}`,
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-pix_fmt",
    "yuv420p",
    "-g",
    String(o.gop ?? o.fps * 2),
    ...(o.bframes !== undefined ? ["-bf", String(o.bframes)] : []),
    ...(o.openGop ? ["-x264-params", "open-gop=1"] : []),
    "-c:a",
    "aac",
    "-shortest",
    ...(o.tsOffset ? ["-output_ts_offset", String(o.tsOffset)] : []),
    "-f",
    o.format ?? "mp4",
    out,
  ]);
  return out;
}

/** The frame number burned into the first frame of `input` (a file or an http(s) URL). */
export async function firstFrameNumber(input: string): Promise<number> {
  const { width: W, height: H } = NUMBERED;
  const { stdout } = await run(
    await ffmpegBin(),
    ["-v", "error", "-i", input, "-frames:v", "1", "-vf", `scale=${W}:${H},format=gray`, "-f", "rawvideo", "pipe:1"],
    { encoding: "buffer", maxBuffer: 16 * 1024 * 1024 },
  );
  const row = Math.floor(H / 4) * W;
  let n = 0;
  for (let k = 0; k < NUMBERED.bits; k++)
    if ((stdout as Buffer)[row + Math.floor(BAR / 2) + BAR * k] > 128) n |= 1 << k;
  return n;
}

/**
 * A clip of a frame-numbered source, as the edge serves it: its MP4 download and its HLS both start at
 * frame `start × fps` (±1), and the download's duration and frame count are the range's (±1 frame; the
 * asset's `duration` too). Returns the download's ffprobe output for the caller's own checks.
 */
export async function expectFrameAccurateClip(
  edgeUrl: string,
  clip: Asset,
  range: { start: number; end: number },
  fps: number,
): Promise<FfprobeOutput> {
  const { start, end } = range;
  const frame = 1 / fps;
  expect(Math.abs(clip.duration! - (end - start))).toBeLessThanOrEqual(frame + 0.03);
  const pb = clip.playback_ids[0].id;
  const download = `${edgeUrl}/${pb}/downloads/highest.mp4`;
  expect(Math.abs((await firstFrameNumber(download)) - start * fps)).toBeLessThanOrEqual(1);
  const probed = await ffprobeJson(download);
  const video = probed.streams.find((s) => s.codec_type === "video")!;
  const frames = Number(video.nb_frames);
  expect(Math.abs(frames - (end - start) * fps), `nb_frames ${frames}`).toBeLessThanOrEqual(1);
  expect(Math.abs(Number(probed.format.duration) - (end - start))).toBeLessThanOrEqual(frame + 0.03);
  // What players get: the HLS master's first rendition starts at the same frame.
  expect(Math.abs((await firstFrameNumber(`${edgeUrl}/${pb}.m3u8`)) - start * fps)).toBeLessThanOrEqual(1);
  return probed;
}
