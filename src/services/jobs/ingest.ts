/**
 * The hand-off from URL ingest to processing: once the source is in R2 the asset moves
 * `waiting → queued` and gets its job, in one batch. The job insert is guarded (the asset must be
 * queued on this source and have no job yet), so a duplicated ingest never creates a second job.
 */
import { and, eq, sql } from "drizzle-orm";
import { schema } from "../../db/client";
import { newId } from "../../lib/ids";
import { nowIso } from "../../lib/time";
import type { JobSettings } from "../../lib/transcoder-protocol";
import { clipSettings } from "../assets/clip";
import { watermarkSettings } from "../assets/watermark";
import type { ServiceContext } from "../context";
import { enqueueJob } from "./create";
import type { AssetRow } from "./lifecycle";
import { d1Batch } from "./system";

export async function queueIngestedAsset(
  ctx: ServiceContext,
  asset: AssetRow,
  source: { key: string; size: number; contentType: string | null },
): Promise<{ jobId: string } | null> {
  const at = nowIso();
  const jobId = newId("job");
  const settings: JobSettings = {
    max_resolution: (asset.maxResolution as JobSettings["max_resolution"]) ?? "1080p",
    fast_path: true,
    source_size_bytes: source.size,
    source_content_type: source.contentType ?? undefined,
    mp4_support: asset.mp4Support,
    ...clipSettings(asset),
    ...watermarkSettings(ctx.env, asset),
  };
  await d1Batch(ctx.env, [
    ctx.db
      .update(schema.assets)
      .set({ status: "queued", sourceKey: source.key, updatedAt: at })
      .where(and(eq(schema.assets.id, asset.id), eq(schema.assets.status, "waiting"))),
    sql`INSERT INTO jobs (id, environment_id, asset_id, kind, status, attempt, max_attempts, settings,
        correlation_id, created_at, updated_at)
      SELECT ${jobId}, ${asset.environmentId}, ${asset.id}, 'vod', 'queued', 0, 5, ${JSON.stringify(settings)},
        ${asset.correlationId}, ${at}, ${at}
      WHERE EXISTS (SELECT 1 FROM assets WHERE id = ${asset.id} AND status = 'queued' AND source_key = ${source.key})
        AND NOT EXISTS (SELECT 1 FROM jobs WHERE asset_id = ${asset.id})`,
  ]);
  const job = await ctx.db.query.jobs.findFirst({ where: eq(schema.jobs.id, jobId) });
  if (!job) return null;
  await enqueueJob(ctx.env, jobId);
  return { jobId };
}
