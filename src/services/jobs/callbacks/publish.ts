/**
 * POST /internal/jobs/{job_id}/publish: phase `fast` (playable now) or `complete` (ladder landed). Every
 * callback is idempotent: repeated callbacks re-apply the same state and never repeat an event.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import { schema } from "../../../db/client";
import { log } from "../../../lib/log";
import { nowIso } from "../../../lib/time";
import { DOWNLOADS_DIR, type JobPublish } from "../../../lib/transcoder-protocol";
import { recordingSessionOf } from "../../../live/recording-source";
import { assetView } from "../../assets/load";
import { withResource } from "../../events/snapshot";
import { rerenderAudioTracksForRun } from "../../tracks/audio-rerun";
import { settleGeneratedTracks } from "../../tracks/generated";
import { type AssetRow, findAsset } from "../lifecycle";
import { commitOnce } from "../system";
import { type JobCall, requireBodyAttempt, requireRunning, runPrefix } from "./authorize";

const j = schema.jobs;
const a = schema.assets;

export async function publishRun(
  call: JobCall,
  input: JobPublish,
): Promise<{ asset_id: string; status: string; renditions_status: string | null; run_id: string | null }> {
  requireBodyAttempt(call, input.attempt);
  const { ctx, job, asset } = call;
  // Complete already landed: a repeated callback (fast or complete) changes nothing.
  if (job.status !== "succeeded") requireRunning(call, `publish (${input.phase})`);
  const at = nowIso();
  const facts = {
    // A live recording's length is what was broadcast (its segments' durations); a probe of its
    // concatenated segments cannot tell once a reconnect restarted the encoder's clock.
    duration: recordingSessionOf(asset) && asset.duration ? asset.duration : Math.round(input.duration * 1000),
    aspectRatio: input.aspect_ratio,
    resolution: input.resolution,
    maxFrameRate: input.max_frame_rate === null ? null : String(input.max_frame_rate),
    tracks: input.tracks,
    renditions: input.renditions,
    source: input.source,
    hasPoster: !!input.poster,
    hasStoryboard: !!input.storyboard,
    currentRunId: job.id,
    status: "ready" as const,
    error: null,
    readyAt: sql`coalesce(${a.readyAt}, ${at})`,
    updatedAt: at,
  };
  const liveStates = inArray(a.status, ["queued", "processing", "ready"]);
  const downloads = input.phase === "complete" ? await staticRenditionsOutcome(call, input) : undefined;
  // The asset as GET shows it once this publish lands: every event of the batch carries it.
  const published = await assetView(ctx, {
    ...asset,
    ...facts,
    readyAt: asset.readyAt ?? at,
    ...(input.phase === "fast"
      ? { renditionsStatus: "preparing" as const }
      : {
          renditionsStatus: "complete" as const,
          progress: null,
          ...(downloads ? { staticRenditions: downloads } : {}),
        }),
  });
  const readyEvent = {
    event: {
      type: "asset.ready" as const,
      subjectId: asset.id,
      assetId: asset.id,
      correlationId: asset.correlationId,
      data: withResource({ asset_id: asset.id, job_id: job.id, status: "ready", duration: input.duration }, published),
    },
    guard: sql`EXISTS (SELECT 1 FROM assets WHERE id = ${asset.id} AND status = 'ready' AND current_run_id = ${job.id})`,
  };
  if (input.phase === "fast" && job.status === "running") {
    await commitOnce(
      ctx,
      [
        ctx.db
          .update(a)
          .set({ ...facts, renditionsStatus: "preparing" })
          .where(
            and(
              eq(a.id, asset.id),
              liveStates,
              sql`NOT (coalesce(${a.currentRunId}, '') = ${job.id} AND coalesce(${a.renditionsStatus}, '') = 'complete')`,
            ),
          ),
      ],
      [readyEvent],
    );
  } else if (input.phase === "complete") {
    await commitOnce(
      ctx,
      [
        ctx.db
          .update(j)
          .set({ status: "succeeded", stage: "finalizing", percent: 100, error: null, finishedAt: at, updatedAt: at })
          .where(and(eq(j.id, job.id), eq(j.status, "running"), eq(j.attempt, call.attempt))),
        ctx.db
          .update(a)
          .set({
            ...facts,
            renditionsStatus: "complete",
            progress: null,
            ...(downloads ? { staticRenditions: downloads } : {}),
          })
          .where(
            and(
              eq(a.id, asset.id),
              liveStates,
              sql`EXISTS (SELECT 1 FROM jobs WHERE id = ${job.id} AND status = 'succeeded' AND attempt = ${call.attempt})`,
            ),
          ),
      ],
      [
        readyEvent,
        {
          event: {
            type: "asset.renditions_ready",
            subjectId: asset.id,
            assetId: asset.id,
            correlationId: asset.correlationId,
            data: withResource({ asset_id: asset.id, job_id: job.id }, published),
          },
          perJob: job.id,
          guard: sql`EXISTS (SELECT 1 FROM assets WHERE id = ${asset.id} AND current_run_id = ${job.id} AND renditions_status = 'complete')`,
        },
        ...(downloads ? [staticRenditionsEvent(call, downloads, published)] : []),
      ],
    );
  }
  const now = await findAsset(ctx, asset.id);
  // Playable means its audio is there to transcribe: generated subtitles waiting for it are queued.
  if (now?.status === "ready") await settleGeneratedTracks(ctx, asset.id);
  if (input.phase === "complete" && now?.currentRunId === job.id && now.status === "ready") {
    ctx.waitUntil(collectOldRuns(ctx.env, asset.id, job.id, recordingSessionOf(asset)));
    // The old runs' folders go, with the dubs rendered into them: render those again for this run.
    await rerenderAudioTracksForRun(ctx, asset.id, job.id).catch((err) =>
      log.warn("audio_tracks_rerender_failed", { asset_id: asset.id, job_id: job.id, error: (err as Error).message }),
    );
  }
  log.info("job_published", { job_id: job.id, asset_id: asset.id, phase: input.phase, attempt: call.attempt });
  return {
    asset_id: asset.id,
    status: now?.status ?? "deleted",
    renditions_status: now?.renditionsStatus ?? null,
    run_id: now?.currentRunId ?? null,
  };
}

type StaticRenditionsState = NonNullable<AssetRow["staticRenditions"]>;

/**
 * What the `complete` publish means for an mp4_support=standard asset's download (undefined for none).
 * A reported file counts only if it really is in storage under this run, at the size R2 says; a missing
 * report (a transcoder that ignored the setting) or a failed download is `errored`, never a job failure.
 */
