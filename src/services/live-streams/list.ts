import { and, desc, eq, isNull, lt } from "drizzle-orm";
import { schema } from "../../db/client";
import { idPattern } from "../../lib/ids";
import { decodeCursor, page } from "../../lib/pagination";
import type { Verb } from "../context";
import { livePlaybackIds, serializeLiveStream } from "./load";
import type { LIVE_STATUSES } from "./schemas";

export interface ListLiveStreamsInput {
  limit: number;
  cursor?: string;
  status?: (typeof LIVE_STATUSES)[number];
}

export async function listLiveStreams({ ctx, input }: Verb<ListLiveStreamsInput>) {
  const after = decodeCursor(input.cursor, idPattern("liveStream"));
  const t = schema.liveStreams;
  const rows = await ctx.db
    .select()
    .from(t)
    .where(
      and(
        eq(t.environmentId, ctx.caller.environmentId),
        isNull(t.deletedAt),
        input.status ? eq(t.status, input.status) : undefined,
        after ? lt(t.id, after) : undefined,
      ),
    )
    .orderBy(desc(t.id))
    .limit(input.limit + 1);
  const { rows: pageRows, nextCursor } = page(rows, input.limit);
  const pbs = await livePlaybackIds(
    ctx,
    pageRows.map((r) => r.id),
  );
  return { data: pageRows.map((r) => serializeLiveStream(ctx.env, r, pbs.get(r.id) ?? [])), next_cursor: nextCursor };
}
