/** Idempotency-Key on POST under /v1: one effect per key, replays, refusals, per-environment keys. */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp, onError, requestIdMiddleware } from "../../src/app";
import { createDb } from "../../src/db/client";
import { idempotency } from "../../src/middleware/idempotency";
import { sweepIdempotencyRecords } from "../../src/services/webhooks/sweep";
import { api, createKey } from "./factories";

async function assetCount(environmentId: string) {
  const r = await env.DB.prepare("select count(*) as n from assets where environment_id = ?")
    .bind(environmentId)
    .first<{ n: number }>();
  return r?.n ?? 0;
}

describe("Idempotency-Key", () => {
  it("50 concurrent identical POSTs with one key create exactly one asset", async () => {
    const key = await createKey(["*"]);
    const body = JSON.stringify({ title: "once", playback_policy: "public" });
    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        SELF.fetch("http://keyframe.test/v1/assets", {
          method: "POST",
          headers: {
            authorization: `Bearer ${key.secret}`,
            "content-type": "application/json",
            "idempotency-key": "k-50",
          },
          body,
        }),
      ),
    );
    const parsed = await Promise.all(
      responses.map(async (r) => ({
        status: r.status,
        headers: r.headers,
        body: await r.json<{ id?: string; code?: string }>(),
      })),
    );
    expect(await assetCount(key.environmentId)).toBe(1);
    const created = parsed.filter((p) => p.status === 201);
    const busy = parsed.filter((p) => p.status === 409);
    expect(created.length + busy.length).toBe(50);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((p) => p.body.id)).size).toBe(1);
    for (const b of busy) {
      expect(b.body.code).toBe("idempotency_request_in_progress");
      expect(b.headers.get("retry-after")).toBe("1");
    }
    // Exactly one of the 201s did the work; the rest were replays.
    expect(created.filter((p) => p.headers.get("idempotent-replayed") !== "true")).toHaveLength(1);

    const again = await api(key, "POST", "/v1/assets", JSON.parse(body), { "idempotency-key": "k-50" });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("x-request-id")).toMatch(/^req_/);
    expect(again.body.id).toBe(created[0].body.id);
    expect(again.body.title).toBe("once");
    expect(await assetCount(key.environmentId)).toBe(1);
    // Exactly one asset.created event too.
    const events = await env.DB.prepare(
      "select count(*) as n from events where environment_id = ? and type = 'asset.created'",
    )
      .bind(key.environmentId)
      .first<{ n: number }>();
    expect(events?.n).toBe(1);
  });

  it("refuses the same key with a different body or a different route (422)", async () => {
    const key = await createKey(["*"]);
    const first = await api(key, "POST", "/v1/assets", { title: "a" }, { "idempotency-key": "k-reuse" });
    expect(first.status).toBe(201);
    const otherBody = await api(key, "POST", "/v1/assets", { title: "b" }, { "idempotency-key": "k-reuse" });
    expect(otherBody.status).toBe(422);
    expect(otherBody.body.code).toBe("idempotency_key_reused");
    expect(otherBody.headers.get("content-type")).toContain("application/problem+json");
    const otherRoute = await api(key, "POST", "/v1/uploads", {}, { "idempotency-key": "k-reuse" });
    expect(otherRoute.status).toBe(422);
    expect(otherRoute.body.code).toBe("idempotency_key_reused");
    expect(otherRoute.body.detail).toContain("POST /v1/assets");
    expect(await assetCount(key.environmentId)).toBe(1);
  });

  it("keys are per API key: the same key elsewhere, or from another key of the environment, is independent", async () => {
    const a = await createKey(["*"]);
    const b = await createKey(["*"]);
    const ra = await api(a, "POST", "/v1/assets", { title: "same" }, { "idempotency-key": "shared" });
    const rb = await api(b, "POST", "/v1/assets", { title: "same" }, { "idempotency-key": "shared" });
    expect(ra.status).toBe(201);
    expect(rb.status).toBe(201);
    expect(rb.headers.get("idempotent-replayed")).toBeNull();
    expect(rb.body.id).not.toBe(ra.body.id);
    // A second key of the same environment does not see the first key's records (as at Stripe).
    const a2 = await createKey(["*"], a.environmentId);
    const ra2 = await api(a2, "POST", "/v1/assets", { title: "same" }, { "idempotency-key": "shared" });
    expect(ra2.status).toBe(201);
    expect(ra2.headers.get("idempotent-replayed")).toBeNull();
    expect(ra2.body.id).not.toBe(ra.body.id);
  });

  it("stores and replays 4xx answers; the body validator still sees the body", async () => {
    const key = await createKey(["*"]);
    const bad = await api(key, "POST", "/v1/assets", { title: 42 }, { "idempotency-key": "k-400" });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("validation_failed");
    const replay = await api(key, "POST", "/v1/assets", { title: 42 }, { "idempotency-key": "k-400" });
    expect(replay.status).toBe(400);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.headers.get("content-type")).toContain("application/problem+json");
    expect(replay.body).toEqual(bad.body);
    const malformed = await api(key, "POST", "/v1/assets", "{nope", { "idempotency-key": "k-malformed" });
    expect(malformed.body.code).toBe("malformed_json");
  });

  it("validates the key, and requests without one are not affected", async () => {
    const key = await createKey(["*"]);
    const long = await api(key, "POST", "/v1/assets", {}, { "idempotency-key": "x".repeat(256) });
    expect(long.status).toBe(400);
    expect(long.body.errors).toEqual([{ location: "header.idempotency-key", message: expect.any(String) }]);
    const control = await api(key, "POST", "/v1/assets", {}, { "idempotency-key": "tab\there" });
    expect(control.status).toBe(400);
    expect((await api(key, "POST", "/v1/assets", {})).status).toBe(201);
    expect((await api(key, "POST", "/v1/assets", {})).status).toBe(201);
    expect(await assetCount(key.environmentId)).toBe(2);
    // Unauthenticated requests never reach the idempotency store.
    const anon = await api(null, "POST", "/v1/assets", {}, { "idempotency-key": "anon" });
    expect(anon.status).toBe(401);
  });

  it("expires after 24 h: an expired key is reusable and the GC sweep deletes it", async () => {
    const key = await createKey(["*"]);
    await api(key, "POST", "/v1/assets", { title: "old" }, { "idempotency-key": "k-exp" });
    const rec = await env.DB.prepare(
      "select expires_at, created_at from idempotency_records where environment_id = ? and key = 'k-exp'",
    )
      .bind(key.environmentId)
      .first<{ expires_at: string; created_at: string }>();
    const ttl = Date.parse(rec!.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(23.9 * 3600_000);
    expect(ttl).toBeLessThanOrEqual(24 * 3600_000);
    await env.DB.prepare("update idempotency_records set expires_at = ? where environment_id = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), key.environmentId)
      .run();
    const fresh = await api(key, "POST", "/v1/assets", { title: "new" }, { "idempotency-key": "k-exp" });
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get("idempotent-replayed")).toBeNull();
    await api(key, "POST", "/v1/assets", { title: "gc" }, { "idempotency-key": "k-gc" });
    await env.DB.prepare("update idempotency_records set expires_at = ? where key = 'k-gc'")
      .bind(new Date(Date.now() - 1000).toISOString())
      .run();
    expect((await sweepIdempotencyRecords(env)).deleted).toBeGreaterThanOrEqual(1);
    const left = await env.DB.prepare("select key from idempotency_records where environment_id = ? order by key")
      .bind(key.environmentId)
      .all<{ key: string }>();
    expect(left.results.map((r) => r.key)).toEqual(["k-exp"]);
  });

  it("a 5xx or a thrown error releases the key so the client can retry", async () => {
    const key = await createKey(["*"]);
    // The real middleware in front of a handler that fails the first times it runs.
    const app = createApp();
    app.use("*", requestIdMiddleware);
    app.use("*", async (c, next) => {
      const caller = { environmentId: key.environmentId, keyId: key.keyId, scopes: ["*"] };
      c.set("caller", caller);
      c.set("ctx", { db: createDb(env.DB), env, caller, requestId: c.get("requestId"), waitUntil: () => undefined });
      await next();
    });
    app.use("*", idempotency());
    let calls = 0;
    app.post("/v1/flaky", (c) => {
      calls++;
      if (calls === 1) throw new Error("database on fire");
      if (calls === 2) return c.json({ code: "service_unavailable" }, 503);
      return c.json({ ok: true, calls }, 201);
    });
    app.onError(onError);
    const send = () =>
      app.request("/v1/flaky", { method: "POST", body: '{"a":1}', headers: { "idempotency-key": "k-5xx" } }, env);
    expect((await send()).status).toBe(500);
    expect((await send()).status).toBe(503);
    const ok = await send();
    expect(ok.status).toBe(201);
    expect(await ok.json()).toEqual({ ok: true, calls: 3 });
    const replay = await send();
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toEqual({ ok: true, calls: 3 });
    expect(calls).toBe(3);
  });
});
