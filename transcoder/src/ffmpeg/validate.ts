/**
 * Decisions made from probe facts before any encoding: the job's limits (input_too_long,
 * input_too_large), and whether the source is "standard" enough to remux for the fast path.
 */
import type { JobSettings } from "../../../src/lib/transcoder-protocol.js";
import { InputError } from "./errors.js";
import type { MediaFacts } from "./probe.js";

/** Keyframes further apart than this make fast-path segments too long to be useful. */
export const MAX_FAST_PATH_KEYFRAME_INTERVAL = 10;
const FAST_PATH_CONTAINERS = new Set(["mp4", "mov", "mkv", "ts"]);
const FAST_PATH_PIX_FMTS = new Set(["yuv420p", "yuvj420p"]);
const FAST_PATH_AAC_PROFILES = new Set(["LC", "HE-AAC", "HE-AACv2"]);

export function checkLimits(facts: MediaFacts, settings: JobSettings): void {
  const size = Math.max(facts.sizeBytes, settings.source_size_bytes);
  if (settings.max_size_bytes !== undefined && size > settings.max_size_bytes) {
    throw new InputError(
      "input_too_large",
      `the source is ${size} bytes, over the limit of ${settings.max_size_bytes}`,
    );
  }
  if (settings.max_duration_seconds !== undefined && facts.duration > settings.max_duration_seconds) {
    throw new InputError(
      "input_too_long",
      `the source lasts ${facts.duration.toFixed(1)} s, over the limit of ${settings.max_duration_seconds} s`,
    );
  }
}

export interface StandardCheck {
  standard: boolean;
  /** Why not, in words for logs; empty when standard. */
  reasons: string[];
}

/**
 * "Standard" means browsers and Apple devices play a plain remux: H.264 8-bit 4:2:0 up to 1080p,
 * progressive, square pixels, unrotated, constant frame rate ≤ 60, keyframes at most every 10 s,
 * AAC (LC/HE, ≤ 2 channels) or no audio, in a container we can copy from.
 */
export function checkStandard(facts: MediaFacts): StandardCheck {
  const reasons: string[] = [];
  const v = facts.video;
  if (!v) return { standard: false, reasons: ["no video"] };
  if (!FAST_PATH_CONTAINERS.has(facts.container)) reasons.push(`container ${facts.container}`);
  if (v.codec !== "h264") reasons.push(`video codec ${v.codec}`);
  if (!v.pixFmt || !FAST_PATH_PIX_FMTS.has(v.pixFmt)) reasons.push(`pixel format ${v.pixFmt ?? "unknown"}`);
  if (v.bitDepth !== undefined && v.bitDepth !== 8) reasons.push(`${v.bitDepth}-bit video`);
  const shortSide = Math.min(v.width, v.height);
  const longSide = Math.max(v.width, v.height);
  if (shortSide > 1080 || longSide > 1920) reasons.push(`size ${v.width}x${v.height} above 1080p`);
  if (v.displayWidth !== (v.rotation % 180 ? v.height : v.width)) reasons.push("non-square pixels");
  if (v.rotation !== 0) reasons.push(`rotated ${v.rotation}°`);
  if (v.interlaced) reasons.push("interlaced");
  if (v.variableFrameRate) reasons.push("variable frame rate");
  if (!v.frameRate) reasons.push("unknown frame rate");
  else if (v.frameRate > 60.5) reasons.push(`frame rate ${v.frameRate.toFixed(2)}`);
  if (v.keyframeInterval === undefined) reasons.push("keyframe interval not measured");
  else if (v.keyframeInterval > MAX_FAST_PATH_KEYFRAME_INTERVAL) {
    reasons.push(`keyframes ${v.keyframeInterval.toFixed(1)} s apart`);
  }
  const a = facts.audio;
  if (a) {
    if (a.codec !== "aac") reasons.push(`audio codec ${a.codec}`);
    else if (a.profile && !FAST_PATH_AAC_PROFILES.has(a.profile)) reasons.push(`AAC profile ${a.profile}`);
    if (a.channels > 2) reasons.push(`${a.channels} audio channels`);
  }
  if (!(facts.duration > 0)) reasons.push("unknown duration");
  return { standard: reasons.length === 0, reasons };
}

export interface SourcePlan {
  /** `audio`: no picture, the asset is an audio rendition only. */
  kind: "video" | "audio";
  fastPath: boolean;
  /** Why the fast path was skipped (empty when taken). */
  reasons: string[];
}

export function planSource(facts: MediaFacts, settings: JobSettings): SourcePlan {
  if (!facts.video) return { kind: "audio", fastPath: false, reasons: ["audio-only source"] };
  if (!settings.fast_path) return { kind: "video", fastPath: false, reasons: ["fast path disabled"] };
  // A remux copies the source's frames as they are: a watermarked asset never publishes one.
  if (settings.watermark) return { kind: "video", fastPath: false, reasons: ["watermark"] };
  const { standard, reasons } = checkStandard(facts);
  return { kind: "video", fastPath: standard, reasons };
}
