/**
 * The webhook-deliveries consumer: fan-out of an event to matching endpoints, and single delivery
 * attempts with Standard Webhooks signatures, a timeout, no redirects, an attempt log, and retries
 * scheduled by re-sending the message with a delay (Queues' own retry counter cannot express a
 * schedule of hours, and a manual retry must be able to restart the chain).
 */

import { and, eq, inArray, isNull, lte, sql } from "drizzle-orm";
import { createDb, type Db, schema } from "../../db/client";
import { newId } from "../../lib/ids";
import { log } from "../../lib/log";
import { isoIn, nowIso } from "../../lib/time";
import { enqueueDeliveries, type WebhookMessage, WebhookMessageSchema } from "../../queues/webhook-deliveries";
import { liveSecrets, signatureHeader } from "../../signing/webhook-signature";
import { type ServiceContext, systemContext } from "../context";
import { eventEnvelope, matchesEventTypes } from "../events/envelope";
import { commit, type Statement } from "../events/record";
import { deliveryTimeoutMs, nextDelaySeconds, parseRetryAfter, retrySchedule } from "./backoff";
import { openEndpointSecrets, sealLegacySecrets } from "./secret-wrap";
import { checkWebhookUrl } from "./url-policy";

export const RESPONSE_EXCERPT_BYTES = 1024;
/** Extra time past the timeout before the retry sweep assumes an in-flight attempt was lost. */
const LEASE_MARGIN_MS = 60_000;

function systemCtx(env: Env, db: Db, environmentId: string, waitUntil: (p: Promise<unknown>) => void): ServiceContext {
  return systemContext(env, environmentId, waitUntil, undefined, db);
}

export async function handleWebhookBatch(batch: MessageBatch<unknown>, env: Env, ectx: ExecutionContext) {
  await Promise.all(
    batch.messages.map(async (msg) => {
      const parsed = WebhookMessageSchema.safeParse(msg.body);
      if (!parsed.success) {
        log.error("webhook_message_invalid", { queue: batch.queue, message_id: msg.id });
        msg.ack();
        return;
      }
      try {
        await handleWebhookMessage(env, parsed.data, (p) => ectx.waitUntil(p));
        msg.ack();
      } catch (err) {
        // Infrastructure failure (D1, queue): let Queues redeliver; after max_retries it dead-letters.
        const delaySeconds = Math.min(600, 5 * 2 ** Math.min(msg.attempts, 7));
        log.error("webhook_message_failed", { ...parsed.data, error: (err as Error).message, attempts: msg.attempts });
        msg.retry({ delaySeconds });
      }
    }),
  );
}

export async function handleWebhookMessage(
  env: Env,
  message: WebhookMessage,
  waitUntil: (p: Promise<unknown>) => void = () => undefined,
): Promise<void> {
  if (message.kind === "event") await fanOutEvent(env, message.event_id);
  else await attemptDelivery(env, message.delivery_id, message.expected_attempts, waitUntil);
}

/** Exhausted queue retries: deliveries end `failed` (visible, replayable); events stay in the outbox. */
export async function handleWebhookDlqBatch(batch: MessageBatch<unknown>, env: Env) {
  const db = createDb(env.DB);
  for (const msg of batch.messages) {
    const parsed = WebhookMessageSchema.safeParse(msg.body);
    try {
      if (parsed.success && parsed.data.kind === "delivery") {
        const d = schema.webhookDeliveries;
        await db
          .update(d)
          .set({ status: "failed", lastError: "dead-lettered after repeated processing failures", updatedAt: nowIso() })
          .where(and(eq(d.id, parsed.data.delivery_id), inArray(d.status, ["pending", "retrying"])))
          .run();
        log.error("webhook_delivery_dead_lettered", { delivery_id: parsed.data.delivery_id });
      } else {
        // The event's dispatched_at is still null, so the outbox sweep will send it again.
        log.error("webhook_message_dead_lettered", { body: msg.body as Record<string, unknown> });
      }
      msg.ack();
    } catch (err) {
      log.error("webhook_dlq_failed", { error: (err as Error).message });
      msg.retry({ delaySeconds: 60 });
    }
  }
}

