/**
 * Stage 1 (0–12%): download the source, probe it, check it against the limits and decide the
 * plan (fast path or not). Refuses before downloading when the stored size is already too large.
 */

import path from "node:path";
import { cutClip } from "../clip.js";
import { InputError } from "../ffmpeg/errors.js";
import type { MediaFacts } from "../ffmpeg/probe.js";
import { probe, probeClosedCaptions } from "../ffmpeg/probe.js";
import { checkLimits, planSource, type SourcePlan } from "../ffmpeg/validate.js";
import type { WatermarkInput } from "../ffmpeg/watermark.js";
import { fetchWatermark } from "../watermark.js";
import { type JobContext, timed } from "./context.js";

/** An unreachable watermark host is retried with the job this many times, then errors the asset. */
export const WATERMARK_FETCH_ATTEMPTS = 3;
/** Video codecs whose decoders export A/53 captions and whose captions libx264 can re-embed. */
const CAPTION_CODECS = new Set(["h264", "mpeg2video", "hevc"]);

export interface ProbedSource {
  facts: MediaFacts;
  plan: SourcePlan;
  duration: number;
  /** The checked watermark image, when the asset has one and the source has a picture. */
  watermark?: WatermarkInput & { displayWidth: number; displayHeight: number };
}

function refuseTooLarge(ctx: JobContext, bytes: number): void {
  const limit = ctx.settings.max_size_bytes;
  if (limit !== undefined && bytes > limit) {
    throw new InputError("input_too_large", `the source is ${bytes} bytes, over the limit of ${limit}`);
  }
}

export async function ingestSource(ctx: JobContext): Promise<ProbedSource> {
  const { settings, reporter, signal } = ctx;
  refuseTooLarge(ctx, settings.source_size_bytes);

  const expected = settings.source_size_bytes || undefined;
  const downloaded = await timed(ctx, "download", () =>
    ctx.client.downloadSource(ctx.dirs.source, {
      signal,
      onProgress: (bytes, total) => {
        const of = total ?? expected;
        if (of) reporter.update("downloading", (10 * bytes) / of);
      },
    }),
  );
  ctx.log.info("source.downloaded", {
    bytes: downloaded.bytes,
    content_type: downloaded.contentType ?? null,
    ms: Date.now() - ctx.startedAt,
  });

  // A clip asset's source is the original it was cut from: cut the range first (../clip.ts).
  const clip = settings.clip;
  if (clip) await timed(ctx, "clip", () => cutClip(ctx.dirs.source, clip, { signal, ffmpegPath: ctx.binaries.ffmpeg }));

  reporter.update("probing", 10);
  refuseTooLarge(ctx, downloaded.bytes);
  const facts = await timed(ctx, "probe", () =>
    probe(ctx.dirs.source, { signal, keyframes: true, ffprobePath: ctx.binaries.ffprobe }),
  );
  checkLimits(facts, settings);
  // CEA-608/708 captions ride in the video's SEI: the remux copies them and the ladder re-embeds them (-a53cc).
  const video = facts.video;
  if (video && !video.closedCaptions && CAPTION_CODECS.has(video.codec)) {
    video.closedCaptions = await timed(ctx, "probe_captions", () =>
      probeClosedCaptions(ctx.dirs.source, { signal, ffprobePath: ctx.binaries.ffprobe }).catch((err) => {
        if (signal.aborted) throw err;
        ctx.log.warn("captions_probe.failed", { error: err });
        return false;
      }),
    );
  }
  const plan = planSource(facts, settings);
  ctx.log.info("source.probed", {
    container: facts.container,
    duration: facts.duration,
    video: facts.video ?? null,
    audio: facts.audio ?? null,
    kind: plan.kind,
    fast_path: plan.fastPath,
    fast_path_skipped_because: plan.reasons,
  });
  // Fetched and checked before anything is encoded: a bad watermark fails the job with nothing published.
  const wm = settings.watermark;
  const watermark =
    wm && facts.video
      ? await timed(ctx, "watermark", async () => {
          const image = await fetchWatermark(wm, path.join(ctx.dirs.scratch, "watermark"), {
            signal,
            ffprobePath: ctx.binaries.ffprobe,
            lastAttempt: ctx.dispatch.attempt >= WATERMARK_FETCH_ATTEMPTS,
          });
          ctx.log.info("watermark.fetched", { width: image.width, height: image.height });
          const { allow_private: _, ...spec } = wm;
          return {
            path: image.path,
            spec,
            displayWidth: facts.video?.displayWidth ?? 0,
            displayHeight: facts.video?.displayHeight ?? 0,
          };
        })
      : undefined;
  reporter.update("probing", 12);
  return { facts, plan, duration: facts.duration, watermark };
}
