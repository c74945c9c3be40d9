import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hashKeySecret, KEY_SECRET_RE } from "../../src/lib/auth";
import type { ApiKey, CreatedApiKey, Page } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { api, createKey } from "./factories";

describe("POST /v1/keys", () => {
  it("returns the secret once; it authenticates with exactly its scopes", async () => {
    const admin = await createKey(["*"]);
    const res = await api<CreatedApiKey>(admin, "POST", "/v1/keys", {
      name: "reader",
      scopes: ["assets:read", "assets:read"],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "reader",
      scopes: ["assets:read"],
      environment_id: admin.environmentId,
      revoked_at: null,
    });
    expect(res.body.id).toMatch(/^key_[0-9a-z]{26}$/);
    expect(res.body.secret).toMatch(KEY_SECRET_RE);
    expect(res.body.secret.startsWith(res.body.secret_prefix)).toBe(true);

    // Stored only as a hash.
    const row = await env.DB.prepare("select * from api_keys where id = ?").bind(res.body.id).first();
    expect(JSON.stringify(row)).not.toContain(res.body.secret);
    expect(row?.secret_hash).toBe(await hashKeySecret(res.body.secret));
    expect(row?.created_by_key_id).toBe(admin.keyId);

    const secret = res.body.secret;
    expect((await api(secret, "GET", "/v1/assets")).status).toBe(200);
    expectProblem(await api(secret, "POST", "/v1/assets", {}), 403, "forbidden");
    expectProblem(await api(secret, "GET", "/v1/keys"), 403, "forbidden");
  });

  it("a key can only grant scopes it holds; only '*' grants '*'", async () => {
    const keyAdmin = await createKey(["keys:write", "assets:read"]);
    const ok = await api(keyAdmin, "POST", "/v1/keys", { name: "r", scopes: ["assets:read"] });
    expect(ok.status).toBe(201);
    expectProblem(await api(keyAdmin, "POST", "/v1/keys", { name: "star", scopes: ["*"] }), 403, "forbidden");
    expectProblem(
      await api(keyAdmin, "POST", "/v1/keys", { name: "w", scopes: ["assets:read", "assets:write"] }),
      403,
      "forbidden",
    );
    const root = await createKey(["*"]);
    const star = await api<CreatedApiKey>(root, "POST", "/v1/keys", { name: "root 2", scopes: ["*"] });
    expect(star.status).toBe(201);
    expect((await api(star.body.secret, "GET", "/v1/keys")).status).toBe(200);
  });

  it("refuses bad input precisely", async () => {
    const admin = await createKey(["*"]);
    const bad = async (body: unknown, status = 400, code = "validation_failed") =>
      expectProblem(await api(admin, "POST", "/v1/keys", body), status, code, JSON.stringify(body).slice(0, 60));
    await bad("{", 400, "malformed_json");
    await bad({});
    await bad({ name: "x" });
    await bad({ name: "x", scopes: [] });
    await bad({ name: "x", scopes: ["root"] });
    await bad({ name: "x", scopes: "assets:read" });
    await bad({ name: "", scopes: ["assets:read"] });
    await bad({ name: "x".repeat(129), scopes: ["assets:read"] });
    await bad({ name: 5, scopes: ["assets:read"] });
    await bad({ name: "x", scopes: ["assets:read"], secret: "kf_mine" });
    await bad({ name: "x".repeat(1024 * 1024), scopes: ["*"] }, 413, "payload_too_large");
    const text = await api(admin, "POST", "/v1/keys", "name=x", { "content-type": "text/plain" });
    expectProblem(text, 415, "unsupported_media_type", "text/plain body");
  });
});

describe("GET /v1/keys", () => {
  it("lists the environment's keys without secrets, newest first, with cursors", async () => {
    const admin = await createKey(["*"]);
    const created: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await api<CreatedApiKey>(admin, "POST", "/v1/keys", { name: `k${i}`, scopes: ["events:read"] });
      created.push(r.body.id);
    }
    const other = await createKey(["*"]);
    const seen: ApiKey[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: Page<ApiKey> } = await api<Page<ApiKey>>(
        admin,
        "GET",
        `/v1/keys?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(res.status).toBe(200);
      seen.push(...res.body.data);
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen.map((k) => k.id)).toEqual([...created.reverse(), admin.keyId]);
    expect(seen.map((k) => k.id)).not.toContain(other.keyId);
    for (const k of seen) {
      expect(k).not.toHaveProperty("secret");
      expect(k).not.toHaveProperty("secret_hash");
      expect(JSON.stringify(k)).not.toMatch(/kf_[A-Za-z0-9_-]{43}/);
    }
    expectProblem(await api(admin, "GET", "/v1/keys?cursor=bm9wZQ"), 400, "invalid_cursor");
  });
});

describe("DELETE /v1/keys/{key_id}", () => {
  it("revokes: the key then gets 401, the listing shows revoked_at, a second revoke is a no-op", async () => {
    const admin = await createKey(["*"]);
    const made = await api<CreatedApiKey>(admin, "POST", "/v1/keys", { name: "temp", scopes: ["assets:read"] });
    expect((await api(made.body.secret, "GET", "/v1/assets")).status).toBe(200);
    expect((await api(admin, "DELETE", `/v1/keys/${made.body.id}`)).status).toBe(204);
    const after = await api(made.body.secret, "GET", "/v1/assets");
    expect(expectProblem(after, 401, "unauthenticated").detail).toMatch(/revoked/);
    const list = await api<Page<ApiKey>>(admin, "GET", "/v1/keys");
    expect(list.body.data.find((k) => k.id === made.body.id)?.revoked_at).toBeTruthy();
    expect((await api(admin, "DELETE", `/v1/keys/${made.body.id}`)).status).toBe(204);
  });

  it("a key may revoke itself; the next request is refused", async () => {
    const admin = await createKey(["*"]);
    expect((await api(admin, "DELETE", `/v1/keys/${admin.keyId}`)).status).toBe(204);
    expectProblem(await api(admin, "GET", "/v1/keys"), 401, "unauthenticated");
  });

  it("refuses bad IDs, unknown IDs and other environments' keys", async () => {
    const admin = await createKey(["*"]);
    const stranger = await createKey(["*"]);
    expectProblem(await api(admin, "DELETE", "/v1/keys/key_bad"), 400, "validation_failed");
    expectProblem(await api(admin, "DELETE", `/v1/keys/key_${"0".repeat(26)}`), 404, "not_found");
    expectProblem(await api(admin, "DELETE", `/v1/keys/${stranger.keyId}`), 404, "not_found");
    expect((await api(stranger, "GET", "/v1/keys")).status, "stranger's key untouched").toBe(200);
  });
});
