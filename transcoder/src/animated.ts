/**
 * Animated previews (issue 16): `[start, end)` of the source as a looping GIF or WebP, `width` px wide at
 * `fps`, written to stdout. Requests reach it through the thumbnail service (./thumbnails.ts), so they
 * share its single flight, render slots, queue and timeouts; the input is the API's source URL read with
 * Range, like a still thumbnail.
 *
 * GIF is two-pass in one graph: palettegen builds a 256-colour palette from this very clip (stats_mode
 * diff weighs what moves), paletteuse maps every frame onto it — far better than ffmpeg's default
 * fixed palette. WebP uses libwebp_anim (lossy, q 70).
 */
import type { TranscoderAnimated } from "../../src/lib/animated.js";
import { MAX_ANIMATED_BYTES } from "../../src/lib/animated.js";
import { inputPolicyArgs } from "./ffmpeg/input-policy.js";
import { runProcess } from "./ffmpeg/process.js";
import { NoVideoError, networkInputArgs } from "./ffmpeg/thumbnail.js";

export interface AnimatedInput {
  /** Local path or http(s) URL. */
  input: string;
  headers?: Record<string, string>;
  animated: TranscoderAnimated;
}

export function animatedFilter(a: Pick<TranscoderAnimated, "format" | "width" | "fps">): string {
  const base = `fps=${a.fps},scale=${a.width}:-2:flags=lanczos,setsar=1`;
  return a.format === "gif"
    ? `${base},split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=3`
    : base;
}

export function buildAnimatedArgs(o: AnimatedInput): string[] {
  const a = o.animated;
  const codec =
    a.format === "gif"
      ? ["-c:v", "gif", "-f", "gif"]
      : ["-c:v", "libwebp_anim", "-lossless", "0", "-q:v", "70", "-f", "webp"];
  return [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    ...networkInputArgs(o.input, o.headers),
    "-ss",
    a.start.toFixed(3),
    "-t",
    (a.end - a.start).toFixed(3),
    ...inputPolicyArgs(o.input),
    "-i",
    o.input,
    "-map",
    "0:v:0",
    "-an",
    "-sn",
    "-dn",
    "-vf",
    animatedFilter(a),
    "-loop",
    "0",
    "-map_metadata",
    "-1",
    ...codec,
    "pipe:1",
  ];
}

export async function renderAnimated(
  o: AnimatedInput,
  run: { ffmpegPath: string; signal?: AbortSignal; timeoutMs?: number },
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    await runProcess(run.ffmpegPath, buildAnimatedArgs(o), {
      signal: run.signal,
      timeoutMs: run.timeoutMs,
      onStdout: (chunk) => {
        size += chunk.length;
        if (size <= MAX_ANIMATED_BYTES) chunks.push(chunk);
      },
    });
  } catch (err) {
    const text = (err as { details?: { stderr?: string } }).details?.stderr ?? "";
    if (/matches no streams|does not contain any stream/i.test(text)) {
      throw new NoVideoError("the source has no video stream", { cause: err });
    }
    throw err;
  }
  if (size > MAX_ANIMATED_BYTES) throw new Error(`the animated preview exceeds ${MAX_ANIMATED_BYTES} bytes`);
  if (size === 0) throw new NoVideoError("ffmpeg decoded no video frame in the requested range");
  return Buffer.concat(chunks);
}
