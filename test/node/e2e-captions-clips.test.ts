/**
 * Captions and instant clips for real: a generated clip goes through the local stack, an SRT track is
 * added, and hls.js in headless Chromium lists the subtitle track and shows each cue at its time (the
 * video.textTracks API); an instant clip of the same asset plays from its first segment to its end and
 * stops (ended, duration ≈ the trimmed playlist's).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TextTrack } from "../support/api-types";
import { launchChromium, servePlayerPage } from "./support/browser";
import { type E2E, startE2E, uploadFile } from "./support/e2e";
import { makeClip } from "./support/media";

const SRT = ["1", "00:00:02,000 --> 00:00:04,000", "Alpha", "", "2", "00:00:07,500 --> 00:00:09,500", "Bravo", ""].join(
  "\r\n",
);

/** Plays `src` to its end, sampling currentTime and the active cues of every text track every 100 ms. */
const PAGE = `<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/hls.js"></script>
<script>
window.run = (src) => new Promise((resolve) => {
  const v = document.getElementById("v");
  const out = { subtitleTracks: [], samples: [], ended: false, duration: 0, errors: [] };
  const hls = new Hls({ enableWorker: false });
  hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, (_e, d) => {
    out.subtitleTracks = d.subtitleTracks.map((t) => ({ name: t.name, lang: t.lang, default: t.default, characteristics: t.attrs.CHARACTERISTICS || null }));
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => { hls.subtitleDisplay = true; v.play().catch((e) => out.errors.push(String(e))); });
  hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) { out.errors.push(d.type + ":" + d.details); resolve(out); } });
  const timer = setInterval(() => {
    const cues = [];
    for (const t of v.textTracks) if (t.activeCues) for (const c of t.activeCues) cues.push(c.text);
    out.samples.push({ t: v.currentTime, cues });
  }, 100);
  v.addEventListener("ended", () => { clearInterval(timer); out.ended = true; out.duration = v.duration; resolve(out); });
  hls.loadSource(src);
  hls.attachMedia(v);
});
</script></body></html>`;

interface RunResult {
  subtitleTracks: { name: string; lang: string; default: boolean; characteristics: string | null }[];
  samples: { t: number; cues: string[] }[];
  ended: boolean;
  duration: number;
  errors: string[];
  timedOut?: boolean;
}

