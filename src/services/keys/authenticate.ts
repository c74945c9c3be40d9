/** Who an API key is: the lookup behind `Authorization: Bearer kf_…` (src/app.ts's auth middleware). */
import { and, eq, isNull } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import { hashKeySecret } from "../../lib/auth";
import { KeyframeError } from "../../lib/errors";
import type { Caller } from "../context";

/**
 * The caller a well-formed key secret stands for (401 when unknown or revoked). Marks the key used, best
 * effort and off the response path, at most once a minute.
 */
export async function authenticateKey(
  env: Env,
  secret: string,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<Caller> {
  const db = createDb(env.DB);
  const hash = await hashKeySecret(secret);
  const key = await db.query.apiKeys.findFirst({ where: eq(schema.apiKeys.secretHash, hash) });
  if (!key) throw new KeyframeError("unauthenticated", "The API key is not recognised.");
  if (key.revokedAt) throw new KeyframeError("unauthenticated", "The API key has been revoked.");
  if (!key.lastUsedAt || Date.parse(key.lastUsedAt) < Date.now() - 60_000) {
    waitUntil(
      db
        .update(schema.apiKeys)
        .set({ lastUsedAt: new Date().toISOString() })
        .where(and(eq(schema.apiKeys.id, key.id), isNull(schema.apiKeys.revokedAt)))
        .run()
        .catch(() => undefined),
    );
  }
  return { environmentId: key.environmentId, keyId: key.id, scopes: key.scopes };
}
