/**
 * A smart-cut clip (transcoder/src/smart-cut.ts) as a player gets it: the clip asset's fast path copies its
 * H.264 into HLS fMP4 as it is, so the stream changes SPS/PPS at each join (the re-encoded edges carry
 * x264's, the copied middle the source's, in band). ffmpeg decodes that (clip.test.ts); this shows that
 * Chromium's decoder does too, through hls.js and MSE: the clip plays from its first frame to its end,
 * every frame decoded, no media or buffer error.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { cutClip } from "../../../transcoder/src/clip";
import { FAST_DIR, runRemux } from "../../../transcoder/src/ffmpeg/remux";
import { playInChromium } from "../support/browser";
import { makeNumberedVideo } from "../support/frame-numbers";
import { ffmpegBin, ffprobeBin, ffprobeJson } from "../support/media";

const work = mkdtempSync(path.join(tmpdir(), "keyframe-smart-cut-play-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Played {
  ended: boolean;
  errors: string[];
  frames: number;
  dropped: number;
  corrupted: number;
  currentTime: number;
  timedOut?: boolean;
}

const PAGE = `<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/hls.js"></script>
<script>
window.result = { ended: false, errors: [], frames: 0, dropped: 0, corrupted: 0, currentTime: 0 };
window.play = (src) => new Promise((resolve) => {
  const v = document.getElementById("v");
  const done = () => {
    const q = v.getVideoPlaybackQuality();
    Object.assign(window.result, { frames: q.totalVideoFrames, dropped: q.droppedVideoFrames, corrupted: q.corruptedVideoFrames, currentTime: v.currentTime });
    resolve(window.result);
  };
  v.addEventListener("ended", () => { window.result.ended = true; done(); });
  v.addEventListener("error", () => { window.result.errors.push("video:" + (v.error && v.error.message)); done(); });
  if (!Hls.isSupported()) { window.result.errors.push("Hls.isSupported() is false"); return done(); }
  const hls = new Hls({ enableWorker: false });
  hls.on(Hls.Events.MANIFEST_PARSED, () => v.play().catch((e) => window.result.errors.push(String(e))));
  // Every error counts, fatal or not: a decoder that chokes on the new SPS shows up as a media error here.
  hls.on(Hls.Events.ERROR, (_e, d) => { window.result.errors.push(d.type + ":" + d.details + (d.fatal ? ":fatal" : "")); if (d.fatal) done(); });
  hls.loadSource(src);
  hls.attachMedia(v);
});
</script></body></html>`;

/** Serves `dir` with CORS (the player page has an origin of its own). */
async function serveDir(dir: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const rel = decodeURIComponent((req.url ?? "/").split("?")[0]).replace(/^\/+/, "");
    const headers = { "access-control-allow-origin": "*" };
    try {
      const body = await readFile(path.join(dir, path.normalize(rel)));
      const type = rel.endsWith(".m3u8") ? "application/vnd.apple.mpegurl" : "video/mp4";
      res.writeHead(200, { ...headers, "content-type": type, "content-length": body.length });
      res.end(body);
    } catch {
      res.writeHead(404, headers);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

it("hls.js in Chromium plays a smart-cut clip's stream-copied HLS across both joins, every frame decoded", async () => {
  const fps = 25;
  const src = await makeNumberedVideo(path.join(work, "source.mp4"), { seconds: 12, fps, gop: 50, bframes: 3 });
  // Head 1.5–2 s and tail 8–9.3 s re-encoded, 2–8 s copied: two joins.
  const cut = await cutClip(
    src,
    { start_time: 1.5, end_time: 9.3 },
    {
      ffmpegPath: await ffmpegBin(),
      ffprobePath: await ffprobeBin(),
    },
  );
  expect(cut.mode, cut.reason).toBe("smart");
  const frames = Math.round((9.3 - 1.5) * fps);
  const probed = await ffprobeJson(src);
  const video = probed.streams.find((s) => s.codec_type === "video");
  const audio = probed.streams.find((s) => s.codec_type === "audio");
  expect(Number(video?.nb_frames)).toBe(frames);

  // The fast path's own remux (stream copy into fMP4 segments at the clip's keyframes).
  const out = path.join(work, "hls");
  await runRemux(
    { kind: "remux", input: src, videoIndex: video?.index ?? 0, audioIndex: audio?.index, adtsToAsc: false },
    out,
    { ffmpegPath: await ffmpegBin() },
  );
  const files = await serveDir(out);
  try {
    const played = await playInChromium<Played>(`${files.origin}/${FAST_DIR}/index.m3u8`, {
      page: PAGE,
      timeoutMs: 60_000,
    });
    expect(played.errors).toEqual([]);
    expect(played.ended, JSON.stringify(played)).toBe(true);
    expect(played.currentTime).toBeGreaterThan(9.3 - 1.5 - 0.2);
    expect(played.corrupted).toBe(0);
    // Headless Chromium may drop a frame or two for timing; a decoder that stopped at a join loses seconds.
    expect(played.frames).toBeGreaterThanOrEqual(frames - 3);
  } finally {
    await files.close();
  }
}, 120_000);
