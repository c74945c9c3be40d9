/**
 * Idempotent replay and authorization (issue 10, finding 1): the scope check runs before any replay,
 * records belong to the API key that made them, and operations whose answer carries a one-time secret
 * are never stored — repeating them answers 409 idempotency_replay_unavailable, without the secret.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createAsset, createKey, type TestKey } from "./factories";

/** Anything that looks like a secret we hand out once. */
const SECRET_RE = /kf_[A-Za-z0-9_-]{20}|whsec_|PRIVATE KEY|"d":"|eyJ[A-Za-z0-9_-]{10,}\./;

interface SecretOp {
  name: string;
  scope: string;
  /** Prepares what the operation needs and returns its path and body. */
  setup(key: TestKey): Promise<{ path: string; body: unknown }>;
  status: number;
}

const webhookUrl = () => `${env.WEBHOOK_RECEIVER_URL}/idem-${crypto.randomUUID()}`;

const SECRET_OPS: SecretOp[] = [
  {
    name: "signing key create",
    scope: "playback:write",
    status: 201,
    setup: async () => ({ path: "/v1/signing-keys", body: {} }),
  },
  {
    name: "API key create",
    scope: "keys:write",
    status: 201,
    setup: async () => ({ path: "/v1/keys", body: { name: "minted", scopes: ["assets:read"] } }),
  },
  {
    name: "webhook endpoint create",
    scope: "webhooks:write",
    status: 201,
    setup: async () => ({ path: "/v1/webhook-endpoints", body: { url: webhookUrl() } }),
  },
  {
    name: "webhook rotate-secret",
    scope: "webhooks:write",
    status: 200,
    setup: async (key) => {
      const ep = await api(key, "POST", "/v1/webhook-endpoints", { url: webhookUrl() });
      expect(ep.status).toBe(201);
      return { path: `/v1/webhook-endpoints/${ep.body.id}/rotate-secret`, body: {} };
    },
  },
  {
    name: "playback token minting",
    scope: "playback:write",
    status: 200,
    setup: async (key) => {
      expect((await api(key, "POST", "/v1/signing-keys", {})).status).toBe(201);
      const asset = await createAsset(key, { playback_policy: "signed" });
      return { path: `/v1/playback-ids/${asset.playback_ids[0].id}/tokens`, body: { expires_in: 600 } };
    },
  },
];

describe("Idempotency-Key and secrets", () => {
  for (const op of SECRET_OPS) {
    it(`${op.name}: a key without '${op.scope}' gets 403, the same key gets 409 idempotency_replay_unavailable, never the secret`, async () => {
      const admin = await createKey(["*"]);
      const { path, body } = await op.setup(admin);
      const idem = { "idempotency-key": `secret-${op.name}` };
      const first = await api(admin, "POST", path, body, idem);
      expect(first.status).toBe(op.status);
      expect(JSON.stringify(first.body)).toMatch(SECRET_RE);

      // A read-only key of the same environment, same Idempotency-Key, same body: refused before any replay.
      const reader = await createKey(["assets:read"], admin.environmentId);
      const stolen = await api(reader, "POST", path, body, idem);
      expect(stolen.status).toBe(403);
      expect(stolen.body.code).toBe("forbidden");
      expect(stolen.headers.get("idempotent-replayed")).toBeNull();
      expect(JSON.stringify(stolen.body)).not.toMatch(SECRET_RE);

      // The same key repeating it: the documented refusal, no secret.
      const again = await api(admin, "POST", path, body, idem);
      expect(again.status).toBe(409);
      expect(again.headers.get("content-type")).toContain("application/problem+json");
      expect(again.body.code).toBe("idempotency_replay_unavailable");
      expect(again.body.detail).toContain(`HTTP ${op.status}`);
      expect(JSON.stringify(again.body)).not.toMatch(SECRET_RE);

      // The store never held the secret.
      const rows = await env.DB.prepare(
        "select response_status, response_body from idempotency_records where environment_id = ? and key = ?",
      )
        .bind(admin.environmentId, idem["idempotency-key"])
        .all<{ response_status: number; response_body: string | null }>();
      expect(rows.results).toEqual([{ response_status: op.status, response_body: null }]);
    });
  }

  it("a secret-bearing operation's errors are still stored and replayed", async () => {
    const admin = await createKey(["*"]);
    const bad = { name: "x", scopes: ["not-a-scope"] };
    const first = await api(admin, "POST", "/v1/keys", bad, { "idempotency-key": "bad-key" });
    expect(first.status).toBe(400);
    const again = await api(admin, "POST", "/v1/keys", bad, { "idempotency-key": "bad-key" });
    expect(again.status).toBe(400);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
  });

  it("a key lacking the scope cannot replay another key's non-secret answer either", async () => {
    const writer = await createKey(["assets:write"]);
    const created = await api(writer, "POST", "/v1/assets", { title: "t" }, { "idempotency-key": "asset-1" });
    expect(created.status).toBe(201);
    const reader = await createKey(["assets:read"], writer.environmentId);
    const replay = await api(reader, "POST", "/v1/assets", { title: "t" }, { "idempotency-key": "asset-1" });
    expect(replay.status).toBe(403);
    // And the writer's own replay still works.
    const own = await api(writer, "POST", "/v1/assets", { title: "t" }, { "idempotency-key": "asset-1" });
    expect(own.status).toBe(201);
    expect(own.headers.get("idempotent-replayed")).toBe("true");
    expect(own.body.id).toBe(created.body.id);
  });

  it("the OpenAPI document marks the refused-replay operations", async () => {
    // The parts of the served document this test reads (a path item's `parameters` has neither field).
    type OperationView = { description?: string; "x-keyframe-idempotent-replay"?: string };
    const doc = await api<{ paths: Record<string, Record<string, OperationView>> }>(null, "GET", "/v1/openapi.json");
    const refused: string[] = [];
    for (const [p, item] of Object.entries(doc.body.paths)) {
      for (const [m, op] of Object.entries(item)) {
        if (op["x-keyframe-idempotent-replay"] === "refused") {
          refused.push(`${m.toUpperCase()} ${p}`);
          expect(op.description).toContain("idempotency_replay_unavailable");
        }
      }
    }
    expect(refused.sort()).toEqual(
      [
        "POST /v1/keys",
        "POST /v1/signing-keys",
        "POST /v1/playback-ids/{playback_id}/tokens",
        "POST /v1/webhook-endpoints",
        "POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret",
      ].sort(),
    );
  });
});
