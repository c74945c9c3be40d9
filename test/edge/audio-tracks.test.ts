/** Dubbed audio tracks at the edge: entries in the master's AUDIO group (or a new one), the track served as a rendition. */
import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { newId } from "../../src/lib/ids";
import { addAudioTracks } from "../../workers/edge/src/audio-tracks";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { SEGMENT, type SeededAsset, seedAsset, seedPlaybackId, VARIANT } from "./seed";

const EDGE = "https://edge.test";
const get = (path: string) => SELF.fetch(`${EDGE}${path}`);

async function seedDub(
  asset: SeededAsset,
  opts: { lang?: string; name?: string; isDefault?: boolean; status?: string; runId?: string; deleted?: boolean } = {},
) {
  const id = newId("track");
  const runId = opts.runId ?? asset.runId;
  const prefix = `assets/${asset.assetId}/runs/${runId}/${id}/`;
  await env.MEDIA.put(`${prefix}index.m3u8`, VARIANT);
  await env.MEDIA.put(`${prefix}init.mp4`, SEGMENT.slice(0, 100));
  await env.MEDIA.put(`${prefix}seg_00000.m4s`, SEGMENT);
  await env.DB.prepare(
    `insert into asset_tracks (id, environment_id, asset_id, type, text_type, status, language_code, name, is_default, source_kind, source_url, details, deleted_at)
     values (?, ?, ?, 'audio', null, ?, ?, ?, ?, 'url', 'https://example.com/dub.m4a', ?, ?)`,
  )
    .bind(
      id,
      asset.environmentId,
      asset.assetId,
      opts.status ?? "ready",
      opts.lang ?? "fr",
      opts.name ?? "French",
      opts.isDefault ? 1 : 0,
      JSON.stringify({ run_id: runId, duration: 10 }),
      opts.deleted ? new Date().toISOString() : null,
    )
    .run();
  return id;
}

beforeEach(() => clearEdgeCaches());

describe("dubbed audio tracks at the edge", () => {
  it("ready tracks of the current run join the master's AUDIO group; others are not listed", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset);
    await seedDub(asset, { status: "preparing" });
    await seedDub(asset, { runId: newId("job") });
    await seedDub(asset, { deleted: true });
    const plain = await (await get(`/${pb}.m3u8`)).text();
    expect(plain.split("\n").filter((l) => l.startsWith("#EXT-X-MEDIA:TYPE=AUDIO"))).toHaveLength(1);

    clearEdgeCaches();
    const fr = await seedDub(asset, { lang: "fr-CA", name: 'Français "dub"' });
    const master = await (await get(`/${pb}.m3u8`)).text();
    const lines = master.split("\n");
    const audio = lines.filter((l) => l.startsWith("#EXT-X-MEDIA:TYPE=AUDIO"));
    expect(audio).toEqual([
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="/${pb}/audio/index.m3u8"`,
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Français 'dub'",LANGUAGE="fr-CA",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="/${pb}/${fr}/index.m3u8"`,
    ]);
    // The variants keep referencing the one group; no subtitles appear for an audio track.
    for (const v of lines.filter((l) => l.startsWith("#EXT-X-STREAM-INF"))) expect(v).toContain('AUDIO="aud"');
    expect(master).not.toContain("SUBTITLES");

    // The track's playlist and segments are served like any rendition of the run.
    const playlist = await get(`/${pb}/${fr}/index.m3u8`);
    expect(playlist.status).toBe(200);
    const text = await playlist.text();
    expect(text).toContain(`/${pb}/${fr}/seg_00000.m4s`);
    expect(text).toContain(`#EXT-X-MAP:URI="/${pb}/${fr}/init.mp4"`);
    const seg = await get(`/${pb}/${fr}/seg_00000.m4s`);
    expect(seg.status).toBe(200);
    expect(new Uint8Array(await seg.arrayBuffer())).toEqual(SEGMENT);
  });

  it("a default dub takes DEFAULT=YES from the source's audio", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset);
    const de = await seedDub(asset, { lang: "de", name: "Deutsch", isDefault: true });
    const audio = (await (await get(`/${pb}.m3u8`)).text())
      .split("\n")
      .filter((l) => l.startsWith("#EXT-X-MEDIA:TYPE=AUDIO"));
    expect(audio).toHaveLength(2);
    expect(audio[0]).toContain("DEFAULT=NO");
    expect(audio[1]).toContain(`DEFAULT=YES`);
    expect(audio[1]).toContain(`URI="/${pb}/${de}/index.m3u8"`);
  });

  it("a muxed master gets a group whose first entry is the muxed audio; a video-only master gets AAC in CODECS", () => {
    const track = { id: "tr_x", languageCode: "es", name: "Español", isDefault: false, runId: "job_1" };
    const muxed = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720
fast/index.m3u8
`;
    expect(addAudioTracks(muxed, [track], (t) => `${t.id}/index.m3u8`)).toBe(`#EXTM3U
#EXT-X-VERSION:7
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Original",DEFAULT=YES,AUTOSELECT=YES
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Español",LANGUAGE="es",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="tr_x/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,AUDIO="audio"
fast/index.m3u8
`);
    const videoOnly = `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.64001f",RESOLUTION=1280x720
v720/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=400000,CODECS="avc1.64001e",RESOLUTION=640x360
v360/index.m3u8
`;
    const out = addAudioTracks(
      videoOnly,
      [track, { ...track, id: "tr_y", name: "Italiano", languageCode: "it" }],
      (t) => `${t.id}/index.m3u8`,
    ).split("\n");
    expect(out.filter((l) => l.startsWith("#EXT-X-MEDIA"))).toEqual([
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Español",LANGUAGE="es",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="tr_x/index.m3u8"`,
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Italiano",LANGUAGE="it",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="tr_y/index.m3u8"`,
    ]);
    expect(out.filter((l) => l.startsWith("#EXT-X-STREAM-INF"))).toEqual([
      `#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,AUDIO="audio"`,
      `#EXT-X-STREAM-INF:BANDWIDTH=400000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,AUDIO="audio"`,
    ]);
    // No tracks: the master is served as stored.
    expect(addAudioTracks(videoOnly, [], () => "x")).toBe(videoOnly);
  });
});
