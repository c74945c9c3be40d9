/** Chapters at the edge: `/{pid}/chapters.vtt` (aud v), escaping, the last chapter to the end, the embed list. */
import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { parseSubtitles } from "../../src/lib/webvtt";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { type SeededAsset, seedAsset, seedPlaybackId, seedSigningKey, sign } from "./seed";

const EDGE = "https://edge.test";
const get = (path: string) => SELF.fetch(`${EDGE}${path}`);

async function setChapters(asset: SeededAsset, chapters: unknown, durationMs = 10_000) {
  await env.DB.prepare("update assets set chapters = ?, duration_ms = ? where id = ?")
    .bind(chapters === null ? null : JSON.stringify(chapters), durationMs, asset.assetId)
    .run();
  clearEdgeCaches();
}

beforeEach(() => clearEdgeCaches());

describe("chapters at the edge", () => {
  it("serves the chapters as WebVTT, each to the next start and the last to the end, titles escaped", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset);
    await setChapters(asset, [
      { start_time: 0, title: "Intro" },
      { start_time: 4.25, title: "Q&A <live>" },
    ]);
    const res = await get(`/${pb}/chapters.vtt`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/vtt; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=30");
    const text = await res.text();
    expect(text).toBe(
      "WEBVTT\n\nchapter-1\n00:00:00.000 --> 00:00:04.250\nIntro\n\nchapter-2\n00:00:04.250 --> 00:00:10.000\nQ&amp;A &lt;live&gt;\n",
    );
    // Our own WebVTT parser (the one subtitle uploads go through) reads it back.
    const parsed = parseSubtitles(text);
    expect(parsed.ok && parsed.value.cues.map((c) => [c.start, c.end])).toEqual([
      [0, 4.25],
      [4.25, 10],
    ]);

    const embed = await (await get(`/embed/${pb}`)).text();
    expect(embed).toContain(`<track kind="chapters" default srclang="en" label="Chapters" src="/${pb}/chapters.vtt">`);
    expect(embed).toContain("<summary>Chapters (2)</summary>");
    expect(embed).toContain('data-start="4.25" data-end="10">0:04 Q&#38;A &#60;live&#62;</button>');
  });

  it("404s without chapters, and the embed page shows no list", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset);
    const res = await get(`/${pb}/chapters.vtt`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { reason: string }).reason).toBe("no_chapters");
    const embed = await (await get(`/embed/${pb}`)).text();
    expect(embed).not.toContain('id="kf-chapters"');
    expect(embed).not.toContain('kind="chapters"');
    await setChapters(asset, []);
    expect((await get(`/${pb}/chapters.vtt`)).status).toBe(404);
  });

  it("signed playback: needs a token with aud v, which the embed carries into the chapters URL", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset, { policy: "signed" });
    const key = await seedSigningKey(asset.environmentId);
    await setChapters(asset, [{ start_time: 1, title: "One" }]);
    expect((await get(`/${pb}/chapters.vtt`)).status).toBe(401);
    expect((await get(`/${pb}/chapters.vtt?token=${await sign(key, pb, "t")}`)).status).toBe(403);
    const v = await sign(key, pb, "v");
    const ok = await get(`/${pb}/chapters.vtt?token=${v}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("private, max-age=30");
    expect(await (await get(`/embed/${pb}?token=${v}`)).text()).toContain(`src="/${pb}/chapters.vtt?token=${v}"`);
  });
});
