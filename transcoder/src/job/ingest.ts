/**
 * Stage 1 (0–12%): download the source, probe it, check it against the limits and decide the
 * plan (fast path or not). Refuses before downloading when the stored size is already too large.
 */

import { cutClip } from "../clip.js";
import { InputError } from "../ffmpeg/errors.js";
import type { MediaFacts } from "../ffmpeg/probe.js";
import { probe } from "../ffmpeg/probe.js";
import { checkLimits, planSource, type SourcePlan } from "../ffmpeg/validate.js";
import { type JobContext, timed } from "./context.js";

export interface ProbedSource {
  facts: MediaFacts;
  plan: SourcePlan;
  duration: number;
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
  reporter.update("probing", 12);
  return { facts, plan, duration: facts.duration };
}
