/**
 * The event envelope (README "Events and webhooks") — the one shape events have everywhere: `GET /v1/events`, timelines
 * and webhook bodies. Webhook bodies are this JSON, serialized the same way on every retry.
 */
import { z } from "@hono/zod-openapi";
import type { schema } from "../../db/client";
import { EVENT_TYPES, type EventType } from "./record";

type EventRow = typeof schema.events.$inferSelect;

export const EventSchema = z
  .object({
    id: z.string().openapi({ example: "evt_0kzq3h1x2a00abcdefghjkmnpq" }),
    type: z.string().openapi({ example: "asset.ready" }),
    created_at: z.string(),
    environment_id: z.string(),
    api_version: z.string(),
    correlation_id: z.string().nullable(),
    data: z.record(z.string(), z.unknown()).openapi({
      description:
        "The object the event is about, exactly as its `GET` returns it in the state the event announces (the last " +
        "state for `*.deleted`), plus the ids the type names (`asset_id`, `upload_id`, `job_id`, …). Per type: the " +
        "document's `webhooks`. Never holds credentials (upload URLs, stream keys, secrets).",
    }),
  })
  .openapi("Event");
export type EventEnvelope = z.infer<typeof EventSchema>;

export function eventEnvelope(row: EventRow): EventEnvelope {
  return {
    id: row.id,
    type: row.type,
    created_at: row.createdAt,
    environment_id: row.environmentId,
    api_version: row.apiVersion,
    correlation_id: row.correlationId,
    data: row.data,
  };
}

const NOUNS = [...new Set(EVENT_TYPES.map((t) => t.split(".")[0]))];

/** An event type filter entry: an exact type (`asset.ready`) or every type of a noun (`asset.*`). */
export const EventTypeFilterSchema = z
  .string()
  .max(64)
  .refine(
    (v) => (EVENT_TYPES as readonly string[]).includes(v) || (v.endsWith(".*") && NOUNS.includes(v.slice(0, -2))),
    { message: `must be one of ${EVENT_TYPES.join(", ")}, or a prefix like 'asset.*'` },
  )
  .openapi({ example: "asset.ready" });

export function isEventType(v: string): v is EventType {
  return (EVENT_TYPES as readonly string[]).includes(v);
}

/** True when `type` passes the filter; an empty filter passes everything. */
export function matchesEventTypes(filter: readonly string[], type: string): boolean {
  if (filter.length === 0) return true;
  return filter.some((f) => f === type || (f.endsWith(".*") && type.startsWith(f.slice(0, -1))));
}
