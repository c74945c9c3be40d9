import { and, desc, eq, lt, ne } from "drizzle-orm";
import { schema } from "../../db/client";
import { idPattern } from "../../lib/ids";
import { decodeCursor, page } from "../../lib/pagination";
import type { Verb } from "../context";
import { tracksFor } from "../tracks/list";
import { playbackIdsFor } from "./load";
import type { ASSET_STATUSES } from "./schemas";
import { serializeAsset } from "./serialize";

export interface ListAssetsInput {
  limit: number;
  cursor?: string;
  status?: (typeof ASSET_STATUSES)[number];
  external_id?: string;
}

export async function listAssets({ ctx, input }: Verb<ListAssetsInput>) {
  const after = decodeCursor(input.cursor, idPattern("asset"));
  const a = schema.assets;
  const rows = await ctx.db
    .select()
    .from(a)
    .where(
      and(
        eq(a.environmentId, ctx.caller.environmentId),
        input.status ? eq(a.status, input.status) : ne(a.status, "deleted"),
        input.external_id ? eq(a.externalId, input.external_id) : undefined,
        after ? lt(a.id, after) : undefined,
      ),
    )
    .orderBy(desc(a.id))
    .limit(input.limit + 1);
  const { rows: pageRows, nextCursor } = page(rows, input.limit);
  const ids = pageRows.map((r) => r.id);
  const [pbs, tracks] = await Promise.all([playbackIdsFor(ctx, ids), tracksFor(ctx, ids)]);
  return {
    data: pageRows.map((r) => serializeAsset(ctx.env, r, pbs.get(r.id) ?? [], tracks.get(r.id) ?? [])),
    next_cursor: nextCursor,
  };
}
