/**
 * Stage 5 (90–100%): once ffmpeg has exited, at the same time: the last segments upload, the
 * storyboard is cut, the master is measured, the poster and the download finish. Then what is left
 * (init sections, poster, storyboard), then the variant playlists, then the master: nothing is
 * uploaded before what it points to, and each playlist is written once. Then publish "complete";
 * resolves to the published renditions' names.
 */
import { PLAYLIST_NAME } from "../ffmpeg/hls-output.js";
import { POSTER_NAME } from "../ffmpeg/poster.js";
import { STORYBOARD_IMAGE, STORYBOARD_VTT } from "../ffmpeg/storyboard.js";
import { MASTER_NAME, type MeasuredRendition, toProtocolRendition, writeMaster } from "../hls/master.js";
import { type JobContext, timed, uploadFiles } from "./context.js";
import { makeDownload, makeStoryboard } from "./derivatives.js";
import { aspectRatio, closedCaptionsLabel, ladderTracks, sourceFactsFor } from "./describe.js";
import type { ProbedSource } from "./ingest.js";
import type { LadderStage } from "./ladder.js";
import { renditionFiles } from "./outputs.js";

export async function publishComplete(
  ctx: JobContext,
  src: ProbedSource,
  ladder: LadderStage,
  poster: Promise<string | null>,
  remuxed: boolean,
): Promise<string[]> {
  const { facts, duration } = src;
  const outputDir = ctx.dirs.output;
  const [, storyboard, final, posterName, staticRenditions] = await Promise.all([
    timed(ctx, "segment_upload_tail", () => ladder.segments.finish()),
    makeStoryboard(ctx, src, ladder),
    timed(ctx, "master", () =>
      writeMaster(outputDir, ladder.refs, {
        signal: ladder.signal,
        ffprobePath: ctx.binaries.ffprobe,
        audioLabels: ladder.audio,
        closedCaptions: closedCaptionsLabel(facts),
      }),
    ),
    poster,
    makeDownload(ctx, src, ladder),
  ]);

  const rest: string[] = [];
  const playlists: string[] = [];
  for (const ref of ladder.refs) {
    for (const f of await renditionFiles(outputDir, ref.name)) {
      if (f.endsWith(`/${PLAYLIST_NAME}`)) playlists.push(f);
      else if (!ladder.segments.uploaded.has(f)) rest.push(f);
    }
  }
  if (posterName) rest.push(POSTER_NAME);
  if (storyboard) rest.push(STORYBOARD_IMAGE, STORYBOARD_VTT);
  let uploadedBytes = ladder.segments.bytes;
  await timed(ctx, "final_upload", async () => {
    uploadedBytes += await uploadFiles(ctx, rest, 90, 95);
    uploadedBytes += await uploadFiles(ctx, playlists, 95, 96);
    // The master goes last: everything it points to exists by the time it does.
    uploadedBytes += await uploadFiles(ctx, [MASTER_NAME], 96, 97);
  });
  ctx.log.info("outputs.uploaded", {
    files: ladder.segments.files + rest.length + playlists.length + 1,
    bytes: uploadedBytes,
    during_ladder: ladder.segments.files,
    // Stored by remote ladder chunks' instances (ladder-chunks/remote.ts), not uploaded from here.
    stored_by_chunks: ladder.segments.storedElsewhere.files,
    stored_by_chunks_bytes: ladder.segments.storedElsewhere.bytes,
  });

  ctx.reporter.update("finalizing", 97);
  const top: MeasuredRendition | undefined = final.renditions
    .filter((r) => r.type === "video")
    .sort((a, b) => (b.height ?? 0) * (b.width ?? 0) - (a.height ?? 0) * (a.width ?? 0))[0];
  const audio = final.renditions.filter((r) => r.type === "audio");
  const video = facts.video;
  const topRung = ladder.rungs[0];
  // No progress after this point: the API may refuse reports for a finished job.
  await ctx.reporter.stop();
  await timed(ctx, "complete_publish", () =>
    ctx.client.publish(
      {
        phase: "complete",
        master: MASTER_NAME,
        duration,
        aspect_ratio: video ? aspectRatio(video.displayWidth, video.displayHeight) : null,
        resolution: topRung ? `${topRung.size}p` : null,
        max_frame_rate: top?.frame_rate ?? null,
        tracks: ladderTracks(top, audio, ladder.audio, !!facts.video?.closedCaptions),
        renditions: final.renditions.map(toProtocolRendition),
        source: sourceFactsFor(facts, remuxed),
        poster: posterName,
        storyboard,
        ...(staticRenditions ? { static_renditions: staticRenditions } : {}),
      },
      { signal: ctx.signal },
    ),
  );
  return final.renditions.map((r) => r.name);
}
