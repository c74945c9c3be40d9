/**
 * Security hardening (issue 10): audit request IDs are the server's own, token minting and webhook URL
 * changes are audited with values, webhook secrets are sealed at rest (legacy plaintext rows still sign
 * and get sealed), and the system signing key can be rotated and revoked so old tokens stop verifying
 * with the edge's own key loader.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type PlaybackClaims, PlaybackTokenVerifier } from "../../src/lib/playback-token";
import { loadSigningKey } from "../../workers/edge/src/state";
import type { AuditEntry, Page, SystemSigningKeyRotation } from "../support/api-types";
import { configureHook, hookName, hookUrl, received, waitFor } from "../support/webhook-receiver-client";
import { api, createAsset, createKey, type TestKey } from "./factories";

async function auditOf(key: TestKey, resourceId: string): Promise<AuditEntry[]> {
  const res = await api<Page<AuditEntry>>(key, "GET", `/v1/audit-log?resource_id=${resourceId}`);
  expect(res.status).toBe(200);
  return res.body.data;
}

async function publicPlaybackId(key: TestKey): Promise<string> {
  const asset = await createAsset(key, { playback_policy: "signed" });
  const pbs = asset.playback_ids ?? [];
  if (pbs[0]) return pbs[0].id;
  const created = await api(key, "POST", `/v1/assets/${asset.id}/playback-ids`, { policy: "signed" });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

describe("audit request IDs", () => {
  it("keeps a client X-Request-Id as client_request_id; request_id is always server-generated", async () => {
    const key = await createKey(["*"]);
    const res = await api(key, "POST", "/v1/assets", { title: "x" }, { "x-request-id": "client-chosen-1" });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    expect(res.headers.get("x-client-request-id")).toBe("client-chosen-1");
    const [entry] = await auditOf(key, res.body.id as string);
    expect(entry.request_id).toBe(res.headers.get("x-request-id"));
    expect(entry.client_request_id).toBe("client-chosen-1");
    // Two requests sending the same client ID still get distinct audit request IDs.
    const again = await api(key, "POST", "/v1/assets", { title: "y" }, { "x-request-id": "client-chosen-1" });
    const [entry2] = await auditOf(key, again.body.id as string);
    expect(entry2.request_id).not.toBe(entry.request_id);
  });
});

describe("audited token minting", () => {
  it("records who minted tokens for which playback ID, with key and lifetime, and no token", async () => {
    const key = await createKey(["*"]);
    const pb = await publicPlaybackId(key);
    const minted = await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, { expires_in: 600 });
    expect(minted.status).toBe(200);
    const entries = (await auditOf(key, pb)).filter((e) => e.action === "playback_id.mint_tokens");
    expect(entries).toHaveLength(1);
    expect(entries[0].key_id).toBe(key.keyId);
    expect(entries[0].details).toMatchObject({ expires_in: 600, signing_key_id: expect.stringMatching(/^sk_/) });
    expect(JSON.stringify(entries[0])).not.toContain(minted.body.video as string);
  });
});

describe("webhook endpoint audit", () => {
  it("records URL changes old → new, with credentials and query values redacted", async () => {
    const key = await createKey(["*"]);
    const created = await api(key, "POST", "/v1/webhook-endpoints", { url: "https://a.example.com/h?token=s3cret" });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const upd = await api(key, "PATCH", `/v1/webhook-endpoints/${id}`, {
      url: "https://b.example.com/h2?sig=abc&v=1",
      enabled: false,
    });
    expect(upd.status).toBe(200);
    const entry = (await auditOf(key, id)).find((e) => e.action === "webhook_endpoint.update");
    expect(entry?.details?.changes).toEqual({
      url: { from: "https://a.example.com/h?token=redacted", to: "https://b.example.com/h2?sig=redacted&v=redacted" },
      enabled: { from: true, to: false },
    });
    const all = JSON.stringify(await auditOf(key, id));
    for (const secret of ["s3cret", "sig=abc", created.body.secret as string]) expect(all).not.toContain(secret);
  });
});

describe("webhook secrets at rest", () => {
  it("stores secrets sealed, never as whsec_ plaintext, including across rotation", async () => {
    const key = await createKey(["*"]);
    const created = await api(key, "POST", "/v1/webhook-endpoints", { url: "https://example.com/h" });
    const id = created.body.id as string;
    const rotated = await api(key, "POST", `/v1/webhook-endpoints/${id}/rotate-secret`, {});
    expect(rotated.status).toBe(200);
    const row = await env.DB.prepare("select secret, previous_secret from webhook_endpoints where id = ?")
      .bind(id)
      .first<{ secret: string; previous_secret: string }>();
    for (const v of [row?.secret, row?.previous_secret]) {
      expect(v).toMatch(/^v1\./);
      expect(v).not.toContain("whsec_");
    }
    const dump = JSON.stringify(row);
    expect(dump).not.toContain((created.body.secret as string).slice(6));
    expect(dump).not.toContain((rotated.body.secret as string).slice(6));
  });

  it("a legacy plaintext row still signs deliveries (verified by standardwebhooks) and is sealed on first use", async () => {
    const key = await createKey(["*"]);
    const name = hookName("legacy");
    const created = await api(key, "POST", "/v1/webhook-endpoints", { url: hookUrl(name) });
    const id = created.body.id as string;
    const secret = created.body.secret as string;
    // A row as written before sealing existed.
    await env.DB.prepare("update webhook_endpoints set secret = ? where id = ?").bind(secret, id).run();
    await configureHook(name, { secrets: [secret] });
    await createAsset(key, { title: "legacy" });
    const reqs = await waitFor(async () => ((await received(name)).length ? received(name) : null), 20_000, "delivery");
    expect(reqs[0].verified[secret]).toBe(true);
    const sealed = await waitFor(
      async () => {
        const r = await env.DB.prepare("select secret from webhook_endpoints where id = ?")
          .bind(id)
          .first<{ secret: string }>();
        return r?.secret.startsWith("v1.") ? r.secret : null;
      },
      10_000,
      "sealed secret",
    );
    expect(sealed).not.toContain(secret.slice(6));
  });
});

describe("system signing key rotation", () => {
  async function verify(token: string, pb: string, environmentId: string) {
    // The edge's own key loader against this D1, with no cache: what the edge decides once its TTL passes.
    const verifier = new PlaybackTokenVerifier({ keyTtlMs: 0, negativeKeyTtlMs: 0 });
    return verifier.verify({ token, playbackId: pb, environmentId, audience: "v" }, (kid) =>
      loadSigningKey({ DB: env.DB } as never, kid),
    );
  }
  const kidOf = (jwt: string) => JSON.parse(atob(jwt.split(".")[0].replace(/-/g, "+").replace(/_/g, "/"))).kid;

  it("rotating keeps old tokens valid; revoke_previous makes them fail at the edge; new tokens verify", async () => {
    const key = await createKey(["*"]);
    const pb = await publicPlaybackId(key);
    const first = (await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, {})).body.video as string;
    expect((await verify(first, pb, key.environmentId)).ok).toBe(true);

    const soft = await api<SystemSigningKeyRotation>(key, "POST", "/v1/signing-keys/system/rotate", {});
    expect(soft.status).toBe(200);
    expect(soft.body.revoked_key_ids).toEqual([]);
    expect(soft.body.signing_key).not.toHaveProperty("private_jwk");
    const second = (await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, {})).body.video as string;
    expect(kidOf(second)).toBe(soft.body.signing_key.id);
    expect(kidOf(second)).not.toBe(kidOf(first));
    expect((await verify(first, pb, key.environmentId)).ok).toBe(true);

    const hard = await api<SystemSigningKeyRotation>(key, "POST", "/v1/signing-keys/system/rotate", {
      revoke_previous: true,
    });
    expect(hard.status).toBe(200);
    expect([...(hard.body.revoked_key_ids as string[])].sort()).toEqual([kidOf(first), kidOf(second)].sort());
    for (const old of [first, second]) {
      expect(await verify(old, pb, key.environmentId)).toEqual({ ok: false, reason: "key_revoked" });
    }
    const third = (await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, {})).body.video as string;
    expect(kidOf(third)).toBe(hard.body.signing_key.id);
    const ok = (await verify(third, pb, key.environmentId)) as { ok: true; claims: PlaybackClaims };
    expect(ok.ok).toBe(true);
    const audit = await api(key, "GET", "/v1/audit-log?action=signing_key.rotate_system");
    expect(audit.body.data).toHaveLength(2);
  });

  it("rotation needs playback:write and touches only the caller's environment", async () => {
    const reader = await createKey(["assets:read"]);
    const denied = await api(reader, "POST", "/v1/signing-keys/system/rotate", { revoke_previous: true });
    expect(denied.status).toBe(403);
    const a = await createKey(["*"]);
    const b = await createKey(["*"]);
    const pbA = await publicPlaybackId(a);
    const tokenA = (await api(a, "POST", `/v1/playback-ids/${pbA}/tokens`, {})).body.video as string;
    const rb = await api<SystemSigningKeyRotation>(b, "POST", "/v1/signing-keys/system/rotate", {
      revoke_previous: true,
    });
    expect(rb.body.revoked_key_ids).not.toContain(kidOf(tokenA));
    expect((await verify(tokenA, pbA, a.environmentId)).ok).toBe(true);
    const bad = await api(a, "POST", "/v1/signing-keys/system/rotate", { revoke_previous: "yes" });
    expect(bad.status).toBe(400);
  });
});
