/**
 * Event log reads: polling (`after` an event ID, oldest first — IDs are time-ordered) and single
 * events. Another environment's event is simply not found.
 */
import { and, asc, eq, gt, like } from "drizzle-orm";
import { schema } from "../../db/client";
import { NotFoundError } from "../../lib/errors";
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
  const rows = await ctx.db
    .select()
    .from(ev)
    .where(
      and(eq(ev.environmentId, ctx.caller.environmentId), input.after ? gt(ev.id, input.after) : undefined, typeFilter),
    )
    .orderBy(asc(ev.id))
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
