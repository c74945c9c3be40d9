/** Origin/referrer allow-lists (exact hosts, *.wildcards, no-referrer) and the embed player page. */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { seedAsset, seedPlaybackId, seedSigningKey, sign } from "./seed";

const EDGE = "https://edge.test";
const get = (path: string, headers: Record<string, string> = {}) => SELF.fetch(`${EDGE}${path}`, { headers });
const text = async (res: Response) => new TextDecoder().decode(await res.arrayBuffer());

async function restricted(allowNoReferrer: boolean) {
  const asset = await seedAsset();
  return seedPlaybackId(asset, { allowedOrigins: ["example.com", "*.partner.tv", "localhost:5173"], allowNoReferrer });
}

async function status(path: string, headers: Record<string, string> = {}) {
  const res = await get(path, headers);
  const body = res.headers.get("content-type")?.includes("json") ? ((await res.json()) as { reason?: string }) : null;
  if (!body) await res.arrayBuffer();
  return {
    status: res.status,
    reason: body?.reason,
    acao: res.headers.get("access-control-allow-origin"),
    vary: res.headers.get("vary"),
  };
}

describe("origin allow-list", () => {
  it("allows listed exact hosts and echoes the origin in CORS", async () => {
    const pb = await restricted(false);
    const r = await status(`/${pb}.m3u8`, { origin: "https://example.com" });
    expect(r).toMatchObject({ status: 200, acao: "https://example.com" });
    expect(r.vary).toContain("Origin");
    expect(await status(`/${pb}.m3u8`, { origin: "http://localhost:5173" })).toMatchObject({ status: 200 });
    expect(await status(`/${pb}.m3u8`, { origin: "http://localhost:8080" })).toMatchObject({
      status: 403,
      reason: "origin_not_allowed",
    });
  });

  it("matches *.wildcards for subdomains only, not the apex or look-alikes", async () => {
    const pb = await restricted(false);
    expect(await status(`/${pb}.m3u8`, { origin: "https://a.partner.tv" })).toMatchObject({ status: 200 });
    expect(await status(`/${pb}.m3u8`, { origin: "https://x.y.partner.tv" })).toMatchObject({ status: 200 });
    expect(await status(`/${pb}.m3u8`, { origin: "https://partner.tv" })).toMatchObject({ status: 403 });
    expect(await status(`/${pb}.m3u8`, { origin: "https://evilpartner.tv" })).toMatchObject({ status: 403 });
    expect(await status(`/${pb}.m3u8`, { origin: "https://www.example.com" })).toMatchObject({ status: 403 });
  });

  it("refuses a disallowed origin on every playback URL, with no CORS grant", async () => {
    const pb = await restricted(true);
    for (const path of [
      `/${pb}.m3u8`,
      `/${pb}/v720/index.m3u8`,
      `/${pb}/v720/seg_00000.m4s`,
      `/${pb}/thumbnail.jpg`,
      `/${pb}/storyboard.vtt`,
    ]) {
      const r = await status(path, { origin: "https://evil.example.net" });
      expect(r, path).toMatchObject({ status: 403, reason: "origin_not_allowed", acao: null });
    }
  });

  it("falls back to the Referer when there is no Origin", async () => {
    const pb = await restricted(false);
    expect(await status(`/${pb}/v720/seg_00000.m4s`, { referer: "https://example.com/watch?v=1" })).toMatchObject({
      status: 200,
    });
    expect(await status(`/${pb}/v720/seg_00000.m4s`, { referer: "https://evil.example.net/" })).toMatchObject({
      status: 403,
      reason: "referrer_not_allowed",
    });
  });

  it("no referrer: refused unless allow_no_referrer", async () => {
    expect(await status(`/${await restricted(false)}.m3u8`)).toMatchObject({
      status: 403,
      reason: "referrer_required",
    });
    expect(await status(`/${await restricted(true)}.m3u8`)).toMatchObject({ status: 200 });
  });

  it("combines with signed tokens: both must pass", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset, {
      policy: "signed",
      allowedOrigins: ["example.com"],
      allowNoReferrer: false,
    });
    const key = await seedSigningKey(asset.environmentId);
    const token = await sign(key, pb, "v");
    expect(await status(`/${pb}.m3u8?token=${token}`, { origin: "https://example.com" })).toMatchObject({
      status: 200,
    });
    expect(await status(`/${pb}.m3u8?token=${token}`, { origin: "https://evil.test" })).toMatchObject({
      status: 403,
      reason: "origin_not_allowed",
    });
    expect(await status(`/${pb}.m3u8`, { origin: "https://example.com" })).toMatchObject({ status: 401 });
  });
});

describe("embed page", () => {
  it("serves a player page with hls.js from the edge and frame-ancestors * when unrestricted", async () => {
    const pb = await seedPlaybackId(await seedAsset());
    const res = await get(`/embed/${pb}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const csp = res.headers.get("content-security-policy") as string;
    expect(csp).toContain("frame-ancestors *");
    expect(csp).toContain("script-src 'self'");
    const html = await text(res);
    expect(html).toContain(`data-src="/${pb}.m3u8"`);
    expect(html).toContain(`src="/_keyframe/hls.min.js"`);
    expect(html).toContain(`poster="/${pb}/thumbnail.jpg"`);

    const hls = await get("/_keyframe/hls.min.js");
    expect(hls.status).toBe(200);
    expect(hls.headers.get("content-type")).toContain("javascript");
    const src = await text(hls);
    expect(src.length).toBeGreaterThan(100_000);
    expect(src).toContain("Hls");
    const js = await get("/_keyframe/embed.js");
    expect(await text(js)).toContain("loadSource");
  });

  it("limits frame-ancestors to the allow-list and refuses a disallowed embedding site readably", async () => {
    const pb = await seedPlaybackId(await seedAsset(), {
      allowedOrigins: ["example.com", "*.partner.tv"],
      allowNoReferrer: false,
    });
    const ok = await get(`/embed/${pb}`, { referer: "https://a.partner.tv/post/1" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-security-policy")).toContain("frame-ancestors 'self' example.com:* *.partner.tv:*");
    await ok.arrayBuffer();

    const evil = await get(`/embed/${pb}`, { referer: "https://evil.test/" });
    expect(evil.status).toBe(403);
    expect(evil.headers.get("content-security-policy")).toContain(
      "frame-ancestors 'self' example.com:* *.partner.tv:*",
    );
    const html = await text(evil);
    expect(html).toContain('data-state="refused"');
    expect(html).toContain("Playback is not allowed from this site.");

    // The page's own requests (Referer = the embed page on the edge host) are allowed.
    const fromEmbed = await get(`/${pb}.m3u8`, { referer: `${EDGE}/embed/${pb}` });
    expect(fromEmbed.status).toBe(200);
    await fromEmbed.arrayBuffer();
  });

  it("carries the token for signed playback and explains a missing one", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset, { policy: "signed" });
    const key = await seedSigningKey(asset.environmentId);
    const token = await sign(key, pb, "v");
    const ok = await get(`/embed/${pb}?token=${token}`);
    expect(ok.status).toBe(200);
    const html = await text(ok);
    expect(html).toContain(`data-src="/${pb}.m3u8?token=${token}"`);
    expect(html).not.toContain("poster=");

    const missing = await get(`/embed/${pb}`);
    expect(missing.status).toBe(401);
    expect(await text(missing)).toContain("requires a signed playback token");

    const unknown = await get("/embed/pb_00000000000000000000000000");
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(await text(unknown)).toContain("No video exists");
  });
});