describe("captions and instant clips in hls.js", () => {
  let e: E2E;
  let playbackId: string;
  let assetId: string;
  let trackId: string;
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-captions-"));

  beforeAll(async () => {
    e = await startE2E();
    const clip = await makeClip(path.join(work, "clip.mp4"), { width: 640, height: 360, seconds: 12, fps: 30 });
    const up = await uploadFile(e, new Uint8Array(readFileSync(clip)));
    expect(up.putStatus).toBe(200);
    assetId = up.assetId as string;
    const asset = await e.waitForAsset(
      assetId,
      (a) => a.renditions_status === "complete" || a.status === "errored",
      300_000,
    );
    expect(asset.status).toBe("ready");
    playbackId = asset.playback_ids[0].id;
    const track = await e.api<TextTrack>("POST", `/v1/assets/${assetId}/tracks`, {
      type: "text",
      text_type: "captions",
      language_code: "en",
      default: true,
      content: SRT,
    });
    expect(track.status).toBe(201);
    expect(track.body.status).toBe("ready");
    trackId = track.body.id;
    // The stack, ffmpeg and the ladder share two cores with other test runs: generous.
  }, 420_000);

  afterAll(async () => {
    await e?.close();
  });

  async function run(src: string): Promise<RunResult> {
    const page$ = await servePlayerPage({ "/run": PAGE });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${page$.origin}/run`);
      return (await page.evaluate(
        ([s]) =>
          Promise.race([
            (globalThis as unknown as { run(src: string): Promise<RunResult> }).run(s),
            new Promise((r) => setTimeout(() => r({ samples: [], errors: [], timedOut: true }), 90_000)),
          ]),
        [src] as const,
      )) as RunResult;
    } finally {
      await browser.close();
      await page$.close();
    }
  }

  /** Every sample well inside [from, to] shows `text`; every sample well outside all cues shows nothing. */
  function cuesAt(r: RunResult, from: number, to: number) {
    return r.samples.filter((s) => s.t > from + 0.3 && s.t < to - 0.3);
  }

  it("lists the captions track and shows each cue at its time", async () => {
    const r = await run(`${e.stack.edgeUrl}/${playbackId}.m3u8`);
    expect(r.errors).toEqual([]);
    expect(r.ended).toBe(true);
    expect(r.subtitleTracks).toEqual([
      {
        name: "English",
        lang: "en",
        default: true,
        characteristics:
          "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound",
      },
    ]);
    const alpha = cuesAt(r, 2, 4);
    const bravo = cuesAt(r, 7.5, 9.5);
    const none = [...cuesAt(r, 0, 2), ...cuesAt(r, 4, 7.5), ...cuesAt(r, 9.5, 12)];
    expect(alpha.length).toBeGreaterThan(5);
    expect(bravo.length).toBeGreaterThan(5);
    expect(
      alpha.every((s) => s.cues.join("|") === "Alpha"),
      JSON.stringify(alpha),
    ).toBe(true);
    expect(
      bravo.every((s) => s.cues.join("|") === "Bravo"),
      JSON.stringify(bravo),
    ).toBe(true);
    expect(
      none.every((s) => s.cues.length === 0),
      JSON.stringify(none),
    ).toBe(true);
    // The whole file is served too.
    const whole = await fetch(`${e.stack.edgeUrl}/${playbackId}/text/${trackId}.vtt`);
    expect(await whole.text()).toContain("00:00:07.500 --> 00:00:09.500\nBravo");
  });

  it("plays an instant clip from its first segment to its end, and stops; cues land at clip-relative times", async () => {
    const query = "asset_start_time=7&asset_end_time=11";
    const master = await (await fetch(`${e.stack.edgeUrl}/${playbackId}.m3u8?${query}`)).text();
    const variant = master.split("\n").find((l) => l.startsWith("/") && l.includes(".m3u8")) as string;
    const trimmed = await (await fetch(`${e.stack.edgeUrl}${variant}`)).text();
    const extinf = [...trimmed.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
    const full = await (await fetch(`${e.stack.edgeUrl}${variant.split("?")[0]}`)).text();
    const all = [...full.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
    expect(extinf.length).toBeGreaterThan(0);
    expect(extinf.length).toBeLessThan(all.length);
    // Where the clip starts on the asset's timeline: the start of the first kept segment.
    const uris = (t: string) => t.split("\n").filter((l) => l.startsWith("/") && !l.includes(".m3u8"));
    const firstKept = uris(full).indexOf(uris(trimmed)[0]);
    expect(firstKept).toBeGreaterThan(0);
    const clipStart = all.slice(0, firstKept).reduce((a, b) => a + b, 0);
    expect(clipStart).toBeLessThanOrEqual(7);
    const expected = extinf.reduce((a, b) => a + b, 0);

    const r = await run(`${e.stack.edgeUrl}/${playbackId}.m3u8?${query}`);
    expect(r.errors).toEqual([]);
    expect(r.ended).toBe(true);
    expect(Math.abs(r.duration - expected)).toBeLessThan(0.5);
    expect(r.samples.at(-1)?.t ?? 0).toBeLessThan(expected + 0.5);
    // "Bravo" (7.5–9.5 on the asset) shows at 7.5 − clipStart on the clip.
    const bravo = cuesAt(r, 7.5 - clipStart, 9.5 - clipStart);
    expect(bravo.length).toBeGreaterThan(5);
    expect(
      bravo.every((s) => s.cues.join("|") === "Bravo"),
      JSON.stringify(r.samples),
    ).toBe(true);
  });
});
