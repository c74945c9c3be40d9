/**
 * Dubbed audio tracks after `track.created` (src/lib/audio-tracks.ts has the whole flow):
 *  - the transcode-jobs consumer (`{kind: "audio_track"}`) checks the URL against the outbound policy, signs a
 *    track-scoped token for the asset's current run and hands the work to the transcoder (`/audio-tracks`, 202);
 *    a failed hand-over retries with backoff. A handed-over message comes back after the watchdog delay: a track
 *    still `preparing` then was lost by the transcoder (crash, restart) and is dispatched again, up to
 *    AUDIO_TRACK_ATTEMPTS dispatches, then errored;
 *  - the transcoder's callbacks flip it `ready` (with what was written) or `errored` (a precise code), each with
 *    its event, conditional on `preparing` so a repeated callback never announces twice.
 */
import { and, eq, isNull } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import type { AudioTrackDetails } from "../../db/schema";
import {
  AUDIO_TRACK_ATTEMPTS,
  AUDIO_TRACK_WATCHDOG_SECONDS,
  type AudioTrackDispatch,
  type AudioTrackFailure,
  type AudioTrackReady,
} from "../../lib/audio-tracks";
import { KeyframeError } from "../../lib/errors";
import { signJobToken } from "../../lib/job-token";
import { log } from "../../lib/log";
import { nowIso } from "../../lib/time";
import { checkOutboundUrl } from "../../lib/url-safety";
import { transcoderFetch } from "../../transcoder/client";
import { commit } from "../events/record";
import { type JobCall, requireBodyAttempt } from "../jobs/callbacks/authorize";
import { findAsset, findJob } from "../jobs/lifecycle";
import type { ConsumerOutcome } from "../jobs/start";
import { backoffSeconds, systemContext } from "../jobs/system";
import { deleteAudioTrackFiles } from "./audio-files";
import { errorTrack } from "./ingest";
import type { TrackRow } from "./serialize";
import { trackEvent } from "./verbs";

export type AudioDispatchFn = (env: Env, payload: AudioTrackDispatch) => Promise<void>;

const DISPATCH_TIMEOUT_MS = 30_000;

/** POSTs the work to the transcoder; anything but 202 throws (the consumer retries). */
export const dispatchAudioTrackToTranscoder: AudioDispatchFn = async (env, payload) => {
  const res = await transcoderFetch(env, `track:${payload.track_id}`, "/audio-tracks", payload, {
    localTimeoutMs: DISPATCH_TIMEOUT_MS,
  });
  if (res.status !== 202) {
    const text = await res.text().catch(() => "");
    throw new Error(`transcoder answered ${res.status}: ${text.slice(0, 200)}`);
  }
  await res.body?.cancel();
};

async function findAudioTrack(db: ReturnType<typeof createDb>, trackId: string) {
  return db.query.assetTracks.findFirst({
    where: and(
      eq(schema.assetTracks.id, trackId),
      eq(schema.assetTracks.type, "audio"),
      isNull(schema.assetTracks.deletedAt),
    ),
  });
}

const detailsOf = (row: TrackRow) => (row.details ?? {}) as Partial<AudioTrackDetails>;

export async function processAudioTrack(
  env: Env,
  trackId: string,
  opts: { waitUntil: (p: Promise<unknown>) => void; deliveryAttempt: number; dispatch?: AudioDispatchFn },
): Promise<ConsumerOutcome> {
  const db = createDb(env.DB);
  const row = await findAudioTrack(db, trackId);
  if (row?.status !== "preparing" || !row.sourceUrl) {
    return { action: "ack", reason: `nothing to do (${row?.status ?? "missing"})` };
  }
  const ctx = systemContext(env, row.environmentId, opts.waitUntil);
  const fail = async (error: { code: string; message: string }): Promise<ConsumerOutcome> => {
    await errorTrack(ctx, row, error);
    return { action: "ack", reason: error.code };
  };
  const allowPrivate = env.ALLOW_PRIVATE_INGEST_URLS === "true";
  const verdict = checkOutboundUrl(row.sourceUrl, { allowPrivate });
  if (!verdict.ok) {
    return fail({ code: "audio_url_forbidden", message: `The audio URL was refused: ${verdict.reason}.` });
  }
  const details = detailsOf(row);
  const dispatches = details.dispatches ?? 0;
  if (dispatches >= AUDIO_TRACK_ATTEMPTS) {
    return fail({
      code: "internal_error",
      message: `The audio track could not be processed: the transcoder did not finish it after ${dispatches} attempts.`,
    });
  }
  const asset = await findAsset(ctx, row.assetId);
  const runId = details.run_id ?? asset?.currentRunId;
  if (!asset || asset.status === "deleted" || !runId || !asset.duration) {
    return fail({ code: "internal_error", message: "The asset is gone or has no playable run." });
  }
  const job = runId ? await findJob(ctx, runId) : undefined;
  if (!job || job.attempt < 1) {
    return fail({ code: "internal_error", message: `The asset's run '${runId}' is gone.` });
  }
  const payload: AudioTrackDispatch = {
    track_id: row.id,
    job_id: job.id,
    asset_id: asset.id,
    attempt: job.attempt,
    api_url: env.API_PUBLIC_URL,
    token: await signJobToken(env, { jobId: job.id, attempt: job.attempt, trackId: row.id }),
    url: row.sourceUrl,
    allow_private: allowPrivate,
    duration: asset.duration / 1000,
    correlation_id: row.correlationId,
  };
  try {
    await (opts.dispatch ?? dispatchAudioTrackToTranscoder)(env, payload);
  } catch (err) {
    const message = (err as Error).message;
    if (opts.deliveryAttempt >= AUDIO_TRACK_ATTEMPTS) {
      return fail({ code: "internal_error", message: `The audio track could not be handed over: ${message}.` });
    }
    log.warn("audio_track_dispatch_failed", { track_id: row.id, error: message });
    return { action: "retry", delaySeconds: backoffSeconds(opts.deliveryAttempt), reason: message };
  }
  const next = { ...details, run_id: job.id, dispatches: dispatches + 1 } as AudioTrackDetails;
  await db
    .update(schema.assetTracks)
    .set({ details: next, updatedAt: nowIso() })
    .where(and(eq(schema.assetTracks.id, row.id), eq(schema.assetTracks.status, "preparing")));
  log.info("audio_track_dispatched", { track_id: row.id, job_id: job.id, dispatch: dispatches + 1 });
  // Come back later: if it is still preparing then, the transcoder lost it.
  return { action: "retry", delaySeconds: AUDIO_TRACK_WATCHDOG_SECONDS, reason: "dispatched (watchdog armed)" };
}

