/**
 * Webhook endpoint verbs. Secrets are stored (they must be, to sign) and shown only at creation and
 * rotation; a rotation keeps the previous secret signing for a grace period.
 */
import { and, desc, eq, isNull, lt } from "drizzle-orm";
import { schema } from "../../db/client";
import { NotFoundError } from "../../lib/errors";
import { idPattern, newId } from "../../lib/ids";
import { decodeCursor, page } from "../../lib/pagination";
import { isoIn, nowIso } from "../../lib/time";
import { newWebhookSecret } from "../../signing/webhook-signature";
import type { ServiceContext, Verb } from "../context";
import { commit } from "../events/record";
import type { CreateEndpointInput, Endpoint, UpdateEndpointInput } from "./schemas";
import { sealWebhookSecret } from "./secret-wrap";
import { assertWebhookUrl } from "./url-policy";

type EndpointRow = typeof schema.webhookEndpoints.$inferSelect;

export function serializeEndpoint(row: EndpointRow): Endpoint {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    event_types: row.eventTypes ?? [],
    enabled: row.enabled,
    disabled_reason: row.disabledReason,
    previous_secret_expires_at:
      row.previousSecretExpiresAt && row.previousSecretExpiresAt > nowIso() ? row.previousSecretExpiresAt : null,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

export async function loadEndpointRow(ctx: ServiceContext, endpointId: string): Promise<EndpointRow> {
  const e = schema.webhookEndpoints;
  const row = await ctx.db.query.webhookEndpoints.findFirst({
    where: and(eq(e.id, endpointId), eq(e.environmentId, ctx.caller.environmentId), isNull(e.deletedAt)),
  });
  if (!row) throw new NotFoundError("webhook endpoint", endpointId);
  return row;
}

export async function createEndpoint({ ctx, input }: Verb<CreateEndpointInput>) {
  const url = assertWebhookUrl(ctx.env, input.url);
  const id = newId("webhookEndpoint");
  const secret = newWebhookSecret();
  await commit(
    ctx,
    [
      ctx.db.insert(schema.webhookEndpoints).values({
        id,
        environmentId: ctx.caller.environmentId,
        url,
        description: input.description ?? null,
        enabled: input.enabled ?? true,
        eventTypes: [...new Set(input.event_types ?? [])],
        secret: await sealWebhookSecret(ctx.env, ctx.caller.environmentId, id, secret),
      }),
    ],
    [],
    [
      {
        action: "webhook_endpoint.create",
        resourceType: "webhook_endpoint",
        resourceId: id,
        details: { url: redactUrl(url) },
      },
    ],
  );
  return { ...serializeEndpoint(await loadEndpointRow(ctx, id)), secret };
}

export async function listEndpoints({ ctx, input }: Verb<{ limit: number; cursor?: string }>) {
  const after = decodeCursor(input.cursor, idPattern("webhookEndpoint"));
  const e = schema.webhookEndpoints;
  const rows = await ctx.db
    .select()
    .from(e)
    .where(and(eq(e.environmentId, ctx.caller.environmentId), isNull(e.deletedAt), after ? lt(e.id, after) : undefined))
    .orderBy(desc(e.id))
    .limit(input.limit + 1);
  const { rows: pageRows, nextCursor } = page(rows, input.limit);
  return { data: pageRows.map(serializeEndpoint), next_cursor: nextCursor };
}

export async function getEndpoint({ ctx, input }: Verb<{ endpointId: string }>) {
  return serializeEndpoint(await loadEndpointRow(ctx, input.endpointId));
}

export async function updateEndpoint({ ctx, input }: Verb<{ endpointId: string; patch: UpdateEndpointInput }>) {
  const row = await loadEndpointRow(ctx, input.endpointId);
  const p = input.patch;
  const set: Partial<typeof schema.webhookEndpoints.$inferInsert> = { updatedAt: nowIso() };
  if (p.url !== undefined) set.url = assertWebhookUrl(ctx.env, p.url);
  if (p.event_types !== undefined) set.eventTypes = [...new Set(p.event_types)];
  if (p.description !== undefined) set.description = p.description;
  if (p.enabled !== undefined) {
    set.enabled = p.enabled;
    set.disabledReason = p.enabled ? null : "disabled by API";
  }
  await commit(
    ctx,
    [ctx.db.update(schema.webhookEndpoints).set(set).where(eq(schema.webhookEndpoints.id, row.id))],
    [],
    [
      {
        action: "webhook_endpoint.update",
        resourceType: "webhook_endpoint",
        resourceId: row.id,
        details: { fields: Object.keys(p), changes: endpointChanges(row, set) },
      },
    ],
  );
  return serializeEndpoint(await loadEndpointRow(ctx, row.id));
}

/**
 * Old → new for each changed field, for the audit log. URLs are recorded without credentials or query
 * values (a receiver's URL often carries a token); secrets never appear here.
 */
function endpointChanges(
  row: EndpointRow,
  set: Partial<typeof schema.webhookEndpoints.$inferInsert>,
): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  const note = (field: string, from: unknown, to: unknown) => {
    if (to !== undefined && JSON.stringify(from) !== JSON.stringify(to)) out[field] = { from, to };
  };
  note("url", redactUrl(row.url), set.url === undefined ? undefined : redactUrl(set.url));
  note("event_types", row.eventTypes, set.eventTypes);
  note("description", row.description, set.description);
  note("enabled", row.enabled, set.enabled);
  return out;
}

