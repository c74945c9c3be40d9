/** Signed playback at the edge: token propagation, and every bad token from issue 4 refused with a reason. */
import { env, SELF } from "cloudflare:test";
import { base64url, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/ids";
import { signPlaybackToken } from "../../src/lib/playback-token";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { SEGMENT, type SeededKey, seedAsset, seedPlaybackId, seedSigningKey, sign } from "./seed";

const EDGE = "https://edge.test";
const get = (path: string, headers: Record<string, string> = {}) => SELF.fetch(`${EDGE}${path}`, { headers });
const text = async (res: Response) => new TextDecoder().decode(await res.arrayBuffer());

async function signedSetup() {
  const asset = await seedAsset();
  const pb = await seedPlaybackId(asset, { policy: "signed" });
  const key = await seedSigningKey(asset.environmentId);
  return { asset, pb, key };
}

async function refused(path: string, status: number, reason: string) {
  const res = await get(path);
  const body = (await res.json()) as Record<string, unknown>;
  expect({ status: res.status, reason: body.reason }).toEqual({ status, reason });
  expect(body.error).toBe(status === 401 ? "unauthorized" : "forbidden");
  expect(typeof body.message).toBe("string");
}

const nowSec = () => Math.floor(Date.now() / 1000);

function rawJwt(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ""): string {
  const enc = (o: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(o)));
  return `${enc(header)}.${enc(payload)}.${signature}`;
}

