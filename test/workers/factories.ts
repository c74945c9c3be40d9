/**
 * Test factories: environments and keys are created through the same code paths production uses
 * (hashing, scopes), with fresh IDs per test instead of fixed seed IDs.
 */
import { env, SELF } from "cloudflare:test";
import { hashKeySecret, newKeySecret } from "../../src/lib/auth";
import { newId } from "../../src/lib/ids";
import type { Asset } from "../support/api-types";

export interface TestKey {
  environmentId: string;
  keyId: string;
  secret: string;
}

export async function createEnvironment(name = "test"): Promise<string> {
  const id = newId("environment");
  await env.DB.prepare("insert into environments (id, name) values (?, ?)").bind(id, name).run();
  return id;
}

export async function createKey(scopes: string[] = ["*"], environmentId?: string): Promise<TestKey> {
  const envId = environmentId ?? (await createEnvironment());
  const keyId = newId("apiKey");
  const secret = newKeySecret();
  await env.DB.prepare(
    "insert into api_keys (id, environment_id, name, secret_prefix, secret_hash, scopes) values (?, ?, ?, ?, ?, ?)",
  )
    .bind(keyId, envId, "test key", secret.slice(0, 10), await hashKeySecret(secret), JSON.stringify(scopes))
    .run();
  return { environmentId: envId, keyId, secret };
}

export async function revokeKeyDirect(keyId: string) {
  await env.DB.prepare("update api_keys set revoked_at = ? where id = ?").bind(new Date().toISOString(), keyId).run();
}

type Json = Record<string, unknown>;

/**
 * Calls the API worker through its real fetch handler. `T` is the body the caller expects (e.g. `api<Asset>(…)` with
 * the types in test/support/api-types.ts); the default is an object of unknown fields, for status-only checks.
 */
export async function api<T = Json>(
  key: TestKey | string | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T; headers: Headers; raw: Response }> {
  const h: Record<string, string> = { ...headers };
  const secret = typeof key === "string" ? key : key?.secret;
  if (secret) h.authorization = `Bearer ${secret}`;
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    h["content-type"] ??= "application/json";
  }
  const res = await SELF.fetch(`http://keyframe.test${path}`, { method, headers: h, body: payload });
  const text = await res.text();
  let parsed: Json = {};
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { _text: text };
    }
  }
  return { status: res.status, body: parsed as T, headers: res.headers, raw: res };
}

export async function createAsset(key: TestKey, body: Json = {}): Promise<Asset> {
  const res = await api<Asset>(key, "POST", "/v1/assets", body);
  if (res.status !== 201) throw new Error(`createAsset failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