/**
 * One delivery row per matching endpoint (unique (endpoint, event): a redelivered event message adds
 * nothing), then one message per newly created row, then the outbox mark.
 */
export async function fanOutEvent(env: Env, eventId: string): Promise<{ deliveries: number }> {
  const db = createDb(env.DB);
  const event = await db.query.events.findFirst({ where: eq(schema.events.id, eventId) });
  if (!event) {
    log.warn("webhook_event_missing", { event_id: eventId });
    return { deliveries: 0 };
  }
  const e = schema.webhookEndpoints;
  const endpoints = await db
    .select({ id: e.id, eventTypes: e.eventTypes })
    .from(e)
    .where(
      and(
        eq(e.environmentId, event.environmentId),
        eq(e.enabled, true),
        isNull(e.deletedAt),
        // An endpoint added after the event (e.g. when the outbox sweep re-sends it) does not get it.
        lte(e.createdAt, event.createdAt),
      ),
    );
  const matching = endpoints.filter((ep) => matchesEventTypes(ep.eventTypes ?? [], event.type));
  const now = nowIso();
  const created: string[] = [];
  // D1 binds at most 100 parameters per statement: 8 columns × 10 rows.
  for (let i = 0; i < matching.length; i += 10) {
    const rows = await db
      .insert(schema.webhookDeliveries)
      .values(
        matching.slice(i, i + 10).map((ep) => ({
          id: newId("delivery"),
          environmentId: event.environmentId,
          endpointId: ep.id,
          eventId: event.id,
          eventType: event.type,
          status: "pending" as const,
          nextAttemptAt: now,
        })),
      )
      .onConflictDoNothing()
      .returning({ id: schema.webhookDeliveries.id });
    created.push(...rows.map((r) => r.id));
  }
  await enqueueDeliveries(
    env,
    created.map((id) => ({ deliveryId: id, expectedAttempts: 0 })),
  );
  await db
    .update(schema.events)
    .set({ dispatchedAt: now })
    .where(and(eq(schema.events.id, event.id), isNull(schema.events.dispatchedAt)))
    .run();
  log.info("webhook_event_fanned_out", {
    event_id: event.id,
    event_type: event.type,
    asset_id: event.assetId,
    upload_id: event.uploadId,
    deliveries: created.length,
  });
  return { deliveries: created.length };
}

interface SendResult {
  statusCode: number | null;
  latencyMs: number;
  excerpt: string | null;
  error: string | null;
  retryAfter: number | null;
}

async function readExcerpt(res: Response, deadline: number): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_EXCERPT_BYTES) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const next = await Promise.race([
        reader.read(),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), remaining);
        }),
      ]);
      clearTimeout(timer);
      if (!next || next.done) break;
      chunks.push(next.value);
      size += next.value.byteLength;
    }
  } catch {
    // A body that errors mid-way still leaves whatever was read.
  } finally {
    reader.cancel().catch(() => undefined);
  }
  const all = new Uint8Array(Math.min(size, RESPONSE_EXCERPT_BYTES));
  let off = 0;
  for (const c of chunks) {
    const take = Math.min(c.byteLength, all.length - off);
    all.set(c.subarray(0, take), off);
    off += take;
    if (off >= all.length) break;
  }
  // Cut back to a whole UTF-8 character so the excerpt never exceeds the byte budget when re-encoded.
  let end = all.length;
  if (size > RESPONSE_EXCERPT_BYTES) {
    while (end > 0 && (all[end - 1] & 0xc0) === 0x80) end--;
    if (end > 0 && all[end - 1] >= 0xc0) end--;
  }
  return new TextDecoder().decode(all.subarray(0, end));
}

