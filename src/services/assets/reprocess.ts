/**
 * Reprocessing: a new run of the pipeline from the asset's stored source, so an asset that ended
 * `errored` (a bad deploy, a transcoder outage, retries exhausted) is recovered rather than lost.
 * The asset moves `errored → queued` and the new job (attempts counted from 1 again) is inserted in the
 * same write, guarded on the asset still being `errored` with no live job, so two concurrent reprocess
 * calls make one job. From there the pipeline runs exactly as for a fresh upload (asset.processing,
 * asset.ready…).
 *
 * Only `errored` assets: a `ready` asset is playable, and moving it back through `queued`/`processing`
 * would take it offline while the new run works (a "replace while playing" flow is future work).
 */
import { and, eq, sql } from "drizzle-orm";
import { schema } from "../../db/client";
import { InvalidStateError, KeyframeError } from "../../lib/errors";
import { nowIso } from "../../lib/time";
import type { MaxResolution } from "../../lib/transcoder-protocol";
import type { Verb } from "../context";
import { commit } from "../events/record";
import { enqueueJob, newJobStatement } from "../jobs/create";
import { clipSettings } from "./clip";
import { assetEventData, getAssetView, loadAssetRow } from "./load";
import { watermarkSettings } from "./watermark";

const NOT_REPROCESSABLE = "asset is no longer errored or has a live job";

export async function reprocessAsset({ ctx, input }: Verb<{ assetId: string }>) {
  const row = await loadAssetRow(ctx, input.assetId);
  if (row.status !== "errored") throw new InvalidStateError("asset", row.id, row.status, "reprocess");
  const source = row.sourceKey ? await ctx.env.MEDIA.head(row.sourceKey) : null;
  if (!source) {
    throw new KeyframeError(
      "gone",
      `Asset '${row.id}' cannot be reprocessed: its source is no longer stored${row.sourceKey ? "" : " (it never arrived)"}. Create a new asset from the original file.`,
    );
  }
  const upload = row.uploadId
    ? await ctx.db.query.uploads.findFirst({ where: eq(schema.uploads.id, row.uploadId) })
    : undefined;
  const { jobId, statement: jobInsert } = newJobStatement(ctx, {
    assetId: row.id,
    correlationId: row.correlationId,
    settings: {
      max_resolution: (row.maxResolution as MaxResolution | null) ?? "1080p",
      fast_path: true,
      source_size_bytes: source.size,
      source_content_type: source.httpMetadata?.contentType ?? undefined,
      max_duration_seconds: upload?.maxDurationSeconds ?? undefined,
      max_size_bytes: upload?.maxSizeBytes ?? undefined,
      mp4_support: row.mp4Support === "standard" ? "standard" : "none",
      ...clipSettings(row),
      ...watermarkSettings(ctx.env, row),
    },
  });
  const at = nowIso();
  const a = schema.assets;
  const j = schema.jobs;
  const live = sql`SELECT 1 FROM ${j} WHERE ${j.assetId} = ${row.id} AND ${j.status} IN ('queued', 'running')`;
  const set = {
    status: "queued" as const,
    error: null,
    progress: null,
    staticRenditions:
      row.mp4Support === "standard" ? { status: "preparing" as const, files: [] } : row.staticRenditions,
    updatedAt: at,
  };
  const data = await assetEventData(ctx, row, set, {
    asset_id: row.id,
    changed: ["status"],
    status: "queued",
    reprocess: { job_id: jobId },
  });
  try {
    await commit(
      ctx,
      [
        // Abort the batch (json() of a non-JSON string raises; D1 rolls back) unless the asset is still
        // errored and no job is live: a concurrent reprocess or a delete got there first.
        ctx.db
          .select({
            guard: sql`CASE WHEN ${a.status} = 'errored' AND NOT EXISTS (${live}) THEN 1 ELSE json(${NOT_REPROCESSABLE}) END`,
          })
          .from(a)
          .where(eq(a.id, row.id)),
        ctx.db
          .update(a)
          .set(set)
          .where(and(eq(a.id, row.id), eq(a.status, "errored"))),
        jobInsert,
      ],
      [
        {
          type: "asset.updated",
          subjectId: row.id,
          assetId: row.id,
          correlationId: row.correlationId,
          data,
        },
      ],
      [{ action: "asset.reprocess", resourceType: "asset", resourceId: row.id, details: { job_id: jobId } }],
    );
  } catch (err) {
    const text = String((err as Error).message) + String((err as { cause?: Error }).cause?.message);
    if (!/malformed JSON/i.test(text)) throw err;
    const now = await loadAssetRow(ctx, row.id);
    throw new InvalidStateError(
      "asset",
      row.id,
      now.status === "errored" ? "being reprocessed" : now.status,
      "reprocess",
    );
  }
  await enqueueJob(ctx.env, jobId);
  return { asset: await getAssetView(ctx, row.id), jobId };
}
