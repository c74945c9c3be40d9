/**
 * The event log and audit log writers. A state change, its event row and its audit row are written in
 * one `db.batch` (D1 has no interactive transactions); the event row doubles as the outbox entry
 * (`dispatched_at` null until fanned out), so a crash between "changed" and "announced" loses nothing:
 * the cron re-sends undispatched events.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { schema } from "../../db/client";
import { newId } from "../../lib/ids";
import { log } from "../../lib/log";
import type { ServiceContext } from "../context";

export const EVENT_TYPES = [
  "upload.created",
  "upload.completed",
  "upload.expired",
  "upload.cancelled",
  "upload.errored",
  "asset.created",
  "asset.processing",
  "asset.ready",
  "asset.renditions_ready",
  "asset.updated",
  "asset.errored",
  "asset.deleted",
  "asset.static_renditions.ready",
  "asset.static_renditions.errored",
  "playback_id.created",
  "playback_id.deleted",
  "track.created",
  "track.ready",
  "track.errored",
  "track.deleted",
  "live_stream.created",
  "live_stream.updated",
  "live_stream.connected",
  "live_stream.active",
  "live_stream.disconnected",
  "live_stream.idle",
  "live_stream.enabled",
  "live_stream.disabled",
  "live_stream.deleted",
  "live_stream.warning",
  "live_stream.stream_key_reset",
  "live_stream.simulcast_target.created",
  "live_stream.simulcast_target.deleted",
  "live_stream.simulcast_target.starting",
  "live_stream.simulcast_target.broadcasting",
  "live_stream.simulcast_target.errored",
  "live_stream.simulcast_target.idle",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface EventInput {
  type: EventType;
  subjectId: string;
  assetId?: string | null;
  uploadId?: string | null;
  correlationId?: string | null;
  data: Record<string, unknown>;
}

export type Statement = BatchItem<"sqlite">;

/** Builds the event insert for a batch; returns its ID so the caller can enqueue it after commit. */
export function eventStatement(ctx: ServiceContext, input: EventInput): { id: string; statement: Statement } {
  const id = newId("event");
  const statement = ctx.db.insert(schema.events).values({
    id,
    environmentId: ctx.caller.environmentId,
    type: input.type,
    subjectId: input.subjectId,
    assetId: input.assetId ?? null,
    uploadId: input.uploadId ?? null,
    correlationId: input.correlationId ?? null,
    data: input.data,
  });
  return { id, statement };
}

export interface AuditInput {
  action: string;
  resourceType: string;
  resourceId: string;
  details?: Record<string, unknown>;
}

export function auditStatement(ctx: ServiceContext, input: AuditInput): Statement {
  return ctx.db.insert(schema.auditLog).values({
    id: newId("audit"),
    environmentId: ctx.caller.environmentId,
    keyId: ctx.caller.keyId,
    action: input.action,
    resourceType: input.resourceType,
    resourceId: input.resourceId,
    requestId: ctx.requestId,
    clientRequestId: ctx.clientRequestId ?? null,
    details: input.details ?? null,
  });
}

/**
 * Commits state changes together with their events and audit entries, then hands the events to the
 * delivery queue. Enqueue failures are logged, not thrown: the change is already durable and the cron
 * outbox sweep will send the events.
 */
export async function commit(
  ctx: ServiceContext,
  statements: Statement[],
  events: EventInput[] = [],
  audits: AuditInput[] = [],
): Promise<string[]> {
  const built = events.map((e) => eventStatement(ctx, e));
  const all = [...statements, ...built.map((b) => b.statement), ...audits.map((a) => auditStatement(ctx, a))];
  if (all.length > 0) await ctx.db.batch(all as [Statement, ...Statement[]]);
  const ids = built.map((b) => b.id);
  if (ids.length > 0) ctx.waitUntil(enqueueEvents(ctx.env, ids));
  return ids;
}

export async function enqueueEvents(env: Env, eventIds: string[]): Promise<void> {
  try {
    await env.WEBHOOK_QUEUE.sendBatch(eventIds.map((id) => ({ body: { kind: "event", event_id: id } })));
  } catch (err) {
    log.warn("event_enqueue_failed", { event_ids: eventIds, error: (err as Error).message });
  }
}
