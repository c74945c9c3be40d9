import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Asset, Event, Page, Track } from "../support/api-types";
import { launchChromium, servePlayerPage } from "./support/browser";
import { type E2E, startE2E } from "./support/e2e";
import { runFfmpeg as ffmpeg, ffprobeJson } from "./support/media";

/** What the player page's run() reports (PAGE below). */
interface DubPlayback {
  errors: string[];
  tracks: { name: string; lang: string; default: boolean }[];
  switching: string;
  selected: string;
  audioFrags: string[];
}

const settled = (a: Asset) => a.status === "errored" || (a.status === "ready" && a.renditions_status === "complete");

/** Sign changes per second of mono s16le PCM over [from, to) seconds: ≈ 2 × the tone's frequency, 0 for silence. */
function crossingsPerSecond(pcm: Buffer, rate: number, from: number, to: number): number {
  let n = 0;
  let prev = 0;
  const start = Math.floor(from * rate);
  const end = Math.min(Math.floor(to * rate), pcm.byteLength / 2);
  for (let i = start; i < end; i++) {
    const s = pcm.readInt16LE(i * 2);
    if (Math.abs(s) < 64) continue;
    if (prev !== 0 && Math.sign(s) !== Math.sign(prev)) n++;
    prev = s;
  }
  return n / (to - from);
}

const PAGE = `<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/hls.js"></script>
<script>
window.run = (src, trackPath) => new Promise((resolve) => {
  const out = { tracks: [], switching: null, selected: null, audioFrags: [], errors: [] };
  const v = document.getElementById("v");
  const hls = new Hls({ enableWorker: false });
  const finish = () => {
    const t = hls.audioTracks[hls.audioTrack];
    out.selected = t ? t.name : null;
    hls.destroy();
    resolve(out);
  };
  // Switching the audio track reloads the media source: play() is interrupted (AbortError) and is called again.
  const play = () => v.play().catch((e) => { if (e.name === "AbortError") setTimeout(play, 200); else out.errors.push(String(e)); });
  hls.on(Hls.Events.MANIFEST_PARSED, play);
  // The audio group's tracks are known once hls.js picked a level; switch to the dub then.
  hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, (_e, d) => {
    out.tracks = d.audioTracks.map((t) => ({ name: t.name, lang: t.lang, default: t.default, url: t.url }));
    const dub = d.audioTracks.findIndex((t) => t.url.includes(trackPath));
    if (dub >= 0 && hls.audioTrack !== dub) hls.audioTrack = dub;
  });
  hls.on(Hls.Events.AUDIO_TRACK_SWITCHING, (_e, d) => { out.switching = d.name; });
  hls.on(Hls.Events.FRAG_LOADED, (_e, d) => {
    if (d.frag.type !== "audio") return;
    out.audioFrags.push(d.frag.url);
    if (d.frag.url.includes(trackPath) && typeof d.frag.sn === "number" && d.frag.sn >= 1) finish();
  });
  hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) { out.errors.push(d.type + ":" + d.details); finish(); } });
  v.addEventListener("ended", finish);
  hls.loadSource(src);
  hls.attachMedia(v);
});
</script></body></html>`;

