/**
 * The live ladder end to end on the real local stack: ffmpeg broadcasts 854×480 with `renditions: ["720p",
 * "360p", "240p"]`; the transcoder encodes 360p and 240p segment by segment (720p is not below the source and
 * is skipped); the edge master lists the source and both renditions with their RESOLUTION and CODECS; each
 * rendition playlist advances; for one sequence number, ffprobe finds the source and rendition segments
 * starting within one frame; hls.js in Chromium plays and, forced onto the lowest level, loads fragments from
 * it; the recording's master keeps the ladder. Bad ladders are refused with precise 400/409s.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binaryEnv } from "../../transcoder/src/ffmpeg/static-env.js";
import type { CreatedLiveStream, LiveStream, Problem } from "../support/api-types";
import { launchChromium, servePlayerPage } from "./support/browser";
import { type E2E, startE2E } from "./support/e2e";
import { type Encoder, mediaSequence, pollUntil, startEncoder } from "./support/live";
import { ffprobeBin } from "./support/media";
import type { PageGlobals } from "./support/page-globals";

/** What the ladder player page (PAGE below) keeps on `window`. */
type LadderPage = PageGlobals & {
  start(src: string): void;
  frags: { level: number; url: string }[];
  errors: string[];
  levels: number[];
  hls: { currentLevel: number; nextLevel: number };
};

const run = promisify(execFile);

/** STREAM-INF attributes and URI of each variant of a master playlist. */
function variants(master: string) {
  const lines = master.split("\n");
  const out: { resolution: string | null; codecs: string | null; bandwidth: number; uri: string }[] = [];
  lines.forEach((l, i) => {
    if (!l.startsWith("#EXT-X-STREAM-INF:")) return;
    out.push({
      resolution: /RESOLUTION=(\d+x\d+)/.exec(l)?.[1] ?? null,
      codecs: /CODECS="([^"]+)"/.exec(l)?.[1] ?? null,
      bandwidth: Number(/BANDWIDTH=(\d+)/.exec(l)?.[1] ?? 0),
      uri: lines[i + 1],
    });
  });
  return out;
}

/** Sequence number → segment URL of a live media playlist (gaps left out). */
function segmentsOf(playlist: string, base: string): Map<number, string> {
  const out = new Map<number, string>();
  let seq = mediaSequence(playlist);
  let gap = false;
  for (const l of playlist.split("\n")) {
    if (l === "#EXT-X-GAP") gap = true;
    else if (l && !l.startsWith("#")) {
      if (!gap) out.set(seq, new URL(l, base).toString());
      gap = false;
      seq++;
    }
  }
  return out;
}

const LADDER_PAGE = `<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/hls.js"></script>
<script>
window.frags = []; window.errors = []; window.levels = [];
window.start = (src) => {
  const v = document.getElementById("v");
  const hls = new Hls({ enableWorker: false });
  window.hls = hls;
  hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => { window.levels = d.levels.map((l) => l.height); v.play().catch((e) => window.errors.push(String(e))); });
  hls.on(Hls.Events.FRAG_LOADED, (_e, d) => window.frags.push({ level: d.frag.level, sn: d.frag.sn, url: d.frag.url }));
  hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.errors.push(d.type + ":" + d.details); });
  hls.loadSource(src);
  hls.attachMedia(v);
};
</script></body></html>`;

