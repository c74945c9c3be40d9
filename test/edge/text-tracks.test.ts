/** Subtitles and captions at the edge: the SUBTITLES group in masters, segmented WebVTT, the whole file, tokens. */
import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { newId } from "../../src/lib/ids";
import { normalizeSubtitles, textTrackKey } from "../../src/lib/webvtt";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { type SeededAsset, seedAsset, seedPlaybackId, seedSigningKey, sign } from "./seed";

const EDGE = "https://edge.test";
const get = (path: string, headers: Record<string, string> = {}) => SELF.fetch(`${EDGE}${path}`, { headers });

const SRT =
  "1\n00:00:01,000 --> 00:00:02,000\nFirst\n\n2\n00:00:05,500 --> 00:00:07,000\nSpans the boundary\n\n3\n00:00:08,000 --> 00:00:09,000\nLast\n";

async function seedTrack(
  asset: SeededAsset,
  opts: {
    textType?: "subtitles" | "captions";
    lang?: string;
    name?: string;
    isDefault?: boolean;
    status?: string;
  } = {},
) {
  const id = newId("track");
  const r = normalizeSubtitles(new TextEncoder().encode(SRT));
  if (!r.ok) throw new Error("bad fixture");
  await env.MEDIA.put(textTrackKey(asset.assetId, id), r.vtt);
  await env.DB.prepare(
    `insert into asset_tracks (id, environment_id, asset_id, type, text_type, status, language_code, name, closed_captions, is_default, source_kind)
     values (?, ?, ?, 'text', ?, ?, ?, ?, ?, ?, 'inline')`,
  )
    .bind(
      id,
      asset.environmentId,
      asset.assetId,
      opts.textType ?? "subtitles",
      opts.status ?? "ready",
      opts.lang ?? "en",
      opts.name ?? "English",
      opts.textType === "captions" ? 1 : 0,
      opts.isDefault ? 1 : 0,
    )
    .run();
  return id;
}

beforeEach(() => clearEdgeCaches());

