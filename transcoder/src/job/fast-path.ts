/**
 * Stage 2 (12–20%), beside the ladder: remux the source as it is into one HLS rendition, upload it
 * and publish "fast", so the asset is playable long before the ladder ends. A source still streaming
 * in is remuxed as it arrives (./fast-path-streaming.ts); otherwise the downloaded file is. An optimization: if it
 * fails, the ladder still completes the asset (only a cancelled or gone job stops here).
 */

import { FAST_DIR, runRemux } from "../ffmpeg/remux.js";
import { MASTER_NAME, writeMaster } from "../hls/master.js";
import { type JobContext, timed, uploadFiles } from "./context.js";
import { closedCaptionsLabel } from "./describe.js";
import { isJobGone } from "./errors.js";
import { runStreamingFastPath, stablePrediction } from "./fast-path-streaming.js";
import { publishFast } from "./fast-publish.js";
import type { ProbedSource } from "./ingest.js";
import { renditionFiles } from "./outputs.js";

export interface FastPathResult {
  /** The asset was published "fast". */
  published: boolean;
  /** Work the fast path left running (a streamed remux's last segments): await before "complete". */
  tail: Promise<void>;
}

const NOTHING_LEFT = Promise.resolve();

export async function runFastPath(ctx: JobContext, src: ProbedSource): Promise<FastPathResult> {
  const { facts, plan, duration } = src;
  const video = facts.video;
  if (!plan.fastPath || !video) {
    src.streaming?.bulkFrom(Number.POSITIVE_INFINITY); // nothing here waits on the first bytes
    return { published: false, tail: NOTHING_LEFT };
  }
  const { reporter, signal } = ctx;
  const outputDir = ctx.dirs.output;
  try {
    const predicted = stablePrediction(src);
    if (predicted) {
      const { tail } = await runStreamingFastPath(ctx, src, predicted);
      return { published: true, tail };
    }
    if (src.streaming) {
      ctx.log.info("fast_path.not_streamed", { reason: "segment cuts not predictable" });
      // This remux needs the whole file: none of it is bulk. The one started beside the probe goes first.
      src.streaming.bulkFrom(Number.POSITIVE_INFINITY);
      await src.streaming.remux?.discard("segment cuts not predictable");
      src.streaming.remux = undefined;
    }
    await src.downloaded;
    reporter.update("remuxing", 12);
    await timed(ctx, "remux", () =>
      runRemux(
        {
          kind: "remux",
          input: ctx.dirs.source,
          videoIndex: video.index,
          audioIndex: facts.audio?.index,
          adtsToAsc: facts.container === "ts",
        },
        outputDir,
        {
          signal,
          durationSeconds: duration,
          ffmpegPath: ctx.binaries.copier,
          onProgress: (p) => reporter.update("remuxing", 12 + (5 * (p.percent ?? 0)) / 100),
        },
      ),
    );
    const fast = await timed(ctx, "fast_master", () =>
      writeMaster(outputDir, [{ name: FAST_DIR, type: "muxed" }], {
        signal,
        ffprobePath: ctx.binaries.ffprobe,
        closedCaptions: closedCaptionsLabel(facts),
      }),
    );
    const fastRendition = fast.renditions[0];
    await timed(ctx, "fast_upload", async () => {
      await uploadFiles(ctx, await renditionFiles(outputDir, FAST_DIR), 17, 19);
      await uploadFiles(ctx, [MASTER_NAME], 19, 19.5);
    });
    await publishFast(ctx, src, fastRendition);
    return { published: true, tail: NOTHING_LEFT };
  } catch (err) {
    if (signal.aborted) throw signal.reason ?? err;
    if (isJobGone(err)) throw err;
    ctx.log.warn("fast_path.failed", { error: err });
    return { published: false, tail: NOTHING_LEFT };
  }
}
