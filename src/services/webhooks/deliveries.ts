/**
 * Delivery history and manual recovery: list an endpoint's deliveries with every attempt, retry one
 * delivery, and replay an endpoint's failed deliveries since a time.
 *
 * Retry semantics: a `failed` delivery starts a fresh retry chain; a `pending`/`retrying` one is
 * attempted now (the scheduled message is then stale and ignored); a `succeeded` one is re-sent only
 * with `force: true` (same `webhook-id`, so receivers dedupe) — otherwise 409 invalid_state.
 */
import { and, asc, desc, eq, gte, inArray, lt } from "drizzle-orm";
import { schema } from "../../db/client";
import { InvalidStateError, KeyframeError, NotFoundError } from "../../lib/errors";
import { idPattern } from "../../lib/ids";
import { decodeCursor, page } from "../../lib/pagination";
import { nowIso } from "../../lib/time";
import { enqueueDeliveries } from "../../queues/webhook-deliveries";
import type { ServiceContext, Verb } from "../context";
import { commit } from "../events/record";
import { loadEndpointRow } from "./endpoints";
import type { DELIVERY_STATUSES, Delivery } from "./schemas";

type DeliveryRow = typeof schema.webhookDeliveries.$inferSelect;
type AttemptRow = typeof schema.webhookAttempts.$inferSelect;

export function serializeDelivery(row: DeliveryRow, attempts: AttemptRow[]): Delivery {
  return {
    id: row.id,
    endpoint_id: row.endpointId,
    event_id: row.eventId,
    event_type: row.eventType,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: row.status === "pending" || row.status === "retrying" ? row.nextAttemptAt : null,
    last_status_code: row.lastStatusCode,
    last_error: row.lastError,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
    succeeded_at: row.succeededAt,
    attempt_log: attempts.map((a) => ({
      attempt: a.attempt,
      status_code: a.statusCode,
      latency_ms: a.latencyMs,
      response_excerpt: a.responseExcerpt,
      error: a.error,
      created_at: a.createdAt,
    })),
  };
}

export async function attemptsFor(ctx: Pick<ServiceContext, "db">, deliveryIds: string[]) {
  const map = new Map<string, AttemptRow[]>();
  for (let i = 0; i < deliveryIds.length; i += 90) {
    const rows = await ctx.db
      .select()
      .from(schema.webhookAttempts)
      .where(inArray(schema.webhookAttempts.deliveryId, deliveryIds.slice(i, i + 90)))
      .orderBy(asc(schema.webhookAttempts.attempt), asc(schema.webhookAttempts.id));
    for (const r of rows) {
      const list = map.get(r.deliveryId) ?? [];
      list.push(r);
      map.set(r.deliveryId, list);
    }
  }
  return map;
}

export async function listDeliveries({
  ctx,
  input,
}: Verb<{ endpointId: string; limit: number; cursor?: string; status?: (typeof DELIVERY_STATUSES)[number] }>) {
  const endpoint = await loadEndpointRow(ctx, input.endpointId);
  const after = decodeCursor(input.cursor, idPattern("delivery"));
  const d = schema.webhookDeliveries;
  const rows = await ctx.db
    .select()
    .from(d)
    .where(
      and(
        eq(d.endpointId, endpoint.id),
        eq(d.environmentId, ctx.caller.environmentId),
        input.status ? eq(d.status, input.status) : undefined,
        after ? lt(d.id, after) : undefined,
      ),
    )
    .orderBy(desc(d.id))
    .limit(input.limit + 1);
  const { rows: pageRows, nextCursor } = page(rows, input.limit);
  const attempts = await attemptsFor(
    ctx,
    pageRows.map((r) => r.id),
  );
  return { data: pageRows.map((r) => serializeDelivery(r, attempts.get(r.id) ?? [])), next_cursor: nextCursor };
}

async function loadDeliveryRow(ctx: ServiceContext, deliveryId: string) {
  const d = schema.webhookDeliveries;
  const row = await ctx.db.query.webhookDeliveries.findFirst({
    where: and(eq(d.id, deliveryId), eq(d.environmentId, ctx.caller.environmentId)),
  });
  if (!row) throw new NotFoundError("webhook delivery", deliveryId);
  return row;
}

