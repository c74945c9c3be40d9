/**
 * Clip assets (issue 16): `POST /v1/assets { input: { asset_id, start_time, end_time } }` makes a new asset
 * from a range of a ready one, or of a live stream's recording, also while it is still recording. This
 * module owns the checks on the source asset and the range, and how a clip's range maps onto its own
 * stored source: a copy of the original it descends from (src/services/jobs/clip-source.ts), so a clip of
 * a clip cuts the original at the summed offset; for a recording, the recorded segments around the range
 * (src/live/recording-clip.ts), so the range is shifted to where those segments start.
 */
import { and, eq, ne } from "drizzle-orm";
import { schema } from "../../db/client";
import { KeyframeError, ValidationError } from "../../lib/errors";
import type { JobSettings } from "../../lib/transcoder-protocol";
import {
  finishedRecording,
  planRecordingClip,
  type RecordedMedia,
  type RecordingClipPlan,
  recordedSeconds,
  sizePlanParts,
} from "../../live/recording-clip";
import { recordingSessionOf } from "../../live/recording-source";
import type { ServiceContext } from "../context";
import type { AssetRow } from "../jobs/lifecycle";
import { liveStub } from "../live-streams/load";

/** What the `clip` column holds: the range in the source asset's seconds, and where it starts in the original. */
export interface StoredClip {
  start_time: number;
  end_time: number;
  original_start_time: number;
  /** A clip of a live recording: the recorded segments its own source is made of (copied by clip-source). */
  recording?: RecordingClipPlan;
}

export interface ResolvedClip {
  sourceAssetId: string;
  clip: StoredClip;
  duration: number;
  /** The source's watermark: a clip re-encodes the unwatermarked original, so it inherits it (issue 16). */
  watermark: AssetRow["watermark"];
}

/** A frame at 1000 fps: the tolerance for an end_time that rounds past the probed duration. */
const DURATION_SLACK_SECONDS = 0.001;

export async function resolveClip(
  ctx: ServiceContext,
  input: { asset_id: string; start_time?: number; end_time?: number },
): Promise<ResolvedClip> {
  const source = await ctx.db.query.assets.findFirst({
    where: and(
      eq(schema.assets.id, input.asset_id),
      eq(schema.assets.environmentId, ctx.caller.environmentId),
      ne(schema.assets.status, "deleted"),
    ),
  });
  if (!source) {
    throw new KeyframeError("not_found", `No asset with id '${input.asset_id}' exists in this environment.`, [
      { location: "json.input.asset_id", message: "no such asset in this environment" },
    ]);
  }
  const session = recordingSessionOf(source);
  if (session && !source.sourceKey && (source.status === "processing" || source.status === "ready")) {
    return resolveRecordingClip(ctx, source, session, input);
  }
  if (source.status !== "ready") {
    throw new KeyframeError(
      "invalid_state",
      `Asset '${source.id}' is '${source.status}'; a clip can only be made from a ready asset.`,
      [{ location: "json.input.asset_id", message: `the asset is ${source.status}, not ready` }],
    );
  }
  if (!source.sourceKey || source.duration === null) {
    throw new KeyframeError("invalid_state", `Asset '${source.id}' has no stored original to cut a clip from.`, [
      { location: "json.input.asset_id", message: "the asset has no stored original" },
    ]);
  }
  const duration = source.duration / 1000;
  const start = input.start_time ?? 0;
  const end = input.end_time ?? duration;
  if (start >= duration) {
    throw new ValidationError(`start_time ${start} is not inside asset '${source.id}' (duration ${duration} s).`, [
      { location: "json.input.start_time", message: `must be less than the asset's duration, ${duration}` },
    ]);
  }
  if (end > duration + DURATION_SLACK_SECONDS) {
    throw new ValidationError(`end_time ${end} is past the end of asset '${source.id}' (duration ${duration} s).`, [
      { location: "json.input.end_time", message: `must be at most the asset's duration, ${duration}` },
    ]);
  }
  const clipEnd = Math.min(end, duration);
  const parent = source.clip as StoredClip | null;
  return {
    sourceAssetId: source.id,
    clip: { start_time: start, end_time: clipEnd, original_start_time: (parent?.original_start_time ?? 0) + start },
    duration: clipEnd - start,
    watermark: source.watermark ?? null,
  };
}

