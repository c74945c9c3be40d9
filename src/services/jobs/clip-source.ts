/**
 * Clip source (`{kind: "clip_source"}` on transcode-jobs): copy the original a clip asset descends from
 * (or, for a clip of a live recording, the recorded segments around its range, planned when the clip was
 * created: src/live/recording-clip.ts) into the clip's own `sources/{asset_id}/source`, then queue its job (whose settings carry the range, see
 * services/assets/clip.ts). The copy makes the clip independent of its source asset: deleting either never
 * touches the other's bytes, and the clip can be reprocessed after its source is gone. The cost is a second
 * copy of the original in R2 (the transcoder cuts it to the range; see transcoder/src/clip.ts).
 */
import { and, eq } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import { log } from "../../lib/log";
import { concatParts, type RecordingClipPlan, tsVideoLeadSeconds } from "../../live/recording-clip";
import { putFixedLength } from "../../r2/stream";
import type { StoredClip } from "../assets/clip";
import { queueIngestedAsset } from "./ingest";
import { sourceKeyFor } from "./ingest-url";
import { type AssetRow, errorAssetWithoutJob, findAsset } from "./lifecycle";
import type { ConsumerOutcome } from "./start";
import { backoffSeconds, systemContext } from "./system";

export async function copyClipSource(
  env: Env,
  assetId: string,
  opts: { waitUntil: (p: Promise<unknown>) => void; deliveryAttempt: number },
): Promise<ConsumerOutcome> {
  const db = createDb(env.DB);
  const asset = await findAsset({ db }, assetId);
  if (asset?.status !== "waiting" || !asset.sourceAssetId) {
    return { action: "ack", reason: `nothing to copy (${asset?.status ?? "missing"})` };
  }
  const ctx = systemContext(env, asset.environmentId, opts.waitUntil);
  const parent = await db.query.assets.findFirst({ where: eq(schema.assets.id, asset.sourceAssetId) });
  const recording = (asset.clip as StoredClip | null)?.recording;
  const copy = parent && parent.status !== "deleted" ? await sourceBody(env, parent, recording) : null;
  if (!parent || !copy) {
    await errorAssetWithoutJob(ctx, asset, {
      code: "source_unavailable",
      message: recording
        ? `The recorded segments of source asset '${asset.sourceAssetId}' are no longer stored (was it deleted?).`
        : `The original of source asset '${asset.sourceAssetId}' is no longer stored (was it deleted?).`,
    });
    return { action: "ack", reason: "source gone" };
  }
  const key = sourceKeyFor(asset.id);
  const contentType = copy.contentType;
  try {
    await putFixedLength(env.MEDIA, key, copy.body, copy.size, {
      httpMetadata: { contentType: contentType ?? undefined },
    });
  } catch (err) {
    return { action: "retry", delaySeconds: backoffSeconds(opts.deliveryAttempt), reason: (err as Error).message };
  }
  let clipped = asset;
  if (recording) {
    // The range was shifted to the first segment's start on the recorded (video) timeline; ffmpeg's origin is
    // the segment's earliest timestamp, which audio may hold: shift by that lead too. Set, not added, so a
    // redelivered message changes nothing.
    const lead = recording.container === "mpegts" ? await firstSegmentLead(env, recording) : 0;
    const clip = asset.clip as StoredClip;
    const stored = { ...clip, original_start_time: clip.start_time - recording.origin + lead };
    await db
      .update(schema.assets)
      .set({ clip: stored })
      .where(and(eq(schema.assets.id, asset.id), eq(schema.assets.status, "waiting")));
    clipped = { ...asset, clip: stored };
  }
  const queued = await queueIngestedAsset(ctx, clipped, { key, size: copy.size, contentType });
  if (!queued) {
    const now = await findAsset(ctx, asset.id);
    if (!now || now.status === "deleted") await env.MEDIA.delete(key);
    return { action: "ack", reason: `asset moved on (${now?.status ?? "missing"})` };
  }
  log.info("clip_source_copied", { asset_id: asset.id, source_asset_id: parent.id, job_id: queued.jobId });
  return { action: "ack", reason: "copied" };
}

/**
 * What the clip's source is made of: the parent's original, or (a clip of a live recording) the recorded
 * segments planned at creation, back to back. Null when they are no longer stored.
 */
async function sourceBody(
  env: Env,
  parent: AssetRow,
  recording: RecordingClipPlan | undefined,
): Promise<{ body: ReadableStream; size: number; contentType: string | null } | null> {
  if (recording) {
    // A part deleted since the plan fails here rather than half-way through the copy (which retries).
    const first = await env.MEDIA.head(`${recording.dir}${recording.parts[0]?.name}`);
    if (!first) return null;
    const { body, size } = concatParts(env.MEDIA, recording);
    return { body, size, contentType: recording.container === "mpegts" ? "video/mp2t" : "video/mp4" };
  }
  const object = parent.sourceKey ? await env.MEDIA.get(parent.sourceKey) : null;
  if (!object) return null;
  return { body: object.body, size: object.size, contentType: object.httpMetadata?.contentType ?? null };
}

/** Bytes enough for the first PES headers of every stream of a segment (audio may be muxed ~1 s late). */
const LEAD_PROBE_BYTES = 512 * 1024;

async function firstSegmentLead(env: Env, recording: RecordingClipPlan): Promise<number> {
  const first = recording.parts[0];
  const obj = first
    ? await env.MEDIA.get(`${recording.dir}${first.name}`, { range: { offset: 0, length: LEAD_PROBE_BYTES } })
    : null;
  return obj ? tsVideoLeadSeconds(new Uint8Array(await obj.arrayBuffer())) : 0;
}

/** Dead letter: the copy kept failing. */
export async function deadLetterClipSource(env: Env, assetId: string, waitUntil: (p: Promise<unknown>) => void) {
  const asset = await findAsset({ db: createDb(env.DB) }, assetId);
  if (asset?.status !== "waiting") return;
  await errorAssetWithoutJob(systemContext(env, asset.environmentId, waitUntil), asset, {
    code: "source_unavailable",
    message: "The clip's source could not be copied: retries exhausted.",
  });
}