async function staticRenditionsOutcome(call: JobCall, input: JobPublish): Promise<StaticRenditionsState | undefined> {
  if (call.asset.mp4Support !== "standard") return undefined;
  const report = input.static_renditions;
  if (!report) return { status: "errored", files: [], error: "the transcoder produced no download" };
  if (report.status === "errored" || report.files.length === 0) {
    return { status: "errored", files: [], error: report.error ?? "the download could not be produced" };
  }
  const files: StaticRenditionsState["files"] = [];
  for (const f of report.files) {
    const head = await call.ctx.env.MEDIA.head(`${runPrefix(call.asset.id, call.job.id)}${DOWNLOADS_DIR}/${f.name}`);
    if (!head) return { status: "errored", files: [], error: `${DOWNLOADS_DIR}/${f.name} was reported but not stored` };
    files.push({ ...f, filesize: head.size });
  }
  return { status: "ready", files };
}

/**
 * The download's outcome is the asset's `static_renditions` (status and files); `files` stays where it
 * was, and the reason a download failed, which GET does not show, rides along as
 * `static_renditions_error` (`status` and `error` are the asset's own now).
 */
function staticRenditionsEvent(call: JobCall, state: StaticRenditionsState, published: object) {
  const { asset, job } = call;
  const ready = state.status === "ready";
  return {
    event: {
      type: ready ? ("asset.static_renditions.ready" as const) : ("asset.static_renditions.errored" as const),
      subjectId: asset.id,
      assetId: asset.id,
      correlationId: asset.correlationId,
      data: withResource(
        ready
          ? { asset_id: asset.id, job_id: job.id, files: state.files }
          : { asset_id: asset.id, job_id: job.id, static_renditions_error: state.error ?? null },
        published,
      ),
    },
    perJob: job.id,
    guard: sql`EXISTS (SELECT 1 FROM assets WHERE id = ${asset.id} AND current_run_id = ${job.id}
      AND json_extract(static_renditions, '$.status') = ${state.status})`,
  };
}

/**
 * Removes every run prefix of the asset except the live one (and a live recording's session, which is
 * its source). Safe to repeat.
 */
export async function collectOldRuns(
  env: Env,
  assetId: string,
  keepJobId: string,
  keepSession: string | null = null,
): Promise<number> {
  const runs = `assets/${assetId}/runs/`;
  let removed = 0;
  try {
    const listing = await env.MEDIA.list({ prefix: runs, delimiter: "/" });
    for (const prefix of listing.delimitedPrefixes) {
      if (prefix === `${runs}${keepJobId}/` || prefix === `${runs}${keepSession}/`) continue;
      let cursor: string | undefined;
      do {
        const page = await env.MEDIA.list({ prefix, cursor, limit: 1000 });
        const keys = page.objects.map((o) => o.key);
        if (keys.length > 0) await env.MEDIA.delete(keys);
        removed += keys.length;
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
    }
    if (removed > 0) log.info("old_runs_collected", { asset_id: assetId, kept: keepJobId, objects: removed });
  } catch (err) {
    log.warn("old_runs_gc_failed", { asset_id: assetId, error: (err as Error).message });
  }
  return removed;
}