describe("live ladder end to end", () => {
  let e: E2E;
  let dir: string;
  const encoders: Encoder[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "ladder-e2e-"));
    // ultrafast: this shared 2-core machine runs several stacks at once; the ladder must keep up in real time.
    e = await startE2E({}, { KEYFRAME_LIVE_LADDER_PRESET: "ultrafast" });
  }, 420_000);

  afterAll(async () => {
    for (const enc of encoders) await enc.kill();
    await e?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses ladders the stream cannot carry, precisely", async () => {
    const above = await e.api<Problem>("POST", "/v1/live-streams", {
      renditions: ["720p", "360p"],
      recording: { mode: "automatic", new_asset_settings: { max_resolution: "480p" } },
    });
    expect(above.status).toBe(400);
    expect(above.body.code).toBe("validation_failed");
    expect(above.body.errors).toEqual([
      { location: "json.renditions.0", message: "720p is above recording.new_asset_settings.max_resolution (480p)" },
    ]);
    const low = await e.api<Problem>("POST", "/v1/live-streams", { renditions: ["360p"], latency_mode: "low" });
    expect(low.status).toBe(400);
    expect(low.body.errors[0].location).toBe("json.renditions");
    expect(low.body.detail).toContain("latency_mode low");
    const twice = await e.api<Problem>("POST", "/v1/live-streams", { renditions: ["360p", "360p"] });
    expect(twice.status).toBe(400);
    expect(twice.body.errors).toEqual([{ location: "json.renditions.1", message: "360p is listed twice" }]);
    const unknown = await e.api<Problem>("POST", "/v1/live-streams", { renditions: ["4k"] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors[0].location).toBe("json.renditions.0");

    const ok = await e.api<CreatedLiveStream>("POST", "/v1/live-streams", { renditions: ["240p", "480p"] });
    expect(ok.status).toBe(201);
    expect(ok.body.renditions).toEqual(["480p", "240p"]);
    // Lowering the cap below an existing rendition, or switching to low latency, is refused on PATCH too.
    const capped = await e.api<Problem>("PATCH", `/v1/live-streams/${ok.body.id}`, {
      recording: { mode: "automatic", new_asset_settings: { max_resolution: "360p" } },
    });
    expect(capped.status).toBe(400);
    expect(capped.body.errors[0]).toEqual({
      location: "json.renditions",
      message: "480p is above recording.new_asset_settings.max_resolution (360p)",
    });
    expect((await e.api("PATCH", `/v1/live-streams/${ok.body.id}`, { latency_mode: "low" })).status).toBe(400);
    const off = await e.api<LiveStream>("PATCH", `/v1/live-streams/${ok.body.id}`, { renditions: [] });
    expect(off.status).toBe(200);
    expect(off.body.renditions).toEqual([]);
  });

  it("encodes renditions in step with ingest; the master lists them; they line up; hls.js switches; the recording keeps them", async () => {
    const created = await e.api<CreatedLiveStream>("POST", "/v1/live-streams", {
      playback_policy: "public",
      reconnect_window: 10,
      renditions: ["720p", "360p", "240p"],
      recording: { mode: "automatic", new_asset_settings: { playback_policy: "public" } },
    });
    expect(created.status).toBe(201);
    const ls = created.body;
    const pb = ls.playback_ids[0].id;
    const edge = e.stack.edgeUrl;
    const master = `${edge}/${pb}.m3u8`;
    const enc = startEncoder(ls.ingest.hls_url!, { size: "854x480", hlsTime: 4, fps: 15 });
    encoders.push(enc);

    // The master gains the renditions as their first segments land: source + 360p + 240p (720p is skipped).
    const listed = await pollUntil(master, (s, b) => s === 200 && variants(b).length === 3, 90_000).catch(
      async (err) => {
        console.error(
          enc.stderr().slice(-1500),
          JSON.stringify((await fetch(`${e.stack.transcoderUrl}/live-ladder`).then((r) => r.json())) ?? {}),
        );
        throw err;
      },
    );
    const vs = variants(listed.body);
    // 854 × 240/480 = 427, rounded to even by the scaler.
    expect(vs.map((v) => v.resolution)).toEqual(["854x480", "640x360", "428x240"]);
    expect(vs[1].uri).toBe(`/${pb}/live/360p.m3u8`);
    expect(vs[2].uri).toBe(`/${pb}/live/240p.m3u8`);
    for (const v of vs.slice(1)) expect(v.codecs).toMatch(/^avc1\.(42|4d)[0-9a-f]{4},mp4a\.40\.2$/);
    expect(vs[2].bandwidth).toBeLessThan(vs[1].bandwidth);

    // Each rendition playlist advances, and the same sequence number starts at the same time in every rendition.
    const src = `${edge}/${pb}/live.m3u8`;
    const first = await Promise.all(
      [src, ...vs.slice(1).map((v) => `${edge}${v.uri}`)].map((u) => pollUntil(u, (s) => s === 200)),
    );
    const later = await Promise.all(
      [src, ...vs.slice(1).map((v) => `${edge}${v.uri}`)].map((u, i) =>
        pollUntil(
          u,
          (s, b) =>
            s === 200 && Math.max(...segmentsOf(b, u).keys()) > Math.max(...segmentsOf(first[i].body, u).keys()),
          30_000,
        ),
      ),
    );
    const maps = later.map((l, i) => segmentsOf(l.body, i === 0 ? src : `${edge}${vs[i].uri}`));
    const common = [...maps[0].keys()].filter((seq) => maps.every((m) => m.has(seq)));
    expect(common.length).toBeGreaterThan(0);
    const seq = common.at(-1) as number;
    const starts: number[] = [];
    for (const [i, m] of maps.entries()) {
      const file = path.join(dir, `seq${seq}-${i}.ts`);
      writeFileSync(file, new Uint8Array(await (await fetch(m.get(seq) as string)).arrayBuffer()));
      const ffprobe = await ffprobeBin();
      const { stdout } = await run(
        ffprobe,
        [
          "-v",
          "error",
          "-select_streams",
          "v:0",
          "-show_entries",
          "stream=start_time,height,level",
          "-of",
          "json",
          file,
        ],
        { env: binaryEnv(ffprobe) },
      );
      const stream = JSON.parse(stdout).streams[0] as { start_time: string; height: number; level: number };
      expect(stream.height, `${file}: ${stdout}`).toBe([480, 360, 240][i]);
      // x264 knew the real frame rate (≤ 360p at 15 fps is level ≤ 3.0; told 90000 fps it would pick 6.x).
      if (i > 0) expect(stream.level, `${file}: ${stdout}`).toBeLessThanOrEqual(30);
      const start = stream.start_time;
      starts.push(Number(start));
    }
    for (const s of starts.slice(1)) expect(Math.abs(s - starts[0])).toBeLessThan(1 / 15);

    // hls.js plays the ladder; forced onto the lowest level it loads that level's fragments.
    const page$ = await servePlayerPage({ "/ladder": LADDER_PAGE });
    const browser = await launchChromium();
    try {
      // The master lists a rendition only while it keeps up (this shared machine can starve the ladder for a
      // while): load the player while all three are listed, and again if it caught a moment when one was not.
      let page = await browser.newPage();
      let levels: number[] = [];
      for (let attempt = 0; attempt < 4 && levels.length !== 3; attempt++) {
        if (attempt > 0) {
          console.error(
            "ladder stats",
            JSON.stringify(await (await fetch(`${e.stack.transcoderUrl}/live-ladder`)).json()),
          );
          await page.close();
          page = await browser.newPage();
        }
        await pollUntil(master, (st, b) => st === 200 && variants(b).length === 3, 60_000);
        await page.goto(`${page$.origin}/ladder`);
        await page.evaluate((s) => (globalThis as unknown as LadderPage).start(s), master);
        await page.waitForFunction(
          () => {
            const w = globalThis as unknown as LadderPage;
            return w.frags.length >= 2 || w.errors.length > 0;
          },
          null,
          { timeout: 60_000 },
        );
        levels = await page.evaluate(() => (globalThis as unknown as LadderPage).levels);
      }
      // hls.js orders levels by bandwidth, lowest first.
      expect(levels).toEqual([240, 360, 480]);
      const lowest = levels.indexOf(240);
      await page.evaluate((l) => {
        const h = (globalThis as unknown as LadderPage).hls;
        h.currentLevel = l;
        h.nextLevel = l;
      }, lowest);
      await page.waitForFunction(
        (l) => {
          const w = globalThis as unknown as LadderPage;
          return w.frags.some((f) => f.level === l) || w.errors.length > 0;
        },
        lowest,
        { timeout: 45_000 },
      );
      // A loaded fragment is not yet a played one: on a loaded box the video's clock may still be at 0 here.
      await page
        .waitForFunction(
          () => ((globalThis as unknown as LadderPage).document.getElementById("v")?.currentTime ?? 0) > 0,
          null,
          { timeout: 30_000 },
        )
        .catch(() => undefined);
      const state = await page.evaluate(() => {
        const w = globalThis as unknown as LadderPage;
        return { frags: w.frags, errors: w.errors, time: w.document.getElementById("v")?.currentTime ?? 0 };
      });
      expect(state.errors).toEqual([]);
      const low = state.frags.filter((f) => f.level === lowest);
      expect(low.length).toBeGreaterThan(0);
      for (const f of low) expect(f.url).toMatch(/\/240p-\d+\.ts$/);
      expect(state.time).toBeGreaterThan(0);
    } finally {
      await browser.close();
      await page$.close();
    }

    // Stop the broadcast: the recording's master (before the pipeline re-encodes it) lists the ladder.
    await enc.kill();
    const done = await e.api("POST", `/v1/live-streams/${ls.id}/complete`);
    expect(done.status).toBe(200);
    const assetId = (await e.api<LiveStream>("GET", `/v1/live-streams/${ls.id}`)).body.recent_asset_ids[0];
    const asset = await e.waitForAsset(assetId, (a) => a.status === "ready", 60_000);
    const recPb = asset.playback_ids[0].id;
    const rec = await (await fetch(`${edge}/${recPb}.m3u8`)).text();
    const rv = variants(rec);
    expect(rv.map((v) => v.resolution)).toEqual(["854x480", "640x360", "428x240"]);
    expect(rv[2].uri).toContain("stream/240p.m3u8");
    const vod = await (await fetch(new URL(rv[2].uri, edge))).text();
    expect(vod).toContain("#EXT-X-ENDLIST");
    expect(vod).toMatch(/240p-\d+\.ts/);
  }, 400_000);
});
