/**
 * The "fast" publish both fast paths end with (./fast-path.ts after a remux, ./fast-path-streaming.ts while
 * the source still streams in): the asset becomes `ready`, playing the one muxed rendition, with the
 * source's facts; poster and storyboard come with the complete publish.
 */
import { MASTER_NAME, type MeasuredRendition, toProtocolRendition } from "../hls/master.js";
import { type JobContext, timed } from "./context.js";
import { aspectRatio, resolutionLabel, sourceFactsFor, sourceTracks } from "./describe.js";
import type { ProbedSource } from "./ingest.js";

export async function publishFast(
  ctx: JobContext,
  src: ProbedSource,
  rendition: MeasuredRendition,
  log: Record<string, unknown> = {},
): Promise<void> {
  const { facts, duration } = src;
  const video = facts.video;
  if (!video) throw new Error("publishFast needs a source with video");
  ctx.reporter.update("finalizing", 19.5);
  await timed(ctx, "fast_publish", () =>
    ctx.client.publish(
      {
        phase: "fast",
        master: MASTER_NAME,
        duration,
        aspect_ratio: aspectRatio(video.displayWidth, video.displayHeight),
        resolution: resolutionLabel(Math.min(video.displayWidth, video.displayHeight)),
        max_frame_rate: rendition.frame_rate ?? null,
        tracks: sourceTracks(facts, rendition),
        renditions: [toProtocolRendition(rendition)],
        source: sourceFactsFor(facts, true),
        poster: null,
        storyboard: null,
      },
      { signal: ctx.signal },
    ),
  );
  ctx.log.info("job.published", {
    phase: "fast",
    ms: Date.now() - ctx.startedAt,
    bandwidth: rendition.bandwidth,
    ...log,
  });
}