/** Dead letter: the queue gave up; tell the truth on the track. */
export async function deadLetterAudioTrack(env: Env, trackId: string, waitUntil: (p: Promise<unknown>) => void) {
  const row = await findAudioTrack(createDb(env.DB), trackId);
  if (row?.status !== "preparing") return;
  await errorTrack(systemContext(env, row.environmentId, waitUntil), row, {
    code: "internal_error",
    message: "The audio track could not be processed: retries exhausted.",
  });
}

/** The track a callback names: it must be the one the token is scoped to, on this job's asset. */
async function callbackTrack(call: JobCall, trackId: string, attempt: number): Promise<TrackRow | null> {
  if (!call.trackId || call.trackId !== trackId) {
    throw new KeyframeError("forbidden", "The token is not scoped to this track.");
  }
  requireBodyAttempt(call, attempt);
  const row = await call.ctx.db.query.assetTracks.findFirst({
    where: and(eq(schema.assetTracks.id, trackId), eq(schema.assetTracks.assetId, call.asset.id)),
  });
  if (row?.type !== "audio") throw new KeyframeError("not_found", `No audio track '${trackId}' on this asset.`);
  if (row.deletedAt) {
    // Deleted while it rendered: its files landed after the delete swept them.
    call.ctx.waitUntil(deleteAudioTrackFiles(call.ctx.env, { ...row, details: { run_id: call.job.id } }));
    return null;
  }
  return row;
}

export async function audioTrackReady(
  call: JobCall,
  trackId: string,
  body: AudioTrackReady,
): Promise<{ status: TrackRow["status"] | "deleted" }> {
  const row = await callbackTrack(call, trackId, body.attempt);
  if (!row) return { status: "deleted" };
  if (row.status !== "preparing") return { status: row.status };
  const now = nowIso();
  const details: AudioTrackDetails = {
    ...detailsOf(row),
    run_id: call.job.id,
    duration: body.duration,
    segments: body.segments,
    codecs: body.codecs,
    channels: body.channels,
    bandwidth: body.bandwidth,
    average_bandwidth: body.average_bandwidth,
    ...(body.source_codec ? { source_codec: body.source_codec } : {}),
  };
  const ready: TrackRow = { ...row, status: "ready", details, readyAt: now, updatedAt: now };
  await commit(
    call.ctx,
    [
      call.ctx.db
        .update(schema.assetTracks)
        .set({ status: "ready", details, readyAt: now, updatedAt: now })
        .where(and(eq(schema.assetTracks.id, row.id), eq(schema.assetTracks.status, "preparing"))),
    ],
    [trackEvent("track.ready", ready, { duration: body.duration })],
  );
  log.info("audio_track_ready", { track_id: row.id, duration: body.duration, segments: body.segments });
  return { status: "ready" };
}

export async function audioTrackFailed(
  call: JobCall,
  trackId: string,
  body: AudioTrackFailure,
): Promise<{ status: TrackRow["status"] | "deleted" }> {
  const row = await callbackTrack(call, trackId, body.attempt);
  if (!row) return { status: "deleted" };
  if (row.status !== "preparing") return { status: row.status };
  await errorTrack(call.ctx, row, { code: body.code, message: body.message });
  log.info("audio_track_errored", { track_id: row.id, code: body.code });
  return { status: "errored" };
}
