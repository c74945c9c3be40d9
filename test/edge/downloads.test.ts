/**
 * Progressive downloads at the edge: /{playback_id}/downloads/highest.mp4 as an attachment with
 * Range support, the segments' caching, aud `d` tokens for signed playback IDs (aud `v` refused), the
 * allow-list, and precise 404s while there is no download.
 */
import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { contentDisposition } from "../../workers/edge/src/download";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { type SeededAsset, seedAsset, seedPlaybackId, seedSigningKey, sign } from "./seed";

const EDGE = "https://edge.test";
const FILE = Uint8Array.from({ length: 3000 }, (_, i) => (i * 31) % 256);

function get(path: string, headers: Record<string, string> = {}, method = "GET") {
  return SELF.fetch(`${EDGE}${path}`, { headers, method });
}

async function reason(res: Response) {
  return ((await res.json()) as { reason: string }).reason;
}

async function withDownload(
  asset: SeededAsset,
  opts: { status?: "preparing" | "ready" | "errored"; title?: string | null; mp4Support?: string; file?: string } = {},
) {
  const file = opts.file ?? "highest.mp4";
  const status = opts.status ?? "ready";
  await env.DB.prepare("update assets set mp4_support = ?, static_renditions = ?, title = ? where id = ?")
    .bind(
      opts.mp4Support ?? "standard",
      JSON.stringify({ status, files: status === "ready" ? [{ name: file, ext: file.split(".")[1] }] : [] }),
      opts.title === undefined ? "Keynote" : opts.title,
      asset.assetId,
    )
    .run();
  await env.MEDIA.put(`assets/${asset.assetId}/runs/${asset.runId}/downloads/${file}`, FILE);
}

beforeEach(() => clearEdgeCaches());

describe("public downloads", () => {
  it("serves the file as an attachment with the segments' caching, Range 206 and 416", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset);
    await withDownload(asset);
    const res = await get(`/${pb}/downloads/highest.mp4`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("video/mp4");
    expect(res.headers.get("content-length")).toBe("3000");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="Keynote.mp4"; filename*=UTF-8''Keynote.mp4`,
    );
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(FILE);

    const head = await get(`/${pb}/downloads/highest.mp4`, {}, "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("3000");
    expect(head.headers.get("content-disposition")).toContain("attachment;");

    const part = await get(`/${pb}/downloads/highest.mp4`, { range: "bytes=100-199" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 100-199/3000");
    expect(part.headers.get("content-disposition")).toContain("Keynote.mp4");
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(FILE.slice(100, 200));

    const tail = await get(`/${pb}/downloads/highest.mp4`, { range: "bytes=-10" });
    expect(tail.status).toBe(206);
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(FILE.slice(2990));

    const bad = await get(`/${pb}/downloads/highest.mp4`, { range: "bytes=5000-" });
    expect(bad.status).toBe(416);
    expect(bad.headers.get("content-range")).toBe("bytes */3000");
  });

  it("names the file after the asset ID without a title, and serves audio.m4a for audio-only assets", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset);
    await withDownload(asset, { title: null, file: "audio.m4a" });
    const res = await get(`/${pb}/downloads/audio.m4a`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("audio/mp4");
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="${asset.assetId}.m4a"; filename*=UTF-8''${asset.assetId}.m4a`,
    );
    await res.arrayBuffer();
    expect(await reason(await get(`/${pb}/downloads/highest.mp4`))).toBe("no_such_download");
  });

  it("answers precise 404s while there is no download", async () => {
    const none = await seedAsset();
    const pbNone = await seedPlaybackId(none);
    let res = await get(`/${pbNone}/downloads/highest.mp4`);
    expect([res.status, await reason(res)]).toEqual([404, "downloads_disabled"]);

    const preparing = await seedAsset();
    const pbPreparing = await seedPlaybackId(preparing);
    await withDownload(preparing, { status: "preparing" });
    res = await get(`/${pbPreparing}/downloads/highest.mp4`);
    expect([res.status, await reason(res)]).toEqual([404, "download_not_ready"]);
    expect(res.headers.get("cache-control")).toBe("no-store");

    const errored = await seedAsset();
    const pbErrored = await seedPlaybackId(errored);
    await withDownload(errored, { status: "errored" });
    res = await get(`/${pbErrored}/downloads/highest.mp4`);
    expect([res.status, await reason(res)]).toEqual([404, "download_failed"]);

    const processing = await seedAsset({ status: "processing" });
    const pbProcessing = await seedPlaybackId(processing);
    await withDownload(processing, { status: "preparing" });
    res = await get(`/${pbProcessing}/downloads/highest.mp4`);
    expect([res.status, await reason(res)]).toEqual([404, "asset_not_ready"]);

    const ready = await seedAsset();
    const pbReady = await seedPlaybackId(ready);
    await withDownload(ready);
    res = await get(`/${pbReady}/downloads/other.mp4`);
    expect([res.status, await reason(res)]).toEqual([404, "no_such_download"]);
    res = await get(`/pb_doesnotexist000000/downloads/highest.mp4`);
    expect([res.status, await reason(res)]).toEqual([404, "unknown_playback_id"]);
  });

  it("applies the origin allow-list like every other playback URL", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset, { allowedOrigins: ["app.example.com"], allowNoReferrer: false });
    await withDownload(asset);
    const ok = await get(`/${pb}/downloads/highest.mp4`, { referer: "https://app.example.com/watch" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("private, max-age=31536000, immutable");
    await ok.arrayBuffer();
    const other = await get(`/${pb}/downloads/highest.mp4`, { referer: "https://evil.example.net/" });
    expect([other.status, await reason(other)]).toEqual([403, "referrer_not_allowed"]);
    const none = await get(`/${pb}/downloads/highest.mp4`);
    expect([none.status, await reason(none)]).toEqual([403, "referrer_required"]);
  });
});

