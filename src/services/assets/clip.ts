/**
 * Clip assets (issue 16): `POST /v1/assets { input: { asset_id, start_time, end_time } }` makes a new asset
 * from a range of a ready one. This module owns the checks on the source asset and the range, and how a
 * clip's range maps onto the stored original: a clip's own source is a copy of the original it descends
 * from (src/pipeline/clip-source.ts), so a clip of a clip cuts the original at the summed offset.
 */
import { and, eq, ne } from "drizzle-orm";
import { schema } from "../../db/client";
import { KeyframeError, ValidationError } from "../../lib/errors";
import type { JobSettings } from "../../lib/transcoder-protocol";
import type { ServiceContext } from "../context";
import type { AssetRow } from "../jobs/lifecycle";

/** What the `clip` column holds: the range in the source asset's seconds, and where it starts in the original. */
export interface StoredClip {
  start_time: number;
  end_time: number;
  original_start_time: number;
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
  if (source.status !== "ready") {
    throw new KeyframeError(
      "invalid_state",
      `Asset '${source.id}' is '${source.status}'; a clip can only be made from a ready asset.`,
      [{ location: "json.input.asset_id", message: `the asset is ${source.status}, not ready` }],
    );
  }
  if (!source.sourceKey || source.duration === null) {
    // Live recordings keep only their HLS segments, not an original to cut from.
    throw new KeyframeError(
      "invalid_state",
      `Asset '${source.id}' has no stored original to cut a clip from (live recordings cannot be clipped yet).`,
      [{ location: "json.input.asset_id", message: "the asset has no stored original" }],
    );
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