describe("dubbed audio tracks end to end", () => {
  let e: E2E;
  let files: http.Server;
  let filesUrl = "";
  let assetId = "";
  let pb = "";
  let trackId = "";
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-dub-"));

  beforeAll(async () => {
    e = await startE2E({ ALLOW_PRIVATE_INGEST_URLS: "true" });
    await ffmpeg(
      [
        ...["-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=8", "-f", "lavfi", "-i", "sine=frequency=440:duration=8"],
        ...["-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"],
        "source.mp4",
      ],
      work,
    );
    await ffmpeg(["-f", "lavfi", "-i", "sine=frequency=1000:duration=5", "-ac", "1", "dub.wav"], work);
    await ffmpeg(
      [
        ...["-f", "lavfi", "-i", "color=c=gray:s=160x90:r=10:d=2"],
        ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "silent.mp4"],
      ],
      work,
    );
    files = http.createServer((req, res) => {
      const name = { "/source.mp4": "source.mp4", "/dub.wav": "dub.wav", "/silent.mp4": "silent.mp4" }[req.url ?? ""];
      if (name) {
        const bytes = readFileSync(path.join(work, name));
        res.writeHead(200, { "content-length": bytes.byteLength }).end(bytes);
      } else if (req.url === "/notes.txt") res.writeHead(200).end("these are not the sounds you are looking for");
      else if (req.url === "/to-ftp") res.writeHead(302, { location: "ftp://127.0.0.1/dub.wav" }).end();
      else res.writeHead(404).end("not here");
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;

    const created = await e.api<Asset>("POST", "/v1/assets", {
      input: { url: `${filesUrl}/source.mp4` },
      playback_policy: "public",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const asset = await e.waitForAsset(created.body.id, settled, 300_000);
    expect(asset.status, JSON.stringify(asset.error)).toBe("ready");
    assetId = asset.id;
    pb = asset.playback_ids[0].id;
  }, 420_000);

  afterAll(async () => {
    await new Promise((r) => files?.close(r));
    await e?.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function waitForTrack(id: string, timeoutMs = 120_000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const got = await e.api<Track>("GET", `/v1/assets/${assetId}/tracks/${id}`);
      if (got.body.status !== "preparing") return got.body;
      if (Date.now() > until) throw new Error(`track ${id} still preparing: ${JSON.stringify(got.body)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  it("adds a dub that lasts the asset's duration, is the dub's sound, and joins the master's AUDIO group", async () => {
    const res = await e.api<Track>("POST", `/v1/assets/${assetId}/tracks`, {
      type: "audio",
      url: `${filesUrl}/dub.wav`,
      language_code: "fr",
      name: "Français",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ type: "audio", status: "preparing", language_code: "fr", name: "Français" });
    trackId = res.body.id;
    const track = await waitForTrack(trackId);
    expect(track.status, JSON.stringify(track.error)).toBe("ready");
    const asset = (await e.api<Asset>("GET", `/v1/assets/${assetId}`)).body;
    const duration = asset.duration ?? Number.NaN;
    expect(Math.abs((track.duration ?? Number.NaN) - duration)).toBeLessThan(0.1);
    expect(track.max_channels).toBe(2);
    const events = await e.api<Page<Event>>("GET", `/v1/events?limit=100`);
    const mine = events.body.data
      .filter((ev) => (ev.data as { track_id?: string } | undefined)?.track_id === trackId)
      .map((ev) => ev.type);
    expect(mine.sort()).toEqual(["track.created", "track.ready"]);

    // ffprobe reads the track as the edge serves it.
    const url = `${e.stack.edgeUrl}/${pb}/${trackId}/index.m3u8`;
    const probed = await ffprobeJson(url);
    expect(probed.streams).toHaveLength(1);
    expect(probed.streams[0]).toMatchObject({ codec_name: "aac", profile: "LC", channels: 2, sample_rate: "48000" });
    expect(Math.abs(Number(probed.format.duration) - duration)).toBeLessThan(0.15);
    const playlist = await (await fetch(url)).text();
    expect(playlist).toContain("#EXT-X-ENDLIST");
    expect(playlist).toMatch(/#EXT-X-TARGETDURATION:6\b/);

    // The samples are the dub's 1000 Hz tone from t=0, then silence to the end (not the source's 440 Hz).
    const pcm = await ffmpeg(["-i", url, "-ac", "1", "-ar", "48000", "-f", "s16le", "-"]);
    expect(pcm.byteLength / 2 / 48000).toBeGreaterThan(duration - 0.15);
    const tone = crossingsPerSecond(pcm, 48000, 0.2, 4.8);
    expect(tone).toBeGreaterThan(1900);
    expect(tone).toBeLessThan(2100);
    expect(crossingsPerSecond(pcm, 48000, 5.3, duration - 0.2)).toBe(0);

    const master = await (await fetch(`${e.stack.edgeUrl}/${pb}.m3u8`)).text();
    const audio = master.split("\n").filter((l) => l.startsWith("#EXT-X-MEDIA:TYPE=AUDIO"));
    expect(audio).toHaveLength(2);
    expect(audio[1]).toBe(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Français",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="/${pb}/${trackId}/index.m3u8"`,
    );
  }, 240_000);

  it("hls.js in Chromium lists the dub and, switched to it, loads its fragments from the track's path", async () => {
    expect(trackId).not.toBe("");
    const page$ = await servePlayerPage({ "/run": PAGE });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${page$.origin}/run`);
      const r = (await page.evaluate(
        ([s, t]) =>
          Promise.race([
            (globalThis as unknown as { run(src: string, trackPath: string): Promise<DubPlayback> }).run(s, t),
            new Promise((res) => setTimeout(() => res({ timedOut: true }), 90_000)),
          ]),
        [`${e.stack.edgeUrl}/${pb}.m3u8`, `/${pb}/${trackId}/`] as const,
      )) as DubPlayback & { timedOut?: true };
      expect(r.timedOut).toBeUndefined();
      expect(r.errors).toEqual([]);
      // The source's own audio first, then the dub.
      expect(r.tracks).toHaveLength(2);
      expect(r.tracks[1]).toMatchObject({ name: "Français", lang: "fr", default: false });
      expect(r.switching).toBe("Français");
      expect(r.selected).toBe("Français");
      const fromDub = r.audioFrags.filter((u) => u.includes(`/${pb}/${trackId}/seg_`));
      expect(fromDub.length, JSON.stringify(r.audioFrags)).toBeGreaterThanOrEqual(2);
    } finally {
      await browser.close();
      await page$.close();
    }
  }, 180_000);

  it("errors the track precisely: unreachable, refused by the ingest policy, no audio stream, unreadable", async () => {
    const cases: [string, string][] = [
      [`${filesUrl}/missing.wav`, "audio_fetch_failed"],
      [`${filesUrl}/to-ftp`, "audio_url_forbidden"],
      [`${filesUrl}/silent.mp4`, "audio_no_stream"],
      [`${filesUrl}/notes.txt`, "audio_unreadable"],
    ];
    const ids: string[] = [];
    for (const [url] of cases) {
      const res = await e.api<Track>("POST", `/v1/assets/${assetId}/tracks`, {
        type: "audio",
        url,
        language_code: "de",
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      ids.push(res.body.id);
    }
    for (const [i, [url, code]] of cases.entries()) {
      const track = await waitForTrack(ids[i]);
      expect(track.status, url).toBe("errored");
      expect(track.error?.code, `${url}: ${JSON.stringify(track.error)}`).toBe(code);
    }
    // None of them reaches the master.
    const master = await (await fetch(`${e.stack.edgeUrl}/${pb}.m3u8`)).text();
    for (const id of ids) expect(master).not.toContain(id);
  }, 240_000);

  it("a deleted track leaves the master and its files go", async () => {
    expect(trackId).not.toBe("");
    const del = await e.api("DELETE", `/v1/assets/${assetId}/tracks/${trackId}`);
    expect(del.status).toBe(204);
    const until = Date.now() + 60_000;
    let master = "";
    for (;;) {
      master = await (await fetch(`${e.stack.edgeUrl}/${pb}.m3u8`)).text();
      if (!master.includes(trackId) || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(master).not.toContain(trackId);
    expect(master.split("\n").filter((l) => l.startsWith("#EXT-X-MEDIA:TYPE=AUDIO"))).toHaveLength(1);
    expect((await fetch(`${e.stack.edgeUrl}/${pb}/${trackId}/index.m3u8`)).status).toBe(404);
  }, 120_000);
});
