/**
 * On-demand thumbnail: one JPEG frame at a time, sized by a fit mode, written to stdout (no temp
 * files). The input is a local path or an HTTP(S) URL read with Range (ffmpeg seeks inside it), so a
 * frame of a multi-gigabyte source costs a few range reads, not a download.
 *
 * Fit modes, for a box of width x height (with one dimension given the other follows the aspect ratio,
 * with none the frame keeps its display size, at most 1280 wide):
 *   preserve   fit inside the box, aspect kept (one side may come out shorter)
 *   stretch    exactly the box, aspect ignored
 *   crop       fill the box, aspect kept, centre-cropped to exactly the box
 *   smartcrop  as crop (no content-aware cropping yet)
 *   pad        fit inside the box, aspect kept, letterboxed to exactly the box in black
 */
import type { FitMode } from "../../../src/lib/thumbnails.js";
import { FfmpegError } from "./errors.js";
import { inputPolicyArgs } from "./input-policy.js";
import { runProcess } from "./process.js";

export const THUMBNAIL_DEFAULT_MAX_WIDTH = 1280;
/** A rendered JPEG larger than this is refused (3840x3840 at q 3 is ~3 MB). */
export const THUMBNAIL_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export interface ThumbnailOptions {
  kind: "thumbnail";
  /** Local path or http(s) URL. */
  input: string;
  /** Request headers for an HTTP input, e.g. `{ authorization: "Bearer …" }`. */
  headers?: Record<string, string>;
  atSeconds: number;
  width: number | null;
  height: number | null;
  fit: FitMode;
}

/** The -vf chain. Geometry after the first scale runs in 4:4:4 so odd sizes are exact (4:2:0 rounds). */
export function thumbnailFilter(o: Pick<ThumbnailOptions, "width" | "height" | "fit">): string {
  // Square pixels first, so every mode below works on the display aspect ratio (anamorphic sources).
  const chain = ["scale=iw*sar:ih", "setsar=1"];
  const { width: w, height: h } = o;
  if (w === null && h === null) chain.push(`scale=w='min(${THUMBNAIL_DEFAULT_MAX_WIDTH},iw)':h=-2`);
  else if (h === null) chain.push(`scale=${w}:-1`);
  else if (w === null) chain.push(`scale=-1:${h}`);
  else if (o.fit === "stretch") chain.push(`scale=${w}:${h}`);
  else if (o.fit === "crop" || o.fit === "smartcrop") {
    chain.push(`scale=${w}:${h}:force_original_aspect_ratio=increase`, "format=yuv444p", `crop=${w}:${h}`);
  } else if (o.fit === "pad") {
    chain.push(
      `scale=${w}:${h}:force_original_aspect_ratio=decrease`,
      "format=yuv444p",
      `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:black`,
    );
  } else chain.push(`scale=${w}:${h}:force_original_aspect_ratio=decrease`);
  chain.push("setsar=1");
  return chain.join(",");
}

function isUrl(input: string): boolean {
  return /^https?:\/\//i.test(input);
}

/** Input options for an HTTP source (none for a file): a read timeout and the request headers. */
export function networkInputArgs(input: string, headers: Record<string, string> = {}): string[] {
  const net: string[] = [];
  if (isUrl(input)) {
    // A stalled read fails the render instead of holding a slot (microseconds).
    net.push("-rw_timeout", "15000000");
    const lines = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    if (lines) net.push("-headers", lines);
  }
  return net;
}

export function buildThumbnailArgs(o: ThumbnailOptions): string[] {
  return [
    ...networkInputArgs(o.input, o.headers),
    // Input seeking: jumps to the keyframe before, then decodes up to the exact time.
    "-ss",
    o.atSeconds.toFixed(3),
    ...inputPolicyArgs(o.input),
    "-i",
    o.input,
    "-map",
    "0:v:0",
    "-an",
    "-sn",
    "-dn",
    "-frames:v",
    "1",
    "-vf",
    thumbnailFilter(o),
    "-pix_fmt",
    "yuvj420p",
    "-q:v",
    "3",
    "-map_metadata",
    "-1",
    "-f",
    "image2pipe",
    "-c:v",
    "mjpeg",
    "pipe:1",
  ];
}

/** The input has no video stream: nothing to take a frame of. */
export class NoVideoError extends Error {
  override readonly name = "NoVideoError";
}

/** The input could not be fetched (HTTP error, refused, timed out): not the media's fault. */
export class SourceUnavailableError extends Error {
  override readonly name = "SourceUnavailableError";
}

export interface RenderThumbnailRun {
  ffmpegPath: string;
  signal?: AbortSignal;
  /** Kill ffmpeg after this long: one deadline for the render, fallbacks included. */
  timeoutMs?: number;
}

const COMMON_ARGS = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"];

async function renderOnce(o: ThumbnailOptions, run: RenderThumbnailRun): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  try {
    await runProcess(run.ffmpegPath, [...COMMON_ARGS, ...buildThumbnailArgs(o)], {
      signal: run.signal,
      timeoutMs: run.timeoutMs,
      onStdout: (chunk) => {
        size += chunk.length;
        if (size > THUMBNAIL_MAX_OUTPUT_BYTES) tooLarge = true;
        else chunks.push(chunk);
      },
    });
  } catch (err) {
    if (err instanceof FfmpegError) {
      const text = err.details.stderr;
      if (/matches no streams|does not contain any stream/i.test(text)) {
        throw new NoVideoError("the source has no video stream", { cause: err });
      }
      if (
        /Server returned|HTTP error|Connection refused|Connection timed out|Failed to resolve|Network is unreachable|End of file|I\/O error/i.test(
          text,
        ) &&
        isUrl(o.input)
      ) {
        throw new SourceUnavailableError(`the source could not be read: ${err.message}`, { cause: err });
      }
    }
    throw err;
  }
  if (tooLarge) throw new Error(`the rendered JPEG exceeds ${THUMBNAIL_MAX_OUTPUT_BYTES} bytes`);
  return Buffer.concat(chunks);
}

/**
 * Renders the frame at `atSeconds`. A seek past the last frame makes ffmpeg exit cleanly with nothing
 * written; then step back 2 s, then take the first frame. Returns the JPEG and the time it shows.
 */
export async function renderThumbnail(
  o: ThumbnailOptions,
  run: RenderThumbnailRun,
): Promise<{ jpeg: Buffer; atSeconds: number }> {
  const times = [o.atSeconds, ...(o.atSeconds > 2 ? [o.atSeconds - 2] : []), ...(o.atSeconds > 0 ? [0] : [])];
  const deadline = run.timeoutMs ? Date.now() + run.timeoutMs : undefined;
  for (const at of times) {
    const timeoutMs = deadline ? Math.max(1000, deadline - Date.now()) : undefined;
    const jpeg = await renderOnce({ ...o, atSeconds: at }, { ...run, timeoutMs });
    if (jpeg.length > 0) return { jpeg, atSeconds: at };
  }
  throw new NoVideoError("ffmpeg decoded no video frame from the source");
}