/**
 * A clip of a live recording, running or finished: the range is checked against what is recorded so far
 * (a running recording answers 422 `range_not_recorded` with its recorded duration, since the same
 * request succeeds later), and the clip's source is planned from the segments that cover it.
 */
async function resolveRecordingClip(
  ctx: ServiceContext,
  source: AssetRow,
  session: string,
  input: { start_time?: number; end_time?: number },
): Promise<ResolvedClip> {
  const streamId = (source.source as { live_stream_id?: unknown } | null)?.live_stream_id;
  let media: RecordedMedia | null = null;
  if (source.status === "processing" && typeof streamId === "string") {
    media = await liveStub(ctx.env, streamId).recordedSegments(session);
  }
  // Not running (any more): the session's VOD playlist, written before the recording turned ready.
  media ??= await finishedRecording(ctx.env.MEDIA, source.id, session);
  if (!media) {
    throw new KeyframeError("invalid_state", `Recording '${source.id}' has no recorded segments to cut a clip from.`, [
      { location: "json.input.asset_id", message: "the recording has no stored segments" },
    ]);
  }
  const recorded = Math.round(recordedSeconds(media.segments) * 1000) / 1000;
  const start = input.start_time ?? 0;
  const end = input.end_time ?? recorded;
  const notRecorded = (field: "start_time" | "end_time", value: number) => {
    const message = media?.live
      ? `${field} ${value} is past what recording '${source.id}' has recorded so far (${recorded} s); it is still recording, so retry once it has.`
      : `${field} ${value} is past the end of recording '${source.id}' (duration ${recorded} s).`;
    const errors = [
      { location: `json.input.${field}`, message: `must be less than the recorded duration, ${recorded}` },
    ];
    return media?.live
      ? new KeyframeError("range_not_recorded", message, errors)
      : new ValidationError(message, errors);
  };
  if (start >= recorded) throw notRecorded("start_time", start);
  if (end > recorded + DURATION_SLACK_SECONDS) throw notRecorded("end_time", end);
  const clipEnd = Math.min(end, recorded);
  let planned = planRecordingClip(media, { start, end: clipEnd });
  if (planned.ok) planned = await sizePlanParts(ctx.env.MEDIA, planned.plan);
  if (!planned.ok) {
    throw new KeyframeError("invalid_state", `Recording '${source.id}' cannot be clipped there: ${planned.reason}.`, [
      { location: "json.input.asset_id", message: planned.reason },
    ]);
  }
  const { plan } = planned;
  return {
    sourceAssetId: source.id,
    // The clip's source starts at `plan.origin` of the recording: its range is shifted by that much.
    clip: { start_time: start, end_time: clipEnd, original_start_time: start - plan.origin, recording: plan },
    duration: clipEnd - start,
    watermark: source.watermark ?? null,
  };
}

/**
 * Where a clip asset's own timeline starts in its stored source (a copy of the whole original): renders
 * from the source (on-demand thumbnails, animated previews) add this to the asset's times.
 */
export function clipOffsetSeconds(row: Pick<AssetRow, "clip">): number {
  return (row.clip as StoredClip | null)?.original_start_time ?? 0;
}

/** The job settings' `clip`: the range in the stored original's seconds. */
export function clipSettings(row: Pick<AssetRow, "clip">): Pick<JobSettings, "clip"> {
  const c = row.clip as StoredClip | null;
  if (!c) return {};
  return { clip: { start_time: c.original_start_time, end_time: c.original_start_time + (c.end_time - c.start_time) } };
}