describe("text tracks at the edge", () => {
  it("a master without ready tracks is unchanged; with them it lists a SUBTITLES group on every variant", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset);
    await seedTrack(asset, { status: "preparing" });
    const plain = await (await get(`/${pb}.m3u8`)).text();
    expect(plain).not.toContain("SUBTITLES");

    clearEdgeCaches();
    const en = await seedTrack(asset, { isDefault: true });
    const fr = await seedTrack(asset, { textType: "captions", lang: "fr-CA", name: 'Fr "CC"' });
    const master = await (await get(`/${pb}.m3u8`)).text();
    const lines = master.split("\n");
    const media = lines.filter((l) => l.startsWith("#EXT-X-MEDIA:TYPE=SUBTITLES"));
    expect(media).toEqual([
      `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="/${pb}/text/${en}.m3u8"`,
      `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Fr 'CC'",LANGUAGE="fr-CA",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound",URI="/${pb}/text/${fr}.m3u8"`,
    ]);
    // Before the first variant, and every variant names the group.
    expect(lines.findIndex((l) => l.startsWith("#EXT-X-MEDIA:TYPE=SUBTITLES"))).toBeLessThan(
      lines.findIndex((l) => l.startsWith("#EXT-X-STREAM-INF")),
    );
    const variants = lines.filter((l) => l.startsWith("#EXT-X-STREAM-INF"));
    expect(variants).toHaveLength(2);
    for (const v of variants) expect(v.endsWith(',SUBTITLES="subs"')).toBe(true);
  });

  it("serves the subtitle playlist on the video's segment boundaries, the segments, and the whole file", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset);
    const id = await seedTrack(asset);
    const playlist = await get(`/${pb}/text/${id}.m3u8`);
    expect(playlist.status).toBe(200);
    expect(playlist.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    const p = await playlist.text();
    // The seeded video has 6 s + 4 s segments and TARGETDURATION 6.
    expect(p).toContain("#EXT-X-TARGETDURATION:6\n");
    expect(p).toContain(
      `#EXTINF:6.000000,\n/${pb}/text/${id}/0.vtt\n#EXTINF:4.000000,\n/${pb}/text/${id}/1.vtt\n#EXT-X-ENDLIST`,
    );

    const s0 = await get(`/${pb}/text/${id}/0.vtt`);
    expect(s0.headers.get("content-type")).toBe("text/vtt; charset=utf-8");
    const t0 = await s0.text();
    expect(t0.startsWith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n")).toBe(true);
    expect(t0).toContain("c1\n00:00:01.000 --> 00:00:02.000\nFirst");
    expect(t0).toContain("c2\n00:00:05.500 --> 00:00:07.000\nSpans the boundary");
    expect(t0).not.toContain("Last");
    const t1 = await (await get(`/${pb}/text/${id}/1.vtt`)).text();
    expect(t1).toContain("c2\n00:00:05.500");
    expect(t1).toContain("c3\n00:00:08.000 --> 00:00:09.000\nLast");
    expect(t1).not.toContain("First");
    expect((await get(`/${pb}/text/${id}/2.vtt`)).status).toBe(404);

    const whole = await get(`/${pb}/text/${id}.vtt`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("access-control-allow-origin")).toBe("*");
    expect(await whole.text()).toBe(
      "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nFirst\n\n00:00:05.500 --> 00:00:07.000\nSpans the boundary\n\n00:00:08.000 --> 00:00:09.000\nLast\n",
    );
  });

  it("unknown, not-ready, other-asset and malformed track IDs are 404 with a reason", async () => {
    const asset = await seedAsset();
    const other = await seedAsset();
    const pb = await seedPlaybackId(asset);
    const preparing = await seedTrack(asset, { status: "preparing" });
    const foreign = await seedTrack(other);
    for (const path of [
      `/${pb}/text/${preparing}.vtt`,
      `/${pb}/text/${foreign}.m3u8`,
      `/${pb}/text/${foreign}/0.vtt`,
      `/${pb}/text/tr_${"0".repeat(26)}.vtt`,
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { reason: string }).reason, path).toBe("unknown_track");
    }
    expect((await get(`/${pb}/text/nope.vtt`)).status).toBe(404);
    expect((await get(`/${pb}/text/${foreign}/x.vtt`)).status).toBe(404);
  });

  it("signed playback: aud v required, token carried into the group URI and the segments", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset, { policy: "signed" });
    const key = await seedSigningKey(asset.environmentId);
    const id = await seedTrack(asset);
    const v = await sign(key, pb, "v");
    const master = await (await get(`/${pb}.m3u8?token=${v}`)).text();
    expect(master).toContain(`URI="/${pb}/text/${id}.m3u8?token=${v}"`);
    const playlist = await get(`/${pb}/text/${id}.m3u8?token=${v}`);
    expect(playlist.headers.get("cache-control")).toBe("private, max-age=300");
    expect(await playlist.text()).toContain(`/${pb}/text/${id}/0.vtt?token=${v}`);
    expect((await get(`/${pb}/text/${id}/0.vtt?token=${v}`)).status).toBe(200);
    expect((await get(`/${pb}/text/${id}.vtt?token=${v}`)).status).toBe(200);
    for (const path of [`/${pb}/text/${id}.vtt`, `/${pb}/text/${id}.m3u8`, `/${pb}/text/${id}/0.vtt`]) {
      const res = await get(path);
      expect(res.status, path).toBe(401);
      expect(((await res.json()) as { reason: string }).reason).toBe("token_required");
    }
    const thumb = await sign(key, pb, "t");
    const wrong = await get(`/${pb}/text/${id}.vtt?token=${thumb}`);
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { reason: string }).reason).toBe("wrong_audience");
  });

  it("the allow-list applies to text tracks like to video", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset, { allowedOrigins: ["example.com"], allowNoReferrer: false });
    const id = await seedTrack(asset);
    expect((await get(`/${pb}/text/${id}.vtt`, { origin: "https://evil.test" })).status).toBe(403);
    const ok = await get(`/${pb}/text/${id}.vtt`, { origin: "https://example.com" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://example.com");
  });
});
