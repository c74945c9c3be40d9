/** Live tracks of some assets, for asset views (no import of the asset verbs: they import this). */
import { and, asc, inArray, isNull } from "drizzle-orm";
import { schema } from "../../db/client";
import type { ServiceContext } from "../context";
import type { Track } from "./schemas";
import { serializeTrack } from "./serialize";

export async function tracksFor(ctx: ServiceContext, assetIds: string[]): Promise<Map<string, Track[]>> {
  const map = new Map<string, Track[]>();
  if (assetIds.length === 0) return map;
  const rows = await ctx.db
    .select()
    .from(schema.assetTracks)
    .where(and(inArray(schema.assetTracks.assetId, assetIds), isNull(schema.assetTracks.deletedAt)))
    .orderBy(asc(schema.assetTracks.id));
  for (const r of rows) {
    const list = map.get(r.assetId) ?? [];
    list.push(serializeTrack(r));
    map.set(r.assetId, list);
  }
  return map;
}
