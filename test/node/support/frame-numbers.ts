/**
 * Video whose every frame shows its own frame number as a 10-bit barcode (lavfi geq: column k is white
 * when bit k is set), and the decoder that reads it back from any file or URL ffmpeg can open. Survives
 * scaling and lossy encoding (48 px bars), so a clip's first frame can be checked after the whole ladder.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ffmpegBin } from "./media";

const run = promisify(execFile);
export const NUMBERED = { width: 480, height: 270, bits: 10 } as const;
const BAR = NUMBERED.width / NUMBERED.bits;

export async function makeNumberedVideo(
  out: string,
  o: { seconds: number; fps: number; gop?: number; format?: "mp4" | "mpegts"; tsOffset?: number },
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
