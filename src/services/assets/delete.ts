import { and, eq, inArray, isNull } from "drizzle-orm";
import { schema } from "../../db/client";
import { nowIso } from "../../lib/time";
import type { Verb } from "../context";
import { commit } from "../events/record";
import { assetMediaPrefixes, recordDeletions, runPendingDeletions } from "../media/pending-deletions";
import { assetEventData, loadAssetRow } from "./load";

/** Soft-deletes the asset and its playback IDs in one write, and records (then starts) its media's deletion. */
export async function deleteAsset({ ctx, input }: Verb<{ assetId: string }>) {
  const row = await loadAssetRow(ctx, input.assetId);
  const at = nowIso();
  const owner = { type: "asset", id: row.id } as const;
  // The last state: the asset as GET showed it just before the delete.
  const data = await assetEventData(ctx, row, {}, { asset_id: row.id });
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
      // The media's deletion is recorded with the delete itself; the cron finishes it if this request's
      // attempt below does not (services/media/pending-deletions.ts).
      ...recordDeletions(ctx, owner, assetMediaPrefixes(row.id, row.sourceKey)),
    ],
    [
      {
        type: "asset.deleted",
        subjectId: row.id,
        assetId: row.id,
        correlationId: row.correlationId,
        data,
      },
    ],
    [{ action: "asset.delete", resourceType: "asset", resourceId: row.id }],
  );
  ctx.waitUntil(runPendingDeletions(ctx.env, owner).catch(() => undefined));
}