describe("signed playback", () => {
  it("plays with a jose-signed token and carries it into every child URL", async () => {
    const { pb, key } = await signedSetup();
    const token = await sign(key, pb, "v");
    const master = await get(`/${pb}.m3u8?token=${token}`);
    expect(master.status).toBe(200);
    expect(master.headers.get("cache-control")).toBe("private, max-age=60");
    const m = await text(master);
    expect(m).toContain(`URI="/${pb}/audio/index.m3u8?token=${token}"`);
    expect(m).toContain(`\n/${pb}/v720/index.m3u8?token=${token}\n`);

    const variant = await get(`/${pb}/v720/index.m3u8?token=${token}`);
    expect(variant.status).toBe(200);
    expect(variant.headers.get("cache-control")).toBe("private, max-age=300");
    const v = await text(variant);
    expect(v).toContain(`#EXT-X-MAP:URI="/${pb}/v720/init.mp4?token=${token}"`);
    expect(v).toContain(`\n/${pb}/v720/seg_00001.m4s?token=${token}\n`);

    const seg = await get(`/${pb}/v720/seg_00000.m4s?token=${token}`, { range: "bytes=0-9" });
    expect(seg.status).toBe(206);
    expect(seg.headers.get("cache-control")).toBe("private, max-age=31536000, immutable");
    expect(new Uint8Array(await seg.arrayBuffer())).toEqual(SEGMENT.slice(0, 10));

    // Two different tokens share one cached copy of the segment: the cache key carries no token.
    const first = await get(`/${pb}/v720/seg_00001.m4s?token=${token}`);
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    const other = await sign(key, pb, "v", { expiresIn: 900 });
    const second = await get(`/${pb}/v720/seg_00001.m4s?token=${other}`);
    expect(second.status).toBe(200);
    expect(second.headers.get("x-keyframe-cache")).toBe("HIT");
    expect(second.headers.get("cache-control")).toBe("private, max-age=31536000, immutable");
    expect(new Uint8Array(await second.arrayBuffer())).toEqual(SEGMENT.slice(0, 500));

    // Without the token, every level refuses.
    await refused(`/${pb}.m3u8`, 401, "token_required");
    await refused(`/${pb}/v720/index.m3u8`, 401, "token_required");
    await refused(`/${pb}/v720/seg_00000.m4s`, 401, "token_required");
    await refused(`/${pb}/thumbnail.jpg`, 401, "token_required");
    await refused(`/${pb}/storyboard.vtt`, 401, "token_required");
  });

  it("accepts a token signed from the private JWK alone (any JWT library)", async () => {
    const { pb, key } = await signedSetup();
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: key.kid })
      .setSubject(pb)
      .setAudience("v")
      .setExpirationTime("10m")
      .sign(key.privateKey);
    const res = await get(`/${pb}.m3u8?token=${token}`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });

  it("uses audience t for thumbnails and s for storyboards", async () => {
    const { pb, key } = await signedSetup();
    const t = await sign(key, pb, "t");
    const s = await sign(key, pb, "s");
    const v = await sign(key, pb, "v");
    const poster = await get(`/${pb}/thumbnail.jpg?token=${t}`);
    expect(poster.status).toBe(200);
    await poster.arrayBuffer();
    await refused(`/${pb}/thumbnail.jpg?token=${v}`, 403, "wrong_audience");
    const vtt = await get(`/${pb}/storyboard.vtt?token=${s}`);
    expect(vtt.status).toBe(200);
    expect(await text(vtt)).toContain(`/${pb}/storyboard.jpg?token=${s}#xywh=0,0,160,90`);
    const sprite = await get(`/${pb}/storyboard.jpg?token=${s}`);
    expect(sprite.status).toBe(200);
    await sprite.arrayBuffer();
    await refused(`/${pb}/storyboard.jpg?token=${t}`, 403, "wrong_audience");
    await refused(`/${pb}.m3u8?token=${t}`, 403, "wrong_audience");
  });

  it("honours thumbnail parameters pinned in the token", async () => {
    const { pb, key } = await signedSetup();
    const pinned = await sign(key, pb, "t", { claims: { time: 5 } });
    await refused(`/${pb}/thumbnail.jpg?token=${pinned}&time=9`, 403, "thumbnail_params_mismatch");
    const res = await get(`/${pb}/thumbnail.jpg?token=${pinned}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-keyframe-thumbnail")).toBe("rendered");
    await res.arrayBuffer();
  });

  describe("refuses bad tokens with a precise reason", () => {
    it("expired", async () => {
      const { pb, key } = await signedSetup();
      const token = await signPlaybackToken({
        privateKey: key.privateKey,
        kid: key.kid,
        playbackId: pb,
        audience: "v",
        expiresInSeconds: 60,
        now: Date.now() - 3600_000,
      });
      await refused(`/${pb}.m3u8?token=${token}`, 403, "token_expired");
    });

    it("not yet valid (nbf in the future)", async () => {
      const { pb, key } = await signedSetup();
      const token = await sign(key, pb, "v", { claims: { nbf: nowSec() + 3600 }, expiresIn: 7200 });
      await refused(`/${pb}.m3u8?token=${token}`, 403, "token_not_yet_valid");
    });

    it("lifetime over the maximum", async () => {
      const { pb, key } = await signedSetup();
      const token = await sign(key, pb, "v", { expiresIn: 30 * 86400 });
      await refused(`/${pb}.m3u8?token=${token}`, 403, "lifetime_too_long");
    });

    it("no exp", async () => {
      const { pb, key } = await signedSetup();
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: "ES256", kid: key.kid })
        .setSubject(pb)
        .setAudience("v")
        .sign(key.privateKey);
      await refused(`/${pb}.m3u8?token=${token}`, 403, "exp_required");
    });

    it("wrong audience", async () => {
      const { pb, key } = await signedSetup();
      await refused(`/${pb}.m3u8?token=${await sign(key, pb, "d")}`, 403, "wrong_audience");
    });

    it("wrong sub (a token for another playback ID)", async () => {
      const { asset, pb, key } = await signedSetup();
      const other = await seedPlaybackId(asset, { policy: "signed" });
      await refused(`/${pb}.m3u8?token=${await sign(key, other, "v")}`, 403, "wrong_subject");
    });

    it("unknown kid", async () => {
      const { pb, key } = await signedSetup();
      const ghost: SeededKey = { ...key, kid: newId("signingKey") };
      await refused(`/${pb}.m3u8?token=${await sign(ghost, pb, "v")}`, 403, "unknown_kid");
    });

    it("revoked key", async () => {
      const asset = await seedAsset();
      const pb = await seedPlaybackId(asset, { policy: "signed" });
      const key = await seedSigningKey(asset.environmentId, { revoked: true });
      await refused(`/${pb}.m3u8?token=${await sign(key, pb, "v")}`, 403, "key_revoked");
    });

    it("a key revoked after use stops working once the key cache turns over (≤ 30 s)", async () => {
      const { pb, key } = await signedSetup();
      const token = await sign(key, pb, "v");
      expect((await get(`/${pb}/v720/init.mp4?token=${token}`)).status).toBe(200);
      await env.DB.prepare("update signing_keys set revoked_at = ? where id = ?")
        .bind(new Date().toISOString(), key.kid)
        .run();
      clearEdgeCaches(); // stands in for the TTL expiring
      await refused(`/${pb}/v720/init.mp4?token=${token}`, 403, "key_revoked");
    });

    it("alg none", async () => {
      const { pb, key } = await signedSetup();
      const token = rawJwt({ alg: "none", kid: key.kid }, { sub: pb, aud: "v", exp: nowSec() + 600 });
      await refused(`/${pb}.m3u8?token=${token}`, 403, "alg_not_allowed");
    });

    it("HS256 signed with the public key as the secret", async () => {
      const { pb, key } = await signedSetup();
      const secret = new TextEncoder().encode(JSON.stringify(key.publicJwk));
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: "HS256", kid: key.kid })
        .setSubject(pb)
        .setAudience("v")
        .setExpirationTime("10m")
        .sign(secret);
      await refused(`/${pb}.m3u8?token=${token}`, 403, "alg_not_allowed");
    });

    it("tampered payload", async () => {
      const { asset, pb, key } = await signedSetup();
      const other = await seedPlaybackId(asset, { policy: "signed" });
      const [h, , s] = (await sign(key, other, "v")).split(".");
      const forged = `${h}.${base64url.encode(JSON.stringify({ sub: pb, aud: "v", exp: nowSec() + 600 }))}.${s}`;
      await refused(`/${pb}.m3u8?token=${forged}`, 403, "bad_signature");
    });

    it("a key from another environment", async () => {
      const { pb } = await signedSetup();
      const foreign = await seedAsset();
      const foreignKey = await seedSigningKey(foreign.environmentId);
      await refused(`/${pb}.m3u8?token=${await sign(foreignKey, pb, "v")}`, 403, "wrong_environment");
    });

    it("oversized", async () => {
      const { pb, key } = await signedSetup();
      const token = await sign(key, pb, "v", { claims: { pad: "x".repeat(5000) } });
      await refused(`/${pb}.m3u8?token=${token}`, 403, "token_too_large");
    });

    it("malformed", async () => {
      const { pb } = await signedSetup();
      await refused(`/${pb}.m3u8?token=not-a-jwt`, 403, "token_malformed");
      await refused(`/${pb}.m3u8?token=a.b.c`, 403, "token_malformed");
      const noKid = rawJwt({ alg: "ES256" }, { sub: pb, aud: "v", exp: nowSec() + 600 }, "sig");
      await refused(`/${pb}.m3u8?token=${noKid}`, 403, "kid_missing");
    });

    it("bad tokens on segments too", async () => {
      const { pb, key } = await signedSetup();
      await refused(`/${pb}/v720/seg_00000.m4s?token=${await sign(key, pb, "t")}`, 403, "wrong_audience");
    });
  });
});
