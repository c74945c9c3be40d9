/**
 * Errors of the ffmpeg library. They know nothing of HTTP or jobs: the runner maps them to the
 * protocol's asset error codes and decides what is retryable.
 */
import type { AssetErrorCode } from "../../../src/lib/transcoder-protocol.js";

/** Asset error codes that describe the input itself: permanent, retrying cannot help. */
export type InputErrorCode = Extract<
  AssetErrorCode,
  | "input_unreadable"
  | "input_no_media"
  | "input_too_long"
  | "input_too_large"
  | "input_unsupported"
  | "watermark_url_forbidden"
  | "watermark_fetch_failed"
  | "watermark_invalid"
>;

/** The source is not something we can turn into video. Permanent. */
export class InputError extends Error {
  override readonly name = "InputError";
  constructor(
    readonly code: InputErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** ffmpeg or ffprobe could not be found or does not run. An installation problem, never the input's. */
export class BinaryNotFoundError extends Error {
  override readonly name = "BinaryNotFoundError";
}

/** An ffmpeg/ffprobe process exited non-zero or was killed. */
export class FfmpegError extends Error {
  override readonly name = "FfmpegError";
  constructor(
    message: string,
    readonly details: {
      binary: string;
      args: readonly string[];
      exitCode: number | null;
      signal: NodeJS.Signals | null;
      /** The last part of stderr, which is where ffmpeg says what went wrong. */
      stderr: string;
    },
  ) {
    super(message);
  }

  get exitCode(): number | null {
    return this.details.exitCode;
  }

  get signal(): NodeJS.Signals | null {
    return this.details.signal;
  }

  /**
   * Best guess whether the input caused the failure (corrupt data found mid-stream) rather than
   * the machine (killed, out of memory, disk full). Only a guess: ffmpeg has no error taxonomy.
   */
  get looksLikeInputError(): boolean {
    if (this.details.signal) return false;
    const text = this.details.stderr;
    if (/No space left on device|Cannot allocate memory|Resource temporarily unavailable/i.test(text)) {
      return false;
    }
    return /Invalid data found when processing input|moov atom not found|Error while decoding|corrupt|decode_slice_header error|no frame!|Invalid NAL unit|error reading header/i.test(
      text,
    );
  }
}
