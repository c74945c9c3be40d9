/**
 * Webhook signing secrets at rest: sealed like the system signing keys (src/lib/seal.ts, purpose
 * `webhook-secret`, the endpoint ID as additional data), since a secret read from a database dump
 * lets anyone forge deliveries. Rows written before sealing still hold `whsec_…`: `openEndpointSecrets`
 * accepts them and `sealLegacySecrets` rewrites them sealed the first time they are read.
 */
import { and, eq } from "drizzle-orm";
import { type Db, schema } from "../../db/client";
import { log } from "../../lib/log";
import { seal, unseal } from "../../lib/seal";

type EndpointSecrets = { id: string; environmentId: string; secret: string; previousSecret: string | null };

const LEGACY_PREFIX = "whsec_";

const scope = (env: Env, environmentId: string, endpointId: string) => ({
  secret: env.JOB_TOKEN_SECRET,
  purpose: "webhook-secret",
  environmentId,
  rowId: endpointId,
});

export function sealWebhookSecret(env: Env, environmentId: string, endpointId: string, plaintext: string) {
  return seal(scope(env, environmentId, endpointId), plaintext);
}

async function openOne(env: Env, row: EndpointSecrets, stored: string): Promise<string | null> {
  if (stored.startsWith(LEGACY_PREFIX)) return stored;
  return unseal(scope(env, row.environmentId, row.id), stored);
}

/** The plaintext secrets; a value that no longer opens (JOB_TOKEN_SECRET rotated) is null. */
export async function openEndpointSecrets(
  env: Env,
  row: EndpointSecrets,
): Promise<{ secret: string | null; previousSecret: string | null }> {
  return {
    secret: await openOne(env, row, row.secret),
    previousSecret: row.previousSecret ? await openOne(env, row, row.previousSecret) : null,
  };
}

/** Seals any plaintext left from before sealing. Conditional on the old value, so a racing rotation wins. */
export async function sealLegacySecrets(db: Db, env: Env, row: EndpointSecrets): Promise<void> {
  const e = schema.webhookEndpoints;
  const fix = async (column: "secret" | "previousSecret", value: string | null) => {
    if (!value?.startsWith(LEGACY_PREFIX)) return;
    const sealed = await sealWebhookSecret(env, row.environmentId, row.id, value);
    await db
      .update(e)
      .set({ [column]: sealed })
      .where(and(eq(e.id, row.id), eq(e[column], value)))
      .run()
      .catch((err) => log.warn("webhook_secret_seal_failed", { endpoint_id: row.id, error: (err as Error).message }));
  };
  await fix("secret", row.secret);
  await fix("previousSecret", row.previousSecret);
}
