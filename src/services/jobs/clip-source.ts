/**
 * Clip source (`{kind: "clip_source"}` on transcode-jobs): copy the original a clip asset descends from
 * into the clip's own `sources/{asset_id}/source`, then queue its job (whose settings carry the range, see
 * services/assets/clip.ts). The copy makes the clip independent of its source asset: deleting either never
 * touches the other's bytes, and the clip can be reprocessed after its source is gone. The cost is a second
 * copy of the original in R2 (the transcoder cuts it to the range; see transcoder/src/clip.ts).
 */
import { eq } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import { log } from "../../lib/log";
import { putFixedLength } from "../../r2/stream";
import { queueIngestedAsset } from "./ingest";
import { sourceKeyFor } from "./ingest-url";
import { errorAssetWithoutJob, findAsset } from "./lifecycle";
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
  const object = parent?.sourceKey && parent.status !== "deleted" ? await env.MEDIA.get(parent.sourceKey) : null;
  if (!parent || !object) {
    await errorAssetWithoutJob(ctx, asset, {
      code: "source_unavailable",
      message: `The original of source asset '${asset.sourceAssetId}' is no longer stored (was it deleted?).`,
    });
    return { action: "ack", reason: "source gone" };
  }
  const key = sourceKeyFor(asset.id);
  const contentType = object.httpMetadata?.contentType ?? null;
  try {
    await putFixedLength(env.MEDIA, key, object.body, object.size, { httpMetadata: object.httpMetadata });
  } catch (err) {
    return { action: "retry", delaySeconds: backoffSeconds(opts.deliveryAttempt), reason: (err as Error).message };
  }
  const queued = await queueIngestedAsset(ctx, asset, { key, size: object.size, contentType });
  if (!queued) {
    const now = await findAsset(ctx, asset.id);
    if (!now || now.status === "deleted") await env.MEDIA.delete(key);
    return { action: "ack", reason: `asset moved on (${now?.status ?? "missing"})` };
  }
  log.info("clip_source_copied", { asset_id: asset.id, source_asset_id: parent.id, job_id: queued.jobId });
  return { action: "ack", reason: "copied" };
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
