import { and, eq, inArray, isNull } from "drizzle-orm";
import { schema } from "../../db/client";
import { log } from "../../lib/log";
import { nowIso } from "../../lib/time";
import type { Verb } from "../context";
import { commit } from "../events/record";
import { loadAssetRow } from "./load";

/** Soft-deletes the asset and its playback IDs in one write, then removes its media from R2. */
export async function deleteAsset({ ctx, input }: Verb<{ assetId: string }>) {
  const row = await loadAssetRow(ctx, input.assetId);
  const at = nowIso();
  await commit(
    ctx,
    [
      ctx.db
        .update(schema.assets)
        .set({ status: "deleted", deletedAt: at, updatedAt: at, progress: null })
        .where(eq(schema.assets.id, row.id)),
      ctx.db
        .update(schema.playbackIds)
        .set({ deletedAt: at })
        .where(and(eq(schema.playbackIds.assetId, row.id), isNull(schema.playbackIds.deletedAt))),
      ctx.db
        .update(schema.jobs)
        .set({ status: "cancelled", finishedAt: at, updatedAt: at })
        // Running jobs too: their transcoder's next callback is refused (410) and told to stop.
        .where(and(eq(schema.jobs.assetId, row.id), inArray(schema.jobs.status, ["queued", "running"]))),
    ],
    [
      {
        type: "asset.deleted",
        subjectId: row.id,
        assetId: row.id,
        correlationId: row.correlationId,
        data: { asset_id: row.id },
      },
    ],
    [{ action: "asset.delete", resourceType: "asset", resourceId: row.id }],
  );
  ctx.waitUntil(deleteAssetMedia(ctx.env, row.id, row.sourceKey));
}

/** Removes every object under the asset's prefix (sources, runs, derived images). Safe to repeat. */
export async function deleteAssetMedia(env: Env, assetId: string, sourceKey?: string | null): Promise<number> {
  let removed = 0;
  const prefixes = [`assets/${assetId}/`, `sources/${assetId}/`];
  // Uploaded sources live under the upload's ID (`sources/{upload_id}/source`).
  if (sourceKey && !sourceKey.startsWith(`sources/${assetId}/`)) prefixes.push(sourceKey);
  for (const prefix of prefixes) {
    let cursor: string | undefined;
    do {
      const listing = await env.MEDIA.list({ prefix, cursor, limit: 1000 });
      const keys = listing.objects.map((o) => o.key);
      if (keys.length > 0) {
        await env.MEDIA.delete(keys);
        removed += keys.length;
      }
      cursor = listing.truncated ? listing.cursor : undefined;
    } while (cursor);
  }
  log.info("asset_media_deleted", { asset_id: assetId, objects: removed });
  return removed;
}
