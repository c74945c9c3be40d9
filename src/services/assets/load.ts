/** Environment-scoped reads shared by the asset verbs. Another environment's asset is simply not found. */
import { and, asc, eq, inArray, isNull, ne } from "drizzle-orm";
import { schema } from "../../db/client";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { withResource } from "../events/snapshot";
import { tracksFor } from "../tracks/list";
import { serializeAsset } from "./serialize";

type AssetRow = typeof schema.assets.$inferSelect;

export async function loadAssetRow(ctx: ServiceContext, assetId: string) {
  const row = await ctx.db.query.assets.findFirst({
    where: and(
      eq(schema.assets.id, assetId),
      eq(schema.assets.environmentId, ctx.caller.environmentId),
      ne(schema.assets.status, "deleted"),
    ),
  });
  if (!row) throw new NotFoundError("asset", assetId);
  return row;
}

export async function playbackIdsFor(ctx: ServiceContext, assetIds: string[]) {
  if (assetIds.length === 0) return new Map<string, { id: string; policy: "public" | "signed" }[]>();
  const rows = await ctx.db
    .select({ id: schema.playbackIds.id, policy: schema.playbackIds.policy, assetId: schema.playbackIds.assetId })
    .from(schema.playbackIds)
    .where(and(inArray(schema.playbackIds.assetId, assetIds), isNull(schema.playbackIds.deletedAt)))
    .orderBy(asc(schema.playbackIds.id));
  const map = new Map<string, { id: string; policy: "public" | "signed" }[]>();
  for (const r of rows) {
    const list = map.get(r.assetId as string) ?? [];
    list.push({ id: r.id, policy: r.policy });
    map.set(r.assetId as string, list);
  }
  return map;
}

/** The asset as `GET` shows it, for a row already in hand (the view's own read, or an event's snapshot). */
export async function assetView(ctx: ServiceContext, row: AssetRow) {
  const [pbs, tracks] = await Promise.all([playbackIdsFor(ctx, [row.id]), tracksFor(ctx, [row.id])]);
  return serializeAsset(ctx.env, row, pbs.get(row.id) ?? [], tracks.get(row.id) ?? []);
}

export async function getAssetView(ctx: ServiceContext, assetId: string) {
  return assetView(ctx, await loadAssetRow(ctx, assetId));
}

/**
 * `data` of an `asset.*` event: the asset as `GET` will show it once `set` (the change being committed)
 * is applied to `row`, over the event's ids (services/events/snapshot.ts).
 */
export async function assetEventData(
  ctx: ServiceContext,
  row: AssetRow,
  set: Partial<AssetRow>,
  ids: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  return withResource(ids, await assetView(ctx, { ...row, ...set }));
}