async function send(env: Env, url: string, headers: Record<string, string>, body: string): Promise<SendResult> {
  const timeoutMs = deliveryTimeoutMs(env);
  const verdict = checkWebhookUrl(env, url);
  if (!verdict.ok) {
    return { statusCode: null, latencyMs: 0, excerpt: null, error: `URL refused: ${verdict.reason}`, retryAfter: null };
  }
  const started = Date.now();
  try {
    const res = await fetch(verdict.url.toString(), {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const latencyMs = Date.now() - started;
    const excerpt = await readExcerpt(res, started + timeoutMs);
    let error: string | null = null;
    if (res.status >= 300 && res.status < 400) {
      error = `redirect (${res.status}) to '${res.headers.get("location") ?? "?"}' not followed`;
    } else if (res.status < 200 || res.status >= 300) {
      error = `receiver answered ${res.status}`;
    }
    return {
      statusCode: res.status,
      latencyMs,
      excerpt,
      error,
      retryAfter: parseRetryAfter(res.headers.get("retry-after")),
    };
  } catch (err) {
    const e = err as Error;
    const timedOut = e.name === "TimeoutError" || e.name === "AbortError";
    return {
      statusCode: null,
      latencyMs: Date.now() - started,
      excerpt: null,
      error: timedOut ? `timed out after ${timeoutMs} ms` : `network error: ${e.message}`,
      retryAfter: null,
    };
  }
}

export async function attemptDelivery(
  env: Env,
  deliveryId: string,
  expectedAttempts: number | undefined,
  waitUntil: (p: Promise<unknown>) => void = () => undefined,
): Promise<void> {
  const db = createDb(env.DB);
  const d = schema.webhookDeliveries;
  const delivery = await db.query.webhookDeliveries.findFirst({ where: eq(d.id, deliveryId) });
  if (!delivery) return;
  if (delivery.status !== "pending" && delivery.status !== "retrying") return;
  if (expectedAttempts !== undefined && delivery.attempts !== expectedAttempts) return; // stale duplicate

  const [endpoint, event] = await Promise.all([
    db.query.webhookEndpoints.findFirst({ where: eq(schema.webhookEndpoints.id, delivery.endpointId) }),
    db.query.events.findFirst({ where: eq(schema.events.id, delivery.eventId) }),
  ]);
  if (!endpoint || endpoint.deletedAt || !endpoint.enabled || !event) {
    const reason = !event
      ? "event no longer exists"
      : !endpoint || endpoint.deletedAt
        ? "endpoint deleted"
        : `endpoint disabled (${endpoint.disabledReason ?? "disabled"})`;
    await db
      .update(d)
      .set({ status: "failed", lastError: reason, nextAttemptAt: null, updatedAt: nowIso() })
      .where(and(eq(d.id, delivery.id), eq(d.attempts, delivery.attempts)))
      .run();
    return;
  }

  // Claim this attempt: only one message per attempt number gets past here.
  const timeoutMs = deliveryTimeoutMs(env);
  const claimed = await db
    .update(d)
    .set({ attempts: sql`${d.attempts} + 1`, nextAttemptAt: isoIn(timeoutMs + LEASE_MARGIN_MS), updatedAt: nowIso() })
    .where(and(eq(d.id, delivery.id), eq(d.attempts, delivery.attempts), inArray(d.status, ["pending", "retrying"])))
    .returning({ attempts: d.attempts, attemptBase: d.attemptBase });
  if (claimed.length === 0) return;
  const attempt = claimed[0].attempts;

  const body = JSON.stringify(eventEnvelope(event));
  const timestamp = Math.floor(Date.now() / 1000);
  const opened = await openEndpointSecrets(env, endpoint);
  if (opened.secret === null) {
    // Sealed under a JOB_TOKEN_SECRET that has since changed: nothing can sign; rotating the secret fixes it.
    await db
      .update(d)
      .set({ status: "failed", lastError: "endpoint secret unreadable; rotate it", nextAttemptAt: null })
      .where(eq(d.id, delivery.id))
      .run();
    return;
  }
  waitUntil(sealLegacySecrets(db, env, endpoint));
  const secrets = liveSecrets({ ...endpoint, ...opened, secret: opened.secret }, nowIso());
  const signature = await signatureHeader(secrets, event.id, timestamp, body);
  const result = await send(
    env,
    endpoint.url,
    {
      "content-type": "application/json",
      "user-agent": "Keyframe-Webhooks/1",
      "webhook-id": event.id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signature,
    },
    body,
  );
  const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
  const now = nowIso();
  const attemptRow: Statement = db.insert(schema.webhookAttempts).values({
    id: newId("attempt"),
    deliveryId: delivery.id,
    attempt,
    statusCode: result.statusCode,
    latencyMs: result.latencyMs,
    responseExcerpt: result.excerpt,
    error: result.error,
    createdAt: now,
  });
  const fields = {
    delivery_id: delivery.id,
    endpoint_id: endpoint.id,
    event_id: event.id,
    event_type: event.type,
    asset_id: event.assetId,
    attempt,
    status_code: result.statusCode,
    latency_ms: result.latencyMs,
  };
  const mine = and(eq(d.id, delivery.id), eq(d.attempts, attempt));

  if (ok) {
    await db.batch([
      db
        .update(d)
        .set({
          status: "succeeded",
          lastStatusCode: result.statusCode,
          lastError: null,
          nextAttemptAt: null,
          succeededAt: now,
          updatedAt: now,
        })
        .where(mine),
      attemptRow,
    ]);
    log.info("webhook_delivered", fields);
    return;
  }

  if (result.statusCode === 410) {
    // The receiver says the endpoint is gone for good: stop sending to it (audited as a system action).
    const reason = `receiver answered 410 Gone at ${now}`;
    const ctx = systemCtx(env, db, endpoint.environmentId, waitUntil);
    await commit(
      ctx,
      [
        db
          .update(d)
          .set({
            status: "failed",
            lastStatusCode: 410,
            lastError: `${result.error}; endpoint disabled`,
            nextAttemptAt: null,
            updatedAt: now,
          })
          .where(mine),
        attemptRow,
        db
          .update(schema.webhookEndpoints)
          .set({ enabled: false, disabledReason: reason, updatedAt: now })
          .where(eq(schema.webhookEndpoints.id, endpoint.id)),
      ],
      [],
      [
        {
          action: "webhook_endpoint.disable",
          resourceType: "webhook_endpoint",
          resourceId: endpoint.id,
          details: { reason, delivery_id: delivery.id },
        },
      ],
    );
    log.warn("webhook_endpoint_disabled", { ...fields, reason });
    return;
  }

  const delay = nextDelaySeconds(retrySchedule(env), attempt - claimed[0].attemptBase, result.retryAfter);
  if (delay === null) {
    await db.batch([
      db
        .update(d)
        .set({
          status: "failed",
          lastStatusCode: result.statusCode,
          lastError: result.error,
          nextAttemptAt: null,
          updatedAt: now,
        })
        .where(mine),
      attemptRow,
    ]);
    log.warn("webhook_delivery_failed", { ...fields, error: result.error });
    return;
  }
  await db.batch([
    db
      .update(d)
      .set({
        status: "retrying",
        lastStatusCode: result.statusCode,
        lastError: result.error,
        nextAttemptAt: isoIn(delay * 1000),
        updatedAt: now,
      })
      .where(mine),
    attemptRow,
  ]);
  // If this send is lost, the retry sweep finds the row by next_attempt_at.
  await enqueueDeliveries(env, [{ deliveryId: delivery.id, expectedAttempts: attempt, delaySeconds: delay }]);
  log.info("webhook_retry_scheduled", { ...fields, error: result.error, delay_seconds: delay });
}