export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username) u.username = "redacted";
    if (u.password) u.password = "redacted";
    for (const k of [...new Set(u.searchParams.keys())]) u.searchParams.set(k, "redacted");
    return u.toString();
  } catch {
    return "(unparseable)";
  }
}

/** Soft delete: the row stays for delivery history; pending deliveries to it end `failed`. */
export async function deleteEndpoint({ ctx, input }: Verb<{ endpointId: string }>) {
  const row = await loadEndpointRow(ctx, input.endpointId);
  const now = nowIso();
  await commit(
    ctx,
    [
      ctx.db
        .update(schema.webhookEndpoints)
        .set({ deletedAt: now, enabled: false, disabledReason: "deleted", updatedAt: now })
        .where(eq(schema.webhookEndpoints.id, row.id)),
    ],
    [],
    [{ action: "webhook_endpoint.delete", resourceType: "webhook_endpoint", resourceId: row.id }],
  );
}

export async function rotateEndpointSecret({ ctx, input }: Verb<{ endpointId: string; gracePeriodSeconds: number }>) {
  const row = await loadEndpointRow(ctx, input.endpointId);
  const secret = newWebhookSecret();
  const grace = input.gracePeriodSeconds;
  // The current value moves to `previous` as stored (sealed with this endpoint's ID either way); a
  // legacy plaintext value is sealed on the way.
  const previous = row.secret.startsWith("v1.")
    ? row.secret
    : await sealWebhookSecret(ctx.env, row.environmentId, row.id, row.secret);
  await commit(
    ctx,
    [
      ctx.db
        .update(schema.webhookEndpoints)
        .set({
          secret: await sealWebhookSecret(ctx.env, row.environmentId, row.id, secret),
          previousSecret: grace > 0 ? previous : null,
          previousSecretExpiresAt: grace > 0 ? isoIn(grace * 1000) : null,
          updatedAt: nowIso(),
        })
        .where(eq(schema.webhookEndpoints.id, row.id)),
    ],
    [],
    [
      {
        action: "webhook_endpoint.rotate_secret",
        resourceType: "webhook_endpoint",
        resourceId: row.id,
        details: { grace_period_seconds: grace },
      },
    ],
  );
  return { ...serializeEndpoint(await loadEndpointRow(ctx, row.id)), secret };
}