describe("signed downloads", () => {
  it("need a token with aud d: v, none and another playback ID's token are refused", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset, { policy: "signed" });
    const otherPb = await seedPlaybackId(asset, { policy: "signed" });
    const key = await seedSigningKey(asset.environmentId);
    await withDownload(asset);

    const d = await sign(key, pb, "d");
    const ok = await get(`/${pb}/downloads/highest.mp4?token=${d}`, { range: "bytes=0-9" });
    expect(ok.status).toBe(206);
    expect(ok.headers.get("cache-control")).toBe("private, max-age=31536000, immutable");
    expect(new Uint8Array(await ok.arrayBuffer())).toEqual(FILE.slice(0, 10));

    const v = await sign(key, pb, "v");
    let res = await get(`/${pb}/downloads/highest.mp4?token=${v}`);
    expect([res.status, await reason(res)]).toEqual([403, "wrong_audience"]);
    res = await get(`/${pb}/downloads/highest.mp4`);
    expect([res.status, await reason(res)]).toEqual([401, "token_required"]);
    const foreign = await sign(key, otherPb, "d");
    res = await get(`/${pb}/downloads/highest.mp4?token=${foreign}`);
    expect([res.status, await reason(res)]).toEqual([403, "wrong_subject"]);
    // A download token does not play the video either.
    res = await get(`/${pb}.m3u8?token=${d}`);
    expect([res.status, await reason(res)]).toEqual([403, "wrong_audience"]);
  });

  it("the token check comes before readiness: a stranger learns nothing about the download", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset, { policy: "signed" });
    await withDownload(asset, { status: "preparing" });
    const res = await get(`/${pb}/downloads/highest.mp4`);
    expect([res.status, await reason(res)]).toEqual([401, "token_required"]);
  });

  it("never serves downloads/ through the aud-v rendition route", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset, { policy: "signed" });
    const key = await seedSigningKey(asset.environmentId);
    await withDownload(asset);
    await env.MEDIA.put(`assets/${asset.assetId}/runs/${asset.runId}/downloads/other.bin`, FILE);
    const v = await sign(key, pb, "v");
    const res = await get(`/${pb}/downloads/other.bin?token=${v}`);
    expect(res.status).toBe(404);
  });
});

describe("contentDisposition", () => {
  it("is RFC 6266 / 5987 safe for any title", () => {
    expect(contentDisposition('Naïve "quote" \\ 50% / a:b', "as_x", "mp4")).toBe(
      `attachment; filename="Na_ve _quote_ _ 50_ _ a_b.mp4"; filename*=UTF-8''Na%C3%AFve%20_quote_%20_%2050%25%20_%20a_b.mp4`,
    );
    expect(contentDisposition("évènement 🎬", "as_x", "mp4")).toBe(
      `attachment; filename="_v_nement _.mp4"; filename*=UTF-8''%C3%A9v%C3%A8nement%20%F0%9F%8E%AC.mp4`,
    );
    expect(contentDisposition("line\r\nbreak\u0000", "as_x", "mp4")).toBe(
      `attachment; filename="linebreak.mp4"; filename*=UTF-8''linebreak.mp4`,
    );
    expect(contentDisposition("  ..hidden  ", "as_x", "mp4")).toContain(`filename="hidden.mp4"`);
    expect(contentDisposition("it's (final)!", "as_x", "mp4")).toBe(
      `attachment; filename="it's (final)!.mp4"; filename*=UTF-8''it%27s%20%28final%29!.mp4`,
    );
    expect(contentDisposition("clip.MP4", "as_x", "mp4")).toContain(`filename="clip.MP4"`);
    expect(contentDisposition("   ", "as_x", "m4a")).toContain(`filename="as_x.m4a"`);
    expect(contentDisposition("x".repeat(500), "as_x", "mp4")).toContain(`filename="${"x".repeat(120)}.mp4"`);
  });
});