export async function retryDelivery({ ctx, input }: Verb<{ deliveryId: string; force: boolean }>) {
  const row = await loadDeliveryRow(ctx, input.deliveryId);
  const endpoint = await ctx.db.query.webhookEndpoints.findFirst({
    where: eq(schema.webhookEndpoints.id, row.endpointId),
  });
  if (!endpoint || endpoint.deletedAt) {
    throw new KeyframeError("invalid_state", `Webhook endpoint '${row.endpointId}' has been deleted.`);
  }
  if (!endpoint.enabled) {
    throw new KeyframeError(
      "invalid_state",
      `Webhook endpoint '${endpoint.id}' is disabled (${endpoint.disabledReason ?? "disabled"}); enable it before retrying.`,
    );
  }
  if (row.status === "succeeded" && !input.force) {
    throw new InvalidStateError("webhook delivery", row.id, row.status, "retry (send force: true to re-send)");
  }
  const now = nowIso();
  const d = schema.webhookDeliveries;
  // A finished delivery starts a fresh retry chain; an unfinished one keeps its chain and is tried now.
  const restart = row.status === "failed" || row.status === "succeeded";
  await commit(
    ctx,
    [
      ctx.db
        .update(d)
        .set(
          restart
            ? { status: "pending", attemptBase: row.attempts, nextAttemptAt: now, updatedAt: now }
            : { nextAttemptAt: now, updatedAt: now },
        )
        .where(and(eq(d.id, row.id), eq(d.attempts, row.attempts))),
    ],
    [],
    [
      {
        action: "webhook_delivery.retry",
        resourceType: "webhook_delivery",
        resourceId: row.id,
        details: { previous_status: row.status, force: input.force },
      },
    ],
  );
  await enqueueDeliveries(ctx.env, [{ deliveryId: row.id, expectedAttempts: row.attempts }]);
  const fresh = await loadDeliveryRow(ctx, row.id);
  const attempts = await attemptsFor(ctx, [row.id]);
  return serializeDelivery(fresh, attempts.get(row.id) ?? []);
}

export const REPLAY_BATCH = 500;

export async function replayEndpoint({ ctx, input }: Verb<{ endpointId: string; since: string; status: "failed" }>) {
  const endpoint = await loadEndpointRow(ctx, input.endpointId);
  if (!endpoint.enabled) {
    throw new KeyframeError(
      "invalid_state",
      `Webhook endpoint '${endpoint.id}' is disabled (${endpoint.disabledReason ?? "disabled"}); enable it before replaying.`,
    );
  }
  const since = new Date(input.since).toISOString();
  const d = schema.webhookDeliveries;
  const rows = await ctx.db
    .select({ id: d.id, attempts: d.attempts })
    .from(d)
    .where(
      and(
        eq(d.endpointId, endpoint.id),
        eq(d.environmentId, ctx.caller.environmentId),
        eq(d.status, input.status),
        gte(d.createdAt, since),
      ),
    )
    .orderBy(asc(d.id))
    .limit(REPLAY_BATCH + 1);
  const chosen = rows.slice(0, REPLAY_BATCH);
  const now = nowIso();
  const updates = chosen.map((r) =>
    ctx.db
      .update(d)
      .set({ status: "pending", attemptBase: r.attempts, nextAttemptAt: now, updatedAt: now })
      .where(and(eq(d.id, r.id), eq(d.status, "failed"), eq(d.attempts, r.attempts))),
  );
  await commit(
    ctx,
    updates,
    [],
    [
      {
        action: "webhook_endpoint.replay",
        resourceType: "webhook_endpoint",
        resourceId: endpoint.id,
        details: { since, status: input.status, replayed: chosen.length },
      },
    ],
  );
  await enqueueDeliveries(
    ctx.env,
    chosen.map((r) => ({ deliveryId: r.id, expectedAttempts: r.attempts })),
  );
  return { replayed: chosen.length, has_more: rows.length > REPLAY_BATCH };
}
