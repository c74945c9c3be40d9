/**
 * Event log reads: polling (`after` an event ID, in commit order) and single events. Another
 * environment's event is simply not found.
 *
 * Polling follows SQLite's rowid, not the event ID: IDs are minted by whichever isolate wrote the
 * event, with that isolate's clock, so an event committed later can carry a smaller ID and a poller
 * that had moved past it would never see it. D1 serialises writes, and rowids grow with each insert,
 * so "rowid greater than the cursor's" is exactly "committed after it".
 */
import { and, asc, eq, like, sql } from "drizzle-orm";
import { schema } from "../../db/client";
import { KeyframeError, NotFoundError } from "../../lib/errors";
import type { Verb } from "../context";
import { eventEnvelope } from "./envelope";

export interface ListEventsInput {
  after?: string;
  type?: string;
  limit: number;
}

export async function listEvents({ ctx, input }: Verb<ListEventsInput>) {
  const ev = schema.events;
  const typeFilter = input.type
    ? input.type.endsWith(".*")
      ? like(ev.type, `${input.type.slice(0, -1)}%`)
      : eq(ev.type, input.type)
    : undefined;
  let afterSeq: number | undefined;
  if (input.after) {
    const cursor = await ctx.db
      .select({ seq: sql<number>`rowid` })
      .from(ev)
      .where(and(eq(ev.id, input.after), eq(ev.environmentId, ctx.caller.environmentId)))
      .get();
    if (!cursor) throw new KeyframeError("invalid_cursor", `'after' must be the ID of an event you have received.`);
    afterSeq = cursor.seq;
  }
  const rows = await ctx.db
    .select()
    .from(ev)
    .where(
      and(
        eq(ev.environmentId, ctx.caller.environmentId),
        afterSeq !== undefined ? sql`${ev}.rowid > ${afterSeq}` : undefined,
        typeFilter,
      ),
    )
    .orderBy(asc(sql`${ev}.rowid`))
    .limit(input.limit + 1);
  const pageRows = rows.slice(0, input.limit);
  const last = pageRows.length > 0 ? pageRows[pageRows.length - 1].id : null;
  return {
    data: pageRows.map(eventEnvelope),
    // More events are waiting right now: pass this as `after`.
    next_cursor: rows.length > input.limit ? last : null,
    // Where to poll from next time, caught up or not (your `after` again when nothing new arrived).
    next_after: last ?? input.after ?? null,
  };
}

export async function getEvent({ ctx, input }: Verb<{ eventId: string }>) {
  const ev = schema.events;
  const row = await ctx.db.query.events.findFirst({
    where: and(eq(ev.id, input.eventId), eq(ev.environmentId, ctx.caller.environmentId)),
  });
  if (!row) throw new NotFoundError("event", input.eventId);
  return eventEnvelope(row);
}
