import { and, eq } from "drizzle-orm";
import { schema } from "../../db/client";
import { ValidationError } from "../../lib/errors";
import { nowIso } from "../../lib/time";
import type { Verb } from "../context";
import { commit } from "../events/record";
import { sortChapters } from "./chapters";
import { assetEventData, getAssetView, loadAssetRow } from "./load";
import type { UpdateAssetInput } from "./schemas";

export async function updateAsset({ ctx, input }: Verb<{ assetId: string; patch: UpdateAssetInput }>) {
  const row = await loadAssetRow(ctx, input.assetId);
  const p = input.patch;
  const set: Partial<typeof schema.assets.$inferInsert> = { updatedAt: nowIso() };
  if (p.title !== undefined) set.title = p.title;
  if (p.description !== undefined) set.description = p.description;
  if (p.tags !== undefined) set.tags = p.tags;
  if (p.external_id !== undefined) set.externalId = p.external_id;
  if (p.metadata !== undefined) set.metadata = p.metadata;
  if (p.passthrough !== undefined) set.passthrough = p.passthrough;
  if (p.chapters !== undefined) {
    const chapters = sortChapters(p.chapters);
    const duration = row.duration === null ? null : row.duration / 1000;
    const late = duration === null ? undefined : chapters.find((c) => c.start_time >= duration);
    if (late) {
      throw new ValidationError(`A chapter starts at ${late.start_time} s, after the asset's end (${duration} s).`, [
        { location: "json.chapters", message: `every start_time must be less than ${duration}` },
      ]);
    }
    set.chapters = chapters.length > 0 ? chapters : null;
  }
  const data = await assetEventData(ctx, row, set as Partial<typeof row>, {
    asset_id: row.id,
    changed: Object.keys(p),
  });
  await commit(
    ctx,
    [
      ctx.db
        .update(schema.assets)
        .set(set)
        .where(and(eq(schema.assets.id, row.id), eq(schema.assets.environmentId, ctx.caller.environmentId))),
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
    [{ action: "asset.update", resourceType: "asset", resourceId: row.id, details: { fields: Object.keys(p) } }],
  );
  return getAssetView(ctx, row.id);
}
