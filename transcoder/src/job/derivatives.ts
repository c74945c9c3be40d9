/**
 * Stage 4: what is made from the source or the ladder besides the renditions — the poster (beside
 * the ladder, below it), the storyboard (from the smallest rendition's keyframes once the ladder is
 * done) and the MP4 download (mp4_support). None of them fails the job: a failure is logged and the
 * asset publishes without it (the download as "errored").
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  DOWNLOADS_DIR,
  type JobPublish,
  type StaticRenditionFile,
  type StaticRenditionsReport,
} from "../../../src/lib/transcoder-protocol.js";
import { makeAudioDownload } from "../audio-download.js";
import { INIT_NAME, PLAYLIST_NAME } from "../ffmpeg/hls-output.js";
import { AUDIO_DIR } from "../ffmpeg/ladder.js";
import { POSTER_NAME, posterSize, posterTime, runPoster } from "../ffmpeg/poster.js";
import { runProgressive } from "../ffmpeg/progressive.js";
import { planStoryboard, runStoryboard, STORYBOARD_IMAGE, STORYBOARD_VTT } from "../ffmpeg/storyboard.js";
import { parseMediaPlaylist } from "../hls/media-playlist.js";
import { type JobContext, putFile, timed } from "./context.js";
import { describeError, isJobGone } from "./errors.js";
import type { ProbedSource } from "./ingest.js";
import type { LadderStage } from "./ladder.js";

/** The poster runs beside the ladder, below it, so it takes only what the ladder leaves. */
const SIDE_WORK_NICENESS = 15;

/** Starts the poster; resolves to its output name, or null when there is none. */
export function startPoster(ctx: JobContext, src: ProbedSource, ladder: LadderStage): Promise<string | null> {
  const video = src.facts.video;
  if (!video) return Promise.resolve(null);
  const size = posterSize(video.displayWidth, video.displayHeight);
  const downloaded = src.downloaded;
  const run = downloaded
    .then(() =>
      timed(ctx, "poster", () =>
        runPoster(
          {
            kind: "poster",
            input: ctx.dirs.source,
            output: POSTER_NAME,
            streamIndex: video.index,
            atSeconds: posterTime(src.duration),
            deinterlace: video.interlaced,
            watermark: src.watermark,
            ...size,
          },
          ctx.dirs.output,
          {
            signal: ladder.signal,
            durationSeconds: src.duration,
            ffmpegPath: ctx.binaries.ffmpeg,
            niceness: SIDE_WORK_NICENESS,
          },
        ),
      ),
    )
    .then(
      () => POSTER_NAME,
      (err) => {
        if (ladder.signal.aborted) throw ladder.signal.reason ?? err;
        ctx.log.warn("poster.failed", { error: err });
        return null;
      },
    );
  run.catch(() => undefined);
  return run;
}

/** The storyboard sprite and its VTT, once the ladder is done. */
export async function makeStoryboard(
  ctx: JobContext,
  src: ProbedSource,
  ladder: LadderStage,
): Promise<JobPublish["storyboard"]> {
  const video = src.facts.video;
  const smallest = ladder.rungs.at(-1);
  if (!video || !smallest) return null;
  const outputDir = ctx.dirs.output;
  const run = { signal: ladder.signal, durationSeconds: src.duration, ffmpegPath: ctx.binaries.ffmpeg };
  try {
    await timed(ctx, "storyboard", async () => {
      // Thumbnails come from the smallest rendition's keyframes (every 2 s by construction):
      // decoding only those is far cheaper than decoding the source again.
      const dir = path.join(outputDir, smallest.name);
      const playlist = parseMediaPlaylist(await readFile(path.join(dir, PLAYLIST_NAME), "utf8"));
      const parts = [playlist.mapUri ?? INIT_NAME, ...playlist.segments.map((s) => s.uri)];
      const concat = `concat:${parts.join("|")}`;
      const useRendition = concat.length < 100_000;
      // The source has no watermark on it: a watermarked asset gets its storyboard from a rendition or none.
      if (!useRendition && src.watermark) throw new Error("too many segments to read the rendition; no storyboard");
      const plan = planStoryboard(src.duration, smallest.width, smallest.height, {
        intervalStep: useRendition ? 2 : 1,
      });
      const output = path.join(outputDir, STORYBOARD_IMAGE);
      await runStoryboard(
        useRendition
          ? { kind: "storyboard", input: concat, output, plan, keyframesOnly: true }
          : {
              kind: "storyboard",
              input: ctx.dirs.source,
              output,
              plan,
              streamIndex: video.index,
              deinterlace: video.interlaced,
            },
        useRendition ? dir : outputDir,
        run,
      );
    });
    return { vtt: STORYBOARD_VTT, image: STORYBOARD_IMAGE };
  } catch (err) {
    if (ladder.signal.aborted) throw ladder.signal.reason ?? err;
    ctx.log.warn("storyboard.failed", { error: err });
    return null;
  }
}

/**
 * The download (mp4_support standard): stream-copied from the top rung and the audio rendition, so it
 * is exactly what the best ABR variant plays (H.264 + AAC, capped by max_resolution) and costs no
 * encode. Made after the ladder rather than from the fast-path remux, which can exceed max_resolution
 * and carries whatever the source had (VFR, edit lists, odd audio). A failure is reported as an
 * errored download and never fails the job.
 */
export async function makeDownload(
  ctx: JobContext,
  src: ProbedSource,
  ladder: LadderStage,
): Promise<StaticRenditionsReport | undefined> {
  if (ctx.settings.mp4_support !== "standard") return undefined;
  const { facts, duration } = src;
  const topRung = ladder.rungs[0];
  if (!topRung && !facts.audio) return { status: "errored", files: [], error: "the source has no media" };
  const name = topRung ? ("highest.mp4" as const) : ("audio.m4a" as const);
  const rel = `${DOWNLOADS_DIR}/${name}`;
  try {
    return await timed(ctx, "static_rendition", async () => {
      const made = await runProgressive(
        {
          videoDir: topRung?.name,
          audioDir: facts.audio ? AUDIO_DIR : undefined,
          output: rel,
          scratchDir: ctx.dirs.scratch,
        },
        ctx.dirs.output,
        {
          signal: ladder.signal,
          durationSeconds: duration,
          ffmpegPath: ctx.binaries.ffmpeg,
          niceness: SIDE_WORK_NICENESS,
        },
      );
      await putFile(ctx, rel, ladder.signal);
      const file: StaticRenditionFile = {
        name,
        ext: topRung ? "mp4" : "m4a",
        bitrate: Math.max(1, Math.round((made.bytes * 8) / Math.max(duration, 0.001))),
        filesize: made.bytes,
      };
      if (topRung) Object.assign(file, { width: topRung.width, height: topRung.height });
      ctx.log.info("static_rendition.done", { name, bytes: made.bytes });
      const audio =
        topRung && src.facts.audio
          ? [
              await makeAudioDownload({
                outputDir: ctx.dirs.output,
                scratchDir: ctx.dirs.scratch,
                durationSeconds: duration,
                run: { signal: ladder.signal, ffmpegPath: ctx.binaries.ffmpeg, niceness: SIDE_WORK_NICENESS },
                put: (r) => putFile(ctx, r, ladder.signal),
              }),
            ]
          : [];
      return { status: "ready" as const, files: [file, ...audio] };
    });
  } catch (err) {
    if (ladder.signal.aborted) throw ladder.signal.reason ?? err;
    if (isJobGone(err)) throw err;
    ctx.log.warn("static_rendition.failed", { error: err });
    return { status: "errored", files: [], error: describeError(err).slice(0, 2000) };
  }
}
