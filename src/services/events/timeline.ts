/**
 * Per-object timelines: "what happened to this video" in one call. Merges, in time order, the
 * object's events (its own, its upload's, its playback IDs'), its processing jobs (created, started,
 * finished with attempt and error) and the webhook delivery attempts made for those events.
 */
import { z } from "@hono/zod-openapi";
import { and, asc, eq, inArray, or } from "drizzle-orm";
import { schema } from "../../db/client";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext, Verb } from "../context";
import { attemptsFor } from "../webhooks/deliveries";
import { EventSchema, eventEnvelope } from "./envelope";

export const TIMELINE_EVENT_LIMIT = 500;

export const TimelineEntrySchema = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("event"), at: z.string(), event: EventSchema }),
    z.object({
      kind: z.literal("job"),
      at: z.string(),
      job_id: z.string(),
      action: z.enum(["created", "started", "succeeded", "failed", "cancelled"]),
      status: z.string(),
      attempt: z.number().int(),
      stage: z.string().nullable(),
      error: z.object({ code: z.string(), message: z.string() }).nullable(),
    }),
    z.object({
      kind: z.literal("webhook_attempt"),
      at: z.string(),
      delivery_id: z.string(),
      endpoint_id: z.string(),
      event_id: z.string(),
      event_type: z.string(),
      attempt: z.number().int(),
      status_code: z.number().int().nullable(),
      latency_ms: z.number().int().nullable(),
      error: z.string().nullable(),
      delivery_status: z.string(),
    }),
    z.object({
      kind: z.literal("webhook_pending"),
      at: z.string(),
      delivery_id: z.string(),
      endpoint_id: z.string(),
      event_id: z.string(),
      event_type: z.string(),
      delivery_status: z.string(),
      next_attempt_at: z.string().nullable(),
    }),
  ])
  .openapi("TimelineEntry");
export type TimelineEntry = z.infer<typeof TimelineEntrySchema>;

export const TimelineSchema = z
  .object({
    object_id: z.string(),
    data: z.array(TimelineEntrySchema),
    truncated: z.boolean().openapi({ description: `True when more than ${TIMELINE_EVENT_LIMIT} events exist.` }),
  })
  .openapi("Timeline");

const KIND_ORDER: Record<TimelineEntry["kind"], number> = { event: 0, job: 1, webhook_pending: 2, webhook_attempt: 3 };

async function buildTimeline(ctx: ServiceContext, objectId: string, assetId: string | null, uploadId: string | null) {
  const ev = schema.events;
  const envId = ctx.caller.environmentId;
  const who = [eq(ev.subjectId, objectId)];
  if (assetId) who.push(eq(ev.assetId, assetId));
  if (uploadId) who.push(eq(ev.uploadId, uploadId), eq(ev.subjectId, uploadId));
  const events = await ctx.db
    .select()
    .from(ev)
    .where(and(eq(ev.environmentId, envId), or(...who)))
    .orderBy(asc(ev.id))
    .limit(TIMELINE_EVENT_LIMIT + 1);
  const truncated = events.length > TIMELINE_EVENT_LIMIT;
  const shown = events.slice(0, TIMELINE_EVENT_LIMIT);

  const entries: TimelineEntry[] = shown.map((e) => ({ kind: "event", at: e.createdAt, event: eventEnvelope(e) }));

  if (assetId) {
    const jobs = await ctx.db
      .select()
      .from(schema.jobs)
      .where(and(eq(schema.jobs.assetId, assetId), eq(schema.jobs.environmentId, envId)))
      .orderBy(asc(schema.jobs.id));
    for (const j of jobs) {
      const base = {
        kind: "job" as const,
        job_id: j.id,
        status: j.status,
        attempt: j.attempt,
        stage: j.stage,
        error: j.error ? { code: j.error.code, message: j.error.message } : null,
      };
      entries.push({ ...base, at: j.createdAt, action: "created" });
      if (j.startedAt) entries.push({ ...base, at: j.startedAt, action: "started" });
      if (j.finishedAt && (j.status === "succeeded" || j.status === "failed" || j.status === "cancelled")) {
        entries.push({ ...base, at: j.finishedAt, action: j.status });
      }
    }
  }

  const eventIds = shown.map((e) => e.id);
  const d = schema.webhookDeliveries;
  const deliveries: (typeof schema.webhookDeliveries.$inferSelect)[] = [];
  for (let i = 0; i < eventIds.length; i += 90) {
    deliveries.push(
      ...(await ctx.db
        .select()
        .from(d)
        .where(and(eq(d.environmentId, envId), inArray(d.eventId, eventIds.slice(i, i + 90))))),
    );
  }
  const attempts = await attemptsFor(
    ctx,
    deliveries.map((x) => x.id),
  );
  for (const del of deliveries) {
    const list = attempts.get(del.id) ?? [];
    for (const a of list) {
      entries.push({
        kind: "webhook_attempt",
        at: a.createdAt,
        delivery_id: del.id,
        endpoint_id: del.endpointId,
        event_id: del.eventId,
        event_type: del.eventType,
        attempt: a.attempt,
        status_code: a.statusCode,
        latency_ms: a.latencyMs,
        error: a.error,
        delivery_status: del.status,
      });
    }
    if (list.length === 0) {
      entries.push({
        kind: "webhook_pending",
        at: del.createdAt,
        delivery_id: del.id,
        endpoint_id: del.endpointId,
        event_id: del.eventId,
        event_type: del.eventType,
        delivery_status: del.status,
        next_attempt_at: del.nextAttemptAt,
      });
    }
  }

  entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : KIND_ORDER[a.kind] - KIND_ORDER[b.kind]));
  return { object_id: objectId, data: entries, truncated };
}

export async function assetTimeline({ ctx, input }: Verb<{ assetId: string }>) {
  // Deleted assets keep their history: support asks about those too.
  const asset = await ctx.db.query.assets.findFirst({
    where: and(eq(schema.assets.id, input.assetId), eq(schema.assets.environmentId, ctx.caller.environmentId)),
  });
  if (!asset) throw new NotFoundError("asset", input.assetId);
  return buildTimeline(ctx, asset.id, asset.id, asset.uploadId);
}

export async function uploadTimeline({ ctx, input }: Verb<{ uploadId: string }>) {
  const upload = await ctx.db.query.uploads.findFirst({
    where: and(eq(schema.uploads.id, input.uploadId), eq(schema.uploads.environmentId, ctx.caller.environmentId)),
  });
  if (!upload) throw new NotFoundError("upload", input.uploadId);
  return buildTimeline(ctx, upload.id, upload.assetId, upload.id);
}

export async function liveStreamTimeline({ ctx, input }: Verb<{ id: string }>) {
  // Deleted streams keep their history, like assets.
  const stream = await ctx.db.query.liveStreams.findFirst({
    where: and(eq(schema.liveStreams.id, input.id), eq(schema.liveStreams.environmentId, ctx.caller.environmentId)),
  });
  if (!stream) throw new NotFoundError("live stream", input.id);
  return buildTimeline(ctx, stream.id, null, null);
}
