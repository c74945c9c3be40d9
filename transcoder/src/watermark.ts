/**
 * The watermark image of a job (issue 16): fetched under the same outbound policy as ingest URLs (the URL
 * and every redirect through src/lib/guarded-fetch.ts, plus a DNS check that the first host resolves to
 * public addresses only), capped in bytes, and checked with ffprobe to be one still PNG, JPEG or WebP of a
 * sane size. Every refusal is a permanent asset error (`watermark_*`); only a network failure or a 5xx
 * may retry (the job's own retry). Nothing is encoded before this succeeds, so a bad watermark never
 * leaves an unwatermarked rendition behind.
 */
import { lookup } from "node:dns/promises";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { guardedFetch } from "../../src/lib/guarded-fetch.js";
import { checkOutboundUrl, nonPublicReason } from "../../src/lib/url-safety.js";
import { WATERMARK_MAX_BYTES, WATERMARK_MAX_SIDE, type WatermarkSettings } from "../../src/lib/watermark.js";
import { InputError } from "./ffmpeg/errors.js";
import { runProcess } from "./ffmpeg/process.js";

export const WATERMARK_FORMATS = "png_pipe,jpeg_pipe,webp_pipe";
const WATERMARK_CODECS = new Set(["png", "mjpeg", "webp"]);
const FETCH_TIMEOUT_MS = 20_000;

export interface FetchedWatermark {
  path: string;
  width: number;
  height: number;
}

/** Input options for the watermark image in an ffmpeg command: a local still image, nothing else. */
export function watermarkInputArgs(file: string): string[] {
  return ["-protocol_whitelist", "file", "-format_whitelist", WATERMARK_FORMATS, "-i", file];
}

async function refusePrivateHost(url: string): Promise<void> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch (err) {
    throw new InputError("watermark_fetch_failed", `the watermark host '${host}' does not resolve`, { cause: err });
  }
  for (const { address } of addresses) {
    const why = nonPublicReason(address);
    if (why)
      throw new InputError("watermark_url_forbidden", `the watermark URL was refused: ${host} resolves to ${why}`);
  }
}

/** Downloads and checks the image; resolves to its local path and pixel size. */
export async function fetchWatermark(
  settings: WatermarkSettings,
  dest: string,
  options: { signal?: AbortSignal; ffprobePath: string; lastAttempt?: boolean },
): Promise<FetchedWatermark> {
  const verdict = checkOutboundUrl(settings.url, { allowPrivate: settings.allow_private });
  if (!verdict.ok) throw new InputError("watermark_url_forbidden", `the watermark URL was refused: ${verdict.reason}`);
  if (!settings.allow_private) await refusePrivateHost(settings.url);
  const fetched = await guardedFetch(settings.url, {
    allowPrivate: settings.allow_private,
    timeoutMs: FETCH_TIMEOUT_MS,
    timeoutCovers: "whole",
  });
  if (!fetched.ok) {
    if (fetched.kind === "forbidden") {
      throw new InputError("watermark_url_forbidden", `the watermark URL was refused: ${fetched.reason}`);
    }
    // A transient failure is a plain error the job retries, until its last attempts: then it is the asset's error.
    if (fetched.kind === "transient" && !options.lastAttempt) {
      throw new Error(`the watermark could not be fetched: ${fetched.message}`);
    }
    throw new InputError("watermark_fetch_failed", `the watermark could not be fetched: ${fetched.message}`);
  }
  const { res } = fetched;
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > WATERMARK_MAX_BYTES || !res.body) {
    await res.body?.cancel();
    throw new InputError(
      "watermark_invalid",
      res.body
        ? `the watermark is ${declared} bytes, over the limit of ${WATERMARK_MAX_BYTES}`
        : "the watermark URL returned no body",
    );
  }
  await mkdir(path.dirname(dest), { recursive: true });
  let bytes = 0;
  const counted = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>).map((chunk) => {
    bytes += (chunk as Uint8Array).byteLength;
    if (bytes > WATERMARK_MAX_BYTES) {
      throw new InputError("watermark_invalid", `the watermark is over the limit of ${WATERMARK_MAX_BYTES} bytes`);
    }
    return chunk;
  });
  await pipeline(counted, createWriteStream(dest), { signal: options.signal });
  if (bytes === 0) throw new InputError("watermark_invalid", "the watermark URL returned an empty body");
  return { path: dest, ...(await checkImage(dest, options)) };
}

/** ffprobe says it is one PNG/JPEG/WebP picture no larger than WATERMARK_MAX_SIDE on a side. */
async function checkImage(
  file: string,
  options: { signal?: AbortSignal; ffprobePath: string },
): Promise<{ width: number; height: number }> {
  let json: { streams?: { codec_type?: string; codec_name?: string; width?: number; height?: number }[] };
  try {
    const { stdout } = await runProcess(
      options.ffprobePath,
      [
        ...["-v", "error", "-print_format", "json", "-show_streams"],
        ...["-protocol_whitelist", "file", "-format_whitelist", WATERMARK_FORMATS],
        file,
      ],
      { signal: options.signal, collectStdout: true, timeoutMs: 30_000 },
    );
    json = JSON.parse(stdout);
  } catch (err) {
    if (options.signal?.aborted) throw err;
    throw new InputError("watermark_invalid", "the watermark is not a PNG, JPEG or WebP image", { cause: err });
  }
  const video = (json.streams ?? []).filter((s) => s.codec_type === "video");
  const s = video[0];
  if (video.length !== 1 || !s?.codec_name || !WATERMARK_CODECS.has(s.codec_name)) {
    throw new InputError("watermark_invalid", "the watermark is not a PNG, JPEG or WebP image");
  }
  const width = s.width ?? 0;
  const height = s.height ?? 0;
  if (width <= 0 || height <= 0) throw new InputError("watermark_invalid", "the watermark image has no picture size");
  if (width > WATERMARK_MAX_SIDE || height > WATERMARK_MAX_SIDE) {
    throw new InputError(
      "watermark_invalid",
      `the watermark is ${width}x${height}, over the limit of ${WATERMARK_MAX_SIDE} px on a side`,
    );
  }
  return { width, height };
}
