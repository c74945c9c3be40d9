/**
 * Webhook endpoints and delivery, end to end: the API worker's real queue consumer POSTs to a real
 * Node receiver (test/support/webhook-receiver.ts) that verifies every request with the
 * `standardwebhooks` library. Tests run with a 1 s retry schedule (5 attempts) and a 1.5 s timeout
 * (vitest.config.ts).
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import worker from "../../src/index";
import { createEndpoint } from "../../src/services/webhooks/endpoints";
import { sweepLostDeliveries, sweepOutbox } from "../../src/services/webhooks/sweep";
import type { Page, Problem, WebhookDelivery, WebhookEndpoint, WebhookEndpointWithSecret } from "../support/api-types";
import { configureHook, hookName, hookUrl, received, waitFor } from "../support/webhook-receiver-client";
import { attemptsOf, deliveriesOf, eventIdsOf } from "../support/webhook-receiver-db";
import { api, createAsset, createKey, type TestKey } from "./factories";

async function newEndpoint(key: TestKey, name: string, extra: Record<string, unknown> = {}) {
  const res = await api<WebhookEndpointWithSecret>(key, "POST", "/v1/webhook-endpoints", {
    url: hookUrl(name),
    ...extra,
  });
  expect(res.status).toBe(201);
  return res.body;
}

/** Waits until every delivery of the endpoint is finished (succeeded or failed) and there are `n`. */
async function settled(endpointId: string, n: number, timeoutMs = 20_000) {
  return waitFor(
    async () => {
      const ds = await deliveriesOf(endpointId);
      return ds.length >= n && ds.every((d) => d.status === "succeeded" || d.status === "failed") ? ds : null;
    },
    timeoutMs,
    `${n} settled deliveries`,
  );
}

describe("webhook endpoints", () => {
  it("creates, reads, lists, updates and deletes; the secret is shown only at creation", async () => {
    const key = await createKey(["webhooks:read", "webhooks:write"]);
    const created = await api(key, "POST", "/v1/webhook-endpoints", {
      url: "https://example.com/hook",
      event_types: ["asset.ready", "upload.*"],
      description: "prod",
    });
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^we_[0-9a-z]{26}$/);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(created.body).toMatchObject({
      enabled: true,
      event_types: ["asset.ready", "upload.*"],
      description: "prod",
    });
    const id = created.body.id as string;

    const got = await api(key, "GET", `/v1/webhook-endpoints/${id}`);
    expect(got.status).toBe(200);
    expect(got.body.secret).toBeUndefined();
    const list = await api<Page<WebhookEndpoint>>(key, "GET", "/v1/webhook-endpoints");
    expect(list.body.data.map((e) => e.id)).toEqual([id]);
    expect(list.body.data[0]).not.toHaveProperty("secret");

    const patched = await api(key, "PATCH", `/v1/webhook-endpoints/${id}`, { enabled: false, event_types: [] });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ enabled: false, disabled_reason: "disabled by API", event_types: [] });
    const reenabled = await api(key, "PATCH", `/v1/webhook-endpoints/${id}`, { enabled: true });
    expect(reenabled.body).toMatchObject({ enabled: true, disabled_reason: null });

    expect((await api(key, "DELETE", `/v1/webhook-endpoints/${id}`)).status).toBe(204);
    expect((await api(key, "GET", `/v1/webhook-endpoints/${id}`)).status).toBe(404);
  });

  it("refuses bad input, wrong scopes and other environments precisely", async () => {
    const key = await createKey(["*"]);
    const badType = await api(key, "POST", "/v1/webhook-endpoints", {
      url: "https://x.test/h",
      event_types: ["asset.exploded"],
    });
    expect(badType.status).toBe(400);
    expect(badType.body.code).toBe("validation_failed");
    expect((badType.body.errors as Problem["errors"])[0].location).toBe("json.event_types.0");
    const badUrl = await api(key, "POST", "/v1/webhook-endpoints", { url: "ftp://x.test/h" });
    expect(badUrl.status).toBe(400);
    expect((badUrl.body.errors as Problem["errors"])[0]).toMatchObject({ location: "json.url" });
    const creds = await api(key, "POST", "/v1/webhook-endpoints", { url: "https://u:p@x.test/h" });
    expect(creds.body.code).toBe("validation_failed");
    const emptyPatch = await api(key, "PATCH", "/v1/webhook-endpoints/we_0000000000000000000000000a", {});
    expect(emptyPatch.status).toBe(400);

    const reader = await createKey(["webhooks:read"], key.environmentId);
    const denied = await api(reader, "POST", "/v1/webhook-endpoints", { url: "https://x.test/h" });
    expect(denied.status).toBe(403);
    const ep = await api(key, "POST", "/v1/webhook-endpoints", { url: "https://x.test/h" });
    const other = await createKey(["*"]);
    for (const [m, p] of [
      ["GET", `/v1/webhook-endpoints/${ep.body.id}`],
      ["PATCH", `/v1/webhook-endpoints/${ep.body.id}`],
      ["DELETE", `/v1/webhook-endpoints/${ep.body.id}`],
      ["POST", `/v1/webhook-endpoints/${ep.body.id}/rotate-secret`],
      ["GET", `/v1/webhook-endpoints/${ep.body.id}/deliveries`],
    ] as const) {
      const res = await api(other, m, p, m === "PATCH" ? { enabled: false } : undefined);
      expect(res.status, `${m} ${p}`).toBe(404);
    }
  });

  it("refuses private addresses, and plain http in production", async () => {
    const key = await createKey(["*"]);
    const ctx = (overrides: Partial<Env>) => ({
      db: createDb(env.DB),
      env: { ...env, ...overrides } as Env,
      caller: { environmentId: key.environmentId, keyId: key.keyId, scopes: ["*"] },
      requestId: "req_test",
      waitUntil: () => undefined,
    });
    const strict = ctx({ ALLOW_PRIVATE_WEBHOOK_URLS: "false", ALLOW_PRIVATE_INGEST_URLS: "false" });
    for (const url of [
      "http://127.0.0.1:9/h",
      "http://10.1.2.3/h",
      "http://169.254.169.254/latest",
      "http://[::1]/h",
      "http://localhost/h",
    ]) {
      await expect(createEndpoint({ ctx: strict, input: { url } }), url).rejects.toMatchObject({
        code: "validation_failed",
      });
    }
    const prod = ctx({ KEYFRAME_ENV: "production", ALLOW_PRIVATE_WEBHOOK_URLS: "false" });
    await expect(createEndpoint({ ctx: prod, input: { url: "http://example.com/h" } })).rejects.toMatchObject({
      code: "validation_failed",
      message: expect.stringContaining("https"),
    });
    const ok = await createEndpoint({ ctx: prod, input: { url: "https://example.com/h" } });
    expect(ok.secret).toMatch(/^whsec_/);
  });
});

