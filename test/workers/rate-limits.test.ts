/**
 * Rate limits through the real Rate Limiting binding (Miniflare's simulator): a tiny test budget is swapped
 * in for one policy's binding, then the real worker entry is called until it refuses.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { ERROR_CODES } from "../../src/lib/errors";
import { type BindingName, POLICIES } from "../../src/rate-limits/policies";
import wranglerToml from "../../wrangler.toml?raw";
import { createKey, type TestKey } from "./factories";

async function call(key: TestKey, method: string, path: string, tiny: BindingName, body?: unknown) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://keyframe.test${path}`, {
      method,
      headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { ...env, [tiny]: env.RL_TEST_TINY },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

async function expect429(res: Response, policy: string) {
  expect(res.status).toBe(429);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.code).toBe("rate_limited");
  expect(ERROR_CODES).toContain(body.code);
  expect(body.detail).toContain(policy);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(res.headers.get("ratelimit")).toBe(`"${policy}";r=0;t=60`);
  expect(res.headers.get("ratelimit-policy")).toMatch(new RegExp(`"${policy}";q=\\d+;w=60`));
}

describe("rate limits", () => {
  it("per API key: the 4th write in a window is refused; another key and reads are unaffected", async () => {
    const envId = (await createKey(["*"])).environmentId;
    const a = await createKey(["*"], envId);
    const b = await createKey(["*"], envId);
    for (let i = 0; i < 3; i++) {
      const ok = await call(a, "POST", "/v1/assets", "RL_KEY_WRITES", { title: `t${i}` });
      expect(ok.status).toBe(201);
      expect(ok.headers.get("ratelimit-policy")).toBe('"key-writes";q=300;w=60, "env-writes";q=1500;w=60');
    }
    await expect429(await call(a, "POST", "/v1/assets", "RL_KEY_WRITES", { title: "over" }), "key-writes");
    // Refused before any work: still three assets.
    const count = await env.DB.prepare("select count(*) n from assets where environment_id = ?").bind(envId).first();
    expect(count?.n).toBe(3);
    // The same environment's other key has its own budget; reads are a separate budget.
    expect((await call(b, "POST", "/v1/assets", "RL_KEY_WRITES", { title: "b" })).status).toBe(201);
    expect((await call(a, "GET", "/v1/assets", "RL_KEY_WRITES")).status).toBe(200);
  });

  it("per environment: an exhausted environment budget refuses all its keys, not another environment's", async () => {
    const envId = (await createKey(["*"])).environmentId;
    const keys = await Promise.all([1, 2, 3, 4].map(() => createKey(["assets:read"], envId)));
    for (const k of keys.slice(0, 3)) expect((await call(k, "GET", "/v1/assets", "RL_ENV_READS")).status).toBe(200);
    await expect429(await call(keys[3], "GET", "/v1/assets", "RL_ENV_READS"), "env-reads");
    const other = await createKey(["assets:read"]);
    expect((await call(other, "GET", "/v1/assets", "RL_ENV_READS")).status).toBe(200);
  });

  it("token minting has its own budget", async () => {
    const key = await createKey(["*"]);
    const asset = await call(key, "POST", "/v1/assets", "RL_KEY_TOKENS", { playback_policy: "signed" });
    const pb = ((await asset.json()) as { playback_ids: { id: string }[] }).playback_ids[0].id;
    for (let i = 0; i < 3; i++) {
      expect((await call(key, "POST", `/v1/playback-ids/${pb}/tokens`, "RL_KEY_TOKENS", {})).status).toBe(200);
    }
    await expect429(await call(key, "POST", `/v1/playback-ids/${pb}/tokens`, "RL_KEY_TOKENS", {}), "key-tokens");
    // Writes still go through for this key.
    expect((await call(key, "POST", "/v1/assets", "RL_KEY_TOKENS", {})).status).toBe(201);
  });

  it("the policy table matches wrangler.toml's [[ratelimits]] bindings", () => {
    const declared = new Map<string, { limit: number; period: number }>();
    const re =
      /\[\[ratelimits\]\]\s*name = "(\w+)"\s*namespace_id = "\d+"\s*simple = \{ limit = (\d+), period = (\d+) \}/g;
    for (const m of wranglerToml.matchAll(re)) declared.set(m[1], { limit: Number(m[2]), period: Number(m[3]) });
    const policies = Object.values(POLICIES).flat();
    expect(declared.size).toBe(policies.length);
    for (const p of policies)
      expect(declared.get(p.binding), p.binding).toEqual({ limit: p.limit, period: p.periodSeconds });
  });
});
