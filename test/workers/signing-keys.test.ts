/** Signing keys API and server-side token minting, checked against the same verifier the edge runs. */
import { env } from "cloudflare:test";
import { decodeProtectedHeader, importJWK, importPKCS8, jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { PlaybackTokenVerifier } from "../../src/lib/playback-token";
import { loadSigningKey } from "../../workers/edge/src/state";
import type { CreatedSigningKey, Page, PlaybackTokens, Problem, SigningKey } from "../support/api-types";
import { api, createAsset, createKey, type TestKey } from "./factories";

const loader = (kid: string) => loadSigningKey(env, kid);

/** A `signing_keys` row as raw SQL returns it (the public JWK as JSON text). */
interface SigningKeyRow {
  environment_id: string;
  kind: "user" | "system";
  public_jwk: string;
  private_jwk_enc: string | null;
  revoked_at: string | null;
}

async function edgeVerify(token: string, playbackId: string, environmentId: string, audience: "v" | "t" | "s") {
  // A fresh verifier per check: no cached key, so revocation shows immediately.
  return new PlaybackTokenVerifier().verify({ token, playbackId, environmentId, audience }, loader);
}

async function playbackIdFor(key: TestKey, policy: "public" | "signed" = "signed") {
  const asset = await createAsset(key, { playback_policy: policy });
  return asset.playback_ids[0].id;
}

describe("signing keys", () => {
  it("creates an ES256 key, returns the private key once and stores only the public JWK", async () => {
    const key = await createKey(["playback:write"]);
    const res = await api<CreatedSigningKey>(key, "POST", "/v1/signing-keys");
    expect(res.status).toBe(201);
    const body = res.body;
    expect(body.id).toMatch(/^sk_[0-9a-z]{26}$/);
    expect(body.public_jwk).toMatchObject({ kty: "EC", crv: "P-256", kid: body.id, alg: "ES256", use: "sig" });
    expect(body.public_jwk).not.toHaveProperty("d");
    expect(body.private_key_pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----/);
    expect(body.private_jwk).toMatchObject({ kty: "EC", crv: "P-256", kid: body.id, alg: "ES256" });
    expect(typeof body.private_jwk.d).toBe("string");
    expect(body.revoked_at).toBeNull();

    const row = await env.DB.prepare("select * from signing_keys where id = ?").bind(body.id).first<SigningKeyRow>();
    expect(row?.environment_id).toBe(key.environmentId);
    expect(row?.kind).toBe("user");
    expect(row?.private_jwk_enc).toBeNull();
    expect(JSON.parse(row?.public_jwk ?? "null").d).toBeUndefined();
    expect(JSON.stringify(row)).not.toContain(body.private_jwk.d);

    // Never shown again.
    const got = await api(key, "GET", `/v1/signing-keys/${body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({
      id: body.id,
      public_jwk: body.public_jwk,
      created_at: body.created_at,
      revoked_at: null,
    });
  });

  it("a token signed with jose from the returned PEM verifies the way the edge verifies it", async () => {
    const key = await createKey(["*"]);
    const pb = await playbackIdFor(key);
    const created = (await api<CreatedSigningKey>(key, "POST", "/v1/signing-keys")).body;
    const privateKey = await importPKCS8(created.private_key_pem, "ES256");
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: created.id })
      .setSubject(pb)
      .setAudience("v")
      .setExpirationTime("1h")
      .sign(privateKey);
    expect(await edgeVerify(token, pb, key.environmentId, "v")).toMatchObject({ ok: true });
    // And the private JWK signs the same way.
    const fromJwk = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: created.id })
      .setSubject(pb)
      .setAudience("t")
      .setExpirationTime("1h")
      .sign(await importJWK(created.private_jwk, "ES256"));
    expect(await edgeVerify(fromJwk, pb, key.environmentId, "t")).toMatchObject({ ok: true });
    expect(await edgeVerify(fromJwk, pb, key.environmentId, "v")).toEqual({ ok: false, reason: "wrong_audience" });

    // Revocation is seen by the verifier on its next key load.
    expect((await api(key, "DELETE", `/v1/signing-keys/${created.id}`)).status).toBe(204);
    expect(await edgeVerify(token, pb, key.environmentId, "v")).toEqual({ ok: false, reason: "key_revoked" });
  });

  it("lists public parts newest first with a cursor, and revokes idempotently", async () => {
    const key = await createKey(["playback:write"]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api(key, "POST", "/v1/signing-keys")).body.id as string);
    const first = await api<Page<SigningKey>>(key, "GET", "/v1/signing-keys?limit=2");
    expect(first.status).toBe(200);
    const data = first.body.data;
    expect(data.map((k) => k.id)).toEqual([ids[2], ids[1]]);
    for (const k of data) {
      expect(Object.keys(k).sort()).toEqual(["created_at", "id", "public_jwk", "revoked_at"]);
      expect(k.public_jwk).not.toHaveProperty("d");
    }
    const second = await api(key, "GET", `/v1/signing-keys?limit=2&cursor=${first.body.next_cursor}`);
    expect((second.body.data as SigningKey[]).map((k) => k.id)).toEqual([ids[0]]);
    expect(second.body.next_cursor).toBeNull();

    expect((await api(key, "DELETE", `/v1/signing-keys/${ids[0]}`)).status).toBe(204);
    expect((await api(key, "DELETE", `/v1/signing-keys/${ids[0]}`)).status).toBe(204);
    const revoked = await api(key, "GET", `/v1/signing-keys/${ids[0]}`);
    expect(revoked.body.revoked_at).toEqual(expect.any(String));
  });

  it("authorization: no key, wrong scope, another environment", async () => {
    const owner = await createKey(["playback:write"]);
    const created = (await api(owner, "POST", "/v1/signing-keys")).body.id as string;

    const anon = await api(null, "POST", "/v1/signing-keys");
    expect(anon.status).toBe(401);
    expect(anon.body.code).toBe("unauthenticated");

    const reader = await createKey(["assets:read", "assets:write"], owner.environmentId);
    for (const [method, path] of [
      ["POST", "/v1/signing-keys"],
      ["GET", "/v1/signing-keys"],
      ["GET", `/v1/signing-keys/${created}`],
      ["DELETE", `/v1/signing-keys/${created}`],
    ]) {
      const res = await api(reader, method, path);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.code).toBe("forbidden");
    }

    const stranger = await createKey(["*"]);
    expect((await api(stranger, "GET", `/v1/signing-keys/${created}`)).status).toBe(404);
    expect((await api(stranger, "DELETE", `/v1/signing-keys/${created}`)).status).toBe(404);
    const list = await api(stranger, "GET", "/v1/signing-keys");
    expect(list.body.data).toEqual([]);
    const row = await env.DB.prepare("select revoked_at from signing_keys where id = ?")
      .bind(created)
      .first<Pick<SigningKeyRow, "revoked_at">>();
    expect(row?.revoked_at).toBeNull();

    const malformed = await api(owner, "GET", "/v1/signing-keys/key_123");
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe("validation_failed");
  });
});

describe("POST /v1/playback-ids/{playback_id}/tokens", () => {
  it("mints video, thumbnail and storyboard tokens with the environment's system key", async () => {
    const key = await createKey(["*"]);
    const pb = await playbackIdFor(key);
    const res = await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, {
      expires_in: 600,
      thumbnail: { time: 12.5, width: 640 },
    });
    expect(res.status).toBe(200);
    const body = res.body as PlaybackTokens;
    expect(body.playback_id).toBe(pb);
    const expSec = Date.parse(body.expires_at) / 1000;
    expect(expSec - Date.now() / 1000).toBeGreaterThan(590);
    expect(expSec - Date.now() / 1000).toBeLessThan(610);

    expect(await edgeVerify(body.video, pb, key.environmentId, "v")).toMatchObject({ ok: true });
    expect(await edgeVerify(body.storyboard, pb, key.environmentId, "s")).toMatchObject({ ok: true });
    const thumb = await edgeVerify(body.thumbnail, pb, key.environmentId, "t");
    expect(thumb).toMatchObject({ ok: true, claims: { sub: pb, aud: "t", time: 12.5, width: 640 } });
    expect(await edgeVerify(body.video, pb, key.environmentId, "t")).toEqual({ ok: false, reason: "wrong_audience" });

    expect(body.urls.master).toBe(`${env.EDGE_PUBLIC_URL}/${pb}.m3u8?token=${body.video}`);
    expect(body.urls.embed).toBe(`${env.EDGE_PUBLIC_URL}/embed/${pb}?token=${body.video}`);

    // The system key: sealed private half, hidden from the signing-key list, reused by later mints.
    const kid = decodeProtectedHeader(body.video).kid as string;
    const row = await env.DB.prepare("select * from signing_keys where id = ?").bind(kid).first<SigningKeyRow>();
    expect(row).toMatchObject({ kind: "system", environment_id: key.environmentId });
    expect(row?.private_jwk_enc).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(JSON.parse(row?.public_jwk ?? "null").d).toBeUndefined();
    expect((await api<Page<SigningKey>>(key, "GET", "/v1/signing-keys")).body.data.map((k) => k.id)).not.toContain(kid);
    expect((await api(key, "GET", `/v1/signing-keys/${kid}`)).status).toBe(404);
    const again = await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, {});
    expect(decodeProtectedHeader(again.body.video as string).kid).toBe(kid);
    // Default lifetime is one hour.
    const { payload } = await jwtVerify(
      again.body.video as string,
      await importJWK(JSON.parse(row?.public_jwk ?? "null"), "ES256"),
    );
    expect((payload.exp as number) - (payload.iat as number)).toBe(3600);
  });

  it("works without a body", async () => {
    const key = await createKey(["playback:write", "assets:write"]);
    const pb = await playbackIdFor(key);
    const res = await api(key, "POST", `/v1/playback-ids/${pb}/tokens`);
    expect(res.status).toBe(200);
    expect(await edgeVerify(res.body.video as string, pb, key.environmentId, "v")).toMatchObject({ ok: true });
  });

  it("refuses bad input, unknown, deleted and other environments' playback IDs", async () => {
    const key = await createKey(["*"]);
    const pb = await playbackIdFor(key);
    const tooLong = await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, { expires_in: 8 * 86400 });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.code).toBe("validation_failed");
    expect((tooLong.body.errors as Problem["errors"])[0].location).toBe("json.expires_in");
    const unknownField = await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, { expires: 60 });
    expect(unknownField.body.code).toBe("validation_failed");
    const badFit = await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, { thumbnail: { fit_mode: "zoom" } });
    expect(badFit.body.code).toBe("validation_failed");

    const missing = await api(key, "POST", "/v1/playback-ids/pb_00000000000000000000000000/tokens", {});
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("not_found");

    const stranger = await createKey(["*"]);
    expect((await api(stranger, "POST", `/v1/playback-ids/${pb}/tokens`, {})).status).toBe(404);

    const noScope = await createKey(["assets:read"], key.environmentId);
    const forbidden = await api(noScope, "POST", `/v1/playback-ids/${pb}/tokens`, {});
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe("forbidden");
    expect((await api(null, "POST", `/v1/playback-ids/${pb}/tokens`, {})).status).toBe(401);

    await env.DB.prepare("update playback_ids set deleted_at = ? where id = ?")
      .bind(new Date().toISOString(), pb)
      .run();
    expect((await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, {})).status).toBe(404);
  });

  it("keeps system keys per environment: another environment's tokens are refused", async () => {
    const a = await createKey(["*"]);
    const b = await createKey(["*"]);
    const pbA = await playbackIdFor(a);
    const pbB = await playbackIdFor(b);
    const tokB = (await api(b, "POST", `/v1/playback-ids/${pbB}/tokens`, {})).body.video as string;
    const tokA = (await api(a, "POST", `/v1/playback-ids/${pbA}/tokens`, {})).body.video as string;
    expect(decodeProtectedHeader(tokA).kid).not.toBe(decodeProtectedHeader(tokB).kid);
    // B's token, presented for a playback ID in A (even re-targeted), fails on the environment check.
    expect(await edgeVerify(tokB, pbA, a.environmentId, "v")).toEqual({ ok: false, reason: "wrong_environment" });
  });
});