describe("webhook delivery", () => {
  it("signs every delivery per Standard Webhooks; webhook-id is the event id; the body is the envelope", async () => {
    const key = await createKey(["*"]);
    const name = hookName("sig");
    const ep = await newEndpoint(key, name);
    await configureHook(name, { secrets: [ep.secret] });
    const asset = await createAsset(key, { title: "a", playback_policy: "public", correlation_id: "op-77" });
    await api(key, "PATCH", `/v1/assets/${asset.id}`, { title: "b" });
    await api(key, "DELETE", `/v1/assets/${asset.id}`);
    const events = await eventIdsOf(key.environmentId);
    expect(events.length).toBe(4);
    await settled(ep.id, 4);
    const reqs = await received(name);
    expect(reqs.length).toBe(4);
    for (const r of reqs) {
      expect(r.verified[ep.secret]).toBe(true);
      const body = JSON.parse(r.body);
      expect(r.headers["webhook-id"]).toBe(body.id);
      expect(Object.keys(body).sort()).toEqual(
        ["api_version", "correlation_id", "created_at", "data", "environment_id", "id", "type"].sort(),
      );
      expect(body.environment_id).toBe(key.environmentId);
      expect(body.correlation_id).toBe("op-77");
    }
    expect(reqs.map((r) => r.headers["webhook-id"]).sort()).toEqual(events);
    expect(reqs.map((r) => JSON.parse(r.body).type).sort()).toEqual(
      ["asset.created", "asset.deleted", "asset.updated", "playback_id.created"].sort(),
    );
    const ds = await deliveriesOf(ep.id);
    expect(ds.every((d) => d.status === "succeeded" && d.attempts === 1 && d.last_status_code === 200)).toBe(true);
    const attempt = (await attemptsOf(ds[0].id))[0];
    expect(attempt).toMatchObject({ attempt: 1, status_code: 200, response_excerpt: "thanks", error: null });
    expect(attempt.latency_ms).toBeGreaterThanOrEqual(0);
    const dispatched = await env.DB.prepare(
      "select count(*) as n from events where environment_id = ? and dispatched_at is not null",
    )
      .bind(key.environmentId)
      .first<{ n: number }>();
    expect(dispatched?.n).toBe(4);
  }, 30_000);

  it("delivers only the event types an endpoint asked for", async () => {
    const key = await createKey(["*"]);
    const name = hookName("filter");
    const ep = await newEndpoint(key, name, { event_types: ["asset.updated", "playback_id.*"] });
    const asset = await createAsset(key, { playback_policy: "signed" });
    await api(key, "PATCH", `/v1/assets/${asset.id}`, { title: "t" });
    await settled(ep.id, 2);
    const types = (await received(name)).map((r) => JSON.parse(r.body).type).sort();
    expect(types).toEqual(["asset.updated", "playback_id.created"]);
  }, 30_000);

  it("a receiver failing half the time still gets every event at least once and can dedupe by webhook-id", async () => {
    const key = await createKey(["*"]);
    const name = hookName("flaky");
    const ep = await newEndpoint(key, name);
    await configureHook(name, { mode: "fail-half", secrets: [ep.secret] });
    for (let i = 0; i < 6; i++) await createAsset(key, { title: `f${i}` });
    const events = await eventIdsOf(key.environmentId);
    expect(events.length).toBe(6);
    const ds = await settled(ep.id, 6, 30_000);
    expect(ds.every((d) => d.status === "succeeded")).toBe(true);
    const reqs = await received(name);
    expect(reqs.every((r) => r.verified[ep.secret])).toBe(true);
    expect(reqs.some((r) => r.responded === 500)).toBe(true);
    const accepted = new Set(reqs.filter((r) => r.responded === 204).map((r) => r.headers["webhook-id"]));
    expect([...accepted].sort()).toEqual(events);
    const deduped = new Set(reqs.map((r) => r.headers["webhook-id"]));
    expect(deduped.size).toBe(6);
    // The attempt log shows the failures too.
    const retried = ds.filter((d) => d.attempts > 1);
    expect(retried.length).toBeGreaterThan(0);
    const log = await attemptsOf(retried[0].id);
    expect(log[0]).toMatchObject({
      attempt: 1,
      status_code: 500,
      error: "receiver answered 500",
      response_excerpt: "flaky",
    });
    expect(log[log.length - 1].status_code).toBe(204);
  }, 45_000);

  it("rotation signs with both secrets during the grace period and only the new one after", async () => {
    const key = await createKey(["*"]);
    const name = hookName("rot");
    const ep = await newEndpoint(key, name);
    const oldSecret = ep.secret;
    const rotated = await api(key, "POST", `/v1/webhook-endpoints/${ep.id}/rotate-secret`, {
      grace_period_seconds: 3600,
    });
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body.secret as string;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    expect(Date.parse(rotated.body.previous_secret_expires_at as string)).toBeGreaterThan(Date.now() + 3500_000);
    await configureHook(name, { secrets: [oldSecret, newSecret] });

    await createAsset(key, { title: "during grace" });
    await settled(ep.id, 1);
    const during = await received(name);
    expect(during).toHaveLength(1);
    expect(during[0].verified).toEqual({ [oldSecret]: true, [newSecret]: true });
    expect(during[0].headers["webhook-signature"].split(" ")).toHaveLength(2);

    // The grace period ends.
    await env.DB.prepare("update webhook_endpoints set previous_secret_expires_at = ? where id = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), ep.id)
      .run();
    await createAsset(key, { title: "after grace" });
    await settled(ep.id, 2);
    const after = (await received(name))[1];
    expect(after.verified).toEqual({ [oldSecret]: false, [newSecret]: true });
    expect(after.headers["webhook-signature"].split(" ")).toHaveLength(1);
    expect((await api(key, "GET", `/v1/webhook-endpoints/${ep.id}`)).body.previous_secret_expires_at).toBeNull();

    // No grace: the old secret stops at once.
    const again = await api(key, "POST", `/v1/webhook-endpoints/${ep.id}/rotate-secret`, { grace_period_seconds: 0 });
    expect(again.body.previous_secret_expires_at).toBeNull();
    const bad = await api(key, "POST", `/v1/webhook-endpoints/${ep.id}/rotate-secret`, { grace_period_seconds: -1 });
    expect(bad.status).toBe(400);
  }, 30_000);

  it("500 is retried on the schedule until exhausted, then failed (dead letter) and replayable", async () => {
    const key = await createKey(["*"]);
    const name = hookName("err");
    const ep = await newEndpoint(key, name);
    await configureHook(name, { mode: "500", secrets: [ep.secret] });
    const since = new Date(Date.now() - 1000).toISOString();
    await createAsset(key, {});
    const [d] = await settled(ep.id, 1, 30_000);
    expect(d).toMatchObject({ status: "failed", attempts: 5, last_status_code: 500 });
    const log = await attemptsOf(d.id);
    expect(log.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5]);
    for (const a of log)
      expect(new TextEncoder().encode(a.response_excerpt ?? "").byteLength).toBeLessThanOrEqual(1024);
    expect(log[0].response_excerpt?.startsWith("boom xxx")).toBe(true);
    // Growing gaps are the schedule's job; here each gap is at least the 1 s test schedule.
    for (let i = 1; i < log.length; i++) {
      expect(Date.parse(log[i].created_at) - Date.parse(log[i - 1].created_at)).toBeGreaterThanOrEqual(900);
    }

    const listed = await api<Page<WebhookDelivery>>(
      key,
      "GET",
      `/v1/webhook-endpoints/${ep.id}/deliveries?status=failed`,
    );
    expect(listed.status).toBe(200);
    const item = listed.body.data[0];
    expect(item).toMatchObject({ id: d.id, status: "failed", attempts: 5, last_status_code: 500 });
    expect(item.attempt_log).toHaveLength(5);

    // The receiver recovers; bulk replay of failed deliveries since a time.
    await configureHook(name, { mode: "ok" });
    const replay = await api(key, "POST", `/v1/webhook-endpoints/${ep.id}/replay`, { since });
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual({ replayed: 1, has_more: false });
    const [done] = await settled(ep.id, 1);
    await waitFor(async () => (await deliveriesOf(ep.id))[0].status === "succeeded", 10_000, "replayed delivery");
    const final = (await deliveriesOf(ep.id))[0];
    expect(final).toMatchObject({ status: "succeeded", attempts: 6 });
    void done;
    const reqs = await received(name);
    expect(new Set(reqs.map((r) => r.headers["webhook-id"])).size).toBe(1);
    expect(reqs.every((r) => r.verified[ep.secret])).toBe(true);

    // Nothing failed is left to replay.
    const none = await api(key, "POST", `/v1/webhook-endpoints/${ep.id}/replay`, { since });
    expect(none.body).toEqual({ replayed: 0, has_more: false });
    const badSince = await api(key, "POST", `/v1/webhook-endpoints/${ep.id}/replay`, { since: "yesterday" });
    expect(badSince.status).toBe(400);
  }, 45_000);

  it("retrying one delivery: failed → re-sent; succeeded → 409 unless force", async () => {
    const key = await createKey(["*"]);
    const name = hookName("retry");
    const ep = await newEndpoint(key, name);
    await createAsset(key, {});
    const [d] = await settled(ep.id, 1);
    expect(d.status).toBe("succeeded");
    const refused = await api(key, "POST", `/v1/webhook-deliveries/${d.id}/retry`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("invalid_state");
    const forced = await api(key, "POST", `/v1/webhook-deliveries/${d.id}/retry`, { force: true });
    expect(forced.status).toBe(202);
    expect(forced.body).toMatchObject({ id: d.id, status: "pending" });
    await waitFor(async () => (await received(name)).length === 2, 10_000, "forced re-send");
    const reqs = await received(name);
    expect(reqs[0].headers["webhook-id"]).toBe(reqs[1].headers["webhook-id"]);
    await waitFor(async () => (await deliveriesOf(ep.id))[0].status === "succeeded", 10_000, "re-sent delivery");

    const other = await createKey(["*"]);
    expect((await api(other, "POST", `/v1/webhook-deliveries/${d.id}/retry`, {})).status).toBe(404);
    expect((await api(key, "POST", "/v1/webhook-deliveries/not-an-id/retry", {})).status).toBe(400);
  }, 30_000);

  it("429 honours Retry-After", async () => {
    const key = await createKey(["*"]);
    const name = hookName("slow");
    const ep = await newEndpoint(key, name);
    await configureHook(name, { mode: "429", retry_after: 3 });
    await createAsset(key, {});
    await waitFor(async () => (await received(name)).length >= 2, 20_000, "second attempt");
    const reqs = await received(name);
    expect(reqs[1].at - reqs[0].at).toBeGreaterThanOrEqual(2900);
    const [d] = await deliveriesOf(ep.id);
    const [first] = await attemptsOf(d.id);
    expect(first).toMatchObject({ status_code: 429, error: "receiver answered 429" });
    await configureHook(name, { mode: "ok" });
  }, 30_000);

  it("410 disables the endpoint and stops deliveries to it", async () => {
    const key = await createKey(["*"]);
    const name = hookName("gone");
    const ep = await newEndpoint(key, name);
    await configureHook(name, { mode: "410" });
    await createAsset(key, {});
    const [d] = await settled(ep.id, 1);
    expect(d).toMatchObject({ status: "failed", attempts: 1, last_status_code: 410 });
    const got = await api(key, "GET", `/v1/webhook-endpoints/${ep.id}`);
    expect(got.body.enabled).toBe(false);
    expect(got.body.disabled_reason).toMatch(/410/);
    await createAsset(key, {});
    await new Promise((r) => setTimeout(r, 2500));
    expect(await deliveriesOf(ep.id)).toHaveLength(1);
    expect(await received(name)).toHaveLength(1);
    const retry = await api(key, "POST", `/v1/webhook-deliveries/${d.id}/retry`, {});
    expect(retry.status).toBe(409);
    const audit = await env.DB.prepare(
      "select key_id from audit_log where action = 'webhook_endpoint.disable' and resource_id = ?",
    )
      .bind(ep.id)
      .first<{ key_id: string | null }>();
    expect(audit).toEqual({ key_id: null });
  }, 30_000);

  it("a hanging receiver times out, and the timeout is recorded", async () => {
    const key = await createKey(["*"]);
    const name = hookName("hang");
    const ep = await newEndpoint(key, name);
    await configureHook(name, { mode: "hang" });
    await createAsset(key, {});
    const [d] = await waitFor(
      async () => {
        const ds = await deliveriesOf(ep.id);
        return ds.length === 1 && ds[0].attempts >= 1 && ds[0].last_error ? ds : null;
      },
      20_000,
      "timed-out attempt",
    );
    const [a] = await attemptsOf(d.id);
    expect(a).toMatchObject({ status_code: null, error: "timed out after 1500 ms" });
    expect(a.latency_ms).toBeGreaterThanOrEqual(1400);
    expect(d.status).toBe("retrying");
    await api(key, "PATCH", `/v1/webhook-endpoints/${ep.id}`, { enabled: false });
  }, 30_000);

  it("a redirect is a failure and is not followed", async () => {
    const key = await createKey(["*"]);
    const name = hookName("redir");
    const ep = await newEndpoint(key, name);
    await configureHook(name, { mode: "redirect" });
    await createAsset(key, {});
    const [d] = await waitFor(
      async () => {
        const ds = await deliveriesOf(ep.id);
        return ds.length === 1 && ds[0].attempts >= 1 && ds[0].last_error ? ds : null;
      },
      20_000,
      "redirected attempt",
    );
    const [a] = await attemptsOf(d.id);
    expect(a.status_code).toBe(302);
    expect(a.error).toMatch(/redirect \(302\) to '\/hooks\/.*-target' not followed/);
    expect(await received(`${name}-target`)).toHaveLength(0);
    await api(key, "PATCH", `/v1/webhook-endpoints/${ep.id}`, { enabled: false });
  }, 30_000);

  it("an unreachable endpoint records network errors and ends failed", async () => {
    const key = await createKey(["*"]);
    const res = await api(key, "POST", "/v1/webhook-endpoints", { url: "http://127.0.0.1:1/nothing-listens" });
    const epId = res.body.id as string;
    await createAsset(key, {});
    const [d] = await settled(epId, 1, 30_000);
    expect(d.status).toBe("failed");
    const log = await attemptsOf(d.id);
    expect(log).toHaveLength(5);
    expect(log[0].status_code).toBeNull();
    expect(log[0].error).toMatch(/^network error/);
  }, 45_000);
});

describe("webhook recovery paths", () => {
  it("the outbox sweep re-sends events whose fan-out never happened", async () => {
    const key = await createKey(["*"]);
    const name = hookName("outbox");
    const ep = await newEndpoint(key, name);
    // An event committed long ago whose queue message was lost.
    const id = "evt_00000000000000000000000001";
    await env.DB.prepare(
      "insert into events (id, environment_id, type, subject_id, data, created_at) values (?, ?, 'asset.updated', 'as_x', '{}', ?)",
    )
      .bind(id, key.environmentId, new Date(Date.now() + 1000).toISOString())
      .run();
    // Not old enough yet: left alone.
    expect((await sweepOutbox(env)).requeued).toBe(0);
    const r = await sweepOutbox(env, -5000);
    expect(r.requeued).toBeGreaterThanOrEqual(1);
    await settled(ep.id, 1);
    expect((await received(name)).map((x) => x.headers["webhook-id"])).toEqual([id]);
  }, 30_000);

  it("the lost-delivery sweep re-sends deliveries whose message vanished", async () => {
    const key = await createKey(["*"]);
    const name = hookName("lost");
    const ep = await newEndpoint(key, name);
    await env.DB.prepare("update webhook_endpoints set enabled = 0 where id = ?").bind(ep.id).run();
    await createAsset(key, {});
    const [evt] = await eventIdsOf(key.environmentId);
    await waitFor(
      async () =>
        (
          await env.DB.prepare("select dispatched_at from events where id = ?")
            .bind(evt)
            .first<{ dispatched_at: string | null }>()
        )?.dispatched_at,
      10_000,
      "dispatch",
    );
    await env.DB.prepare("update webhook_endpoints set enabled = 1 where id = ?").bind(ep.id).run();
    // A pending delivery whose message was lost two minutes ago.
    await env.DB.prepare(
      "insert into webhook_deliveries (id, environment_id, endpoint_id, event_id, event_type, status, next_attempt_at) values (?, ?, ?, ?, 'asset.created', 'pending', ?)",
    )
      .bind(
        "dl_00000000000000000000000001",
        key.environmentId,
        ep.id,
        evt,
        new Date(Date.now() - 120_000).toISOString(),
      )
      .run();
    expect((await sweepLostDeliveries(env)).requeued).toBe(1);
    const [d] = await settled(ep.id, 1);
    expect(d.status).toBe("succeeded");
  }, 30_000);

  it("the dead-letter consumer marks exhausted delivery messages failed", async () => {
    const key = await createKey(["*"]);
    const ep = await newEndpoint(key, hookName("dlq"));
    await env.DB.prepare("update webhook_endpoints set enabled = 0 where id = ?").bind(ep.id).run();
    await createAsset(key, {});
    const [evt] = await eventIdsOf(key.environmentId);
    const deliveryId = "dl_00000000000000000000000002";
    await env.DB.prepare(
      "insert into webhook_deliveries (id, environment_id, endpoint_id, event_id, event_type, status, next_attempt_at) values (?, ?, ?, ?, 'asset.created', 'retrying', ?)",
    )
      .bind(deliveryId, key.environmentId, ep.id, evt, new Date().toISOString())
      .run();
    const batch = createMessageBatch("keyframe-webhook-deliveries-dlq", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { kind: "delivery", delivery_id: deliveryId } },
      { id: "m2", timestamp: new Date(), attempts: 1, body: { kind: "event", event_id: evt } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["m1", "m2"]);
    const row = await env.DB.prepare("select status, last_error from webhook_deliveries where id = ?")
      .bind(deliveryId)
      .first<{ status: string; last_error: string }>();
    expect(row).toMatchObject({ status: "failed", last_error: expect.stringMatching(/dead-lettered/) });
  });

  it("malformed queue messages are acked, not retried forever", async () => {
    const batch = createMessageBatch("keyframe-webhook-deliveries", [
      { id: "bad", timestamp: new Date(), attempts: 1, body: { kind: "nonsense" } },
      { id: "gone", timestamp: new Date(), attempts: 1, body: { kind: "delivery", delivery_id: "dl_missing" } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["bad", "gone"]);
    expect(result.retryMessages).toEqual([]);
  });
});
