/**
 * The segment-parallel ladder through the real stack (issue 14, goal 5): the transcoder runs with a 20 s
 * threshold and 6 s chunks, two at once, so a 30 s upload's ladder is four chunks with three joins. The
 * published rendition, fetched back from the edge, is one continuous stream for ffprobe (verifyRendition:
 * no gap or overlap at a join, a keyframe at every segment start, one init), and hls.js in Chromium plays
 * the master from start to end across the joins without a stall or a failed request.
 *
 * With KEYFRAME_LADDER_CHUNK_RUNNER=remote: chunk 0 is encoded by the job's transcoder, chunks 1–3 go
 * through the API's `POST /internal/jobs/{id}/ladder-chunks/{index}` to `POST /ladder-chunks` (the same
 * local process here; one container per chunk in production), which reads the source by ranged HTTP and
 * stores the segments itself; the job reads them back for the master, the storyboard and the download.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyRendition } from "../../transcoder/src/ladder-chunks/verify";
import { playInChromium } from "./support/browser";
import { type E2E, startE2E, uploadFile } from "./support/e2e";
import { ffprobeBin, makeClip } from "./support/media";

const SECONDS = 30;

interface PlayResult {
  ended: boolean;
  stalls: number;
  errors: string[];
  fragments: number;
  currentTime: number;
  duration: number;
  playing: boolean;
  timedOut?: boolean;
}

const PAGE = `<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/hls.js"></script>
<script>
window.result = { ended: false, stalls: 0, errors: [], fragments: 0, currentTime: 0, duration: 0, playing: false };
window.play = (src) => new Promise((resolve) => {
  const v = document.getElementById("v");
  const done = () => { Object.assign(window.result, { currentTime: v.currentTime, duration: v.duration }); resolve(window.result); };
  v.addEventListener("playing", () => { window.result.playing = true; });
  v.addEventListener("waiting", () => { if (window.result.playing) window.result.stalls++; });
  v.addEventListener("ended", () => { window.result.ended = true; done(); });
  const hls = new Hls({ enableWorker: false });
  hls.on(Hls.Events.FRAG_LOADED, () => { window.result.fragments++; });
  hls.on(Hls.Events.MANIFEST_PARSED, () => { v.playbackRate = 2; v.play().catch((e) => window.result.errors.push(String(e))); });
  hls.on(Hls.Events.ERROR, (_e, d) => {
    window.result.errors.push(d.type + ":" + d.details + ":" + (d.fatal ? "fatal" : "") + " at " + v.currentTime.toFixed(2));
    if (d.fatal) done();
  });
  hls.loadSource(src);
  hls.attachMedia(v);
});
</script></body></html>`;

describe("chunked ladder end to end", () => {
  let e: E2E;
  const logs: Record<string, unknown>[] = [];
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-chunked-"));

  beforeAll(async () => {
    e = await startE2E(
      {},
      {
        KEYFRAME_CHUNKED_LADDER_MIN_SECONDS: "20",
        KEYFRAME_LADDER_CHUNK_SECONDS: "6",
        KEYFRAME_LADDER_CHUNK_PARALLEL: "2",
        KEYFRAME_LADDER_CHUNK_RUNNER: "remote",
      },
    );
    const out = e.stack.services.find((s) => s.name === "transcoder")?.child.stdout;
    if (out) {
      readline.createInterface({ input: out }).on("line", (line) => {
        try {
          logs.push(JSON.parse(line));
        } catch {
          // not a log line
        }
      });
    }
  }, 600_000);

  afterAll(async () => {
    await e?.close();
  });

  it("publishes a continuous rendition that hls.js plays across the joins", async () => {
    const clip = await makeClip(path.join(work, "clip.mp4"), { width: 640, height: 360, seconds: SECONDS, fps: 30 });
    const up = await uploadFile(e, new Uint8Array(readFileSync(clip)));
    expect(up.putStatus).toBe(200);
    const assetId = up.assetId as string;
    const asset = await e.waitForAsset(
      assetId,
      (a) => a.renditions_status === "complete" || a.status === "errored",
      240_000,
    );
    expect(asset.status).toBe("ready");
    // The ladder really ran in chunks: 0–6, 6–12, 12–18 and 18–30 s.
    const mode = logs.find((l) => l.event === "ladder.mode" && l.asset_id === assetId);
    expect(mode).toMatchObject({ mode: "chunked", chunks: 4, runner: "remote" });
    // Chunks 1–3 went through the API to the transcoder's /ladder-chunks, and their segments were stored there.
    const jobId = mode?.job_id;
    const remote = logs.filter((l) => l.event === "ladder_chunk.remote_done" && l.asset_id === assetId);
    expect(remote.map((l) => l.chunk).sort()).toEqual([1, 2, 3]);
    const served = logs.filter((l) => l.event === "ladder_chunk.done" && l.job_id === jobId);
    expect(served.map((l) => l.chunk).sort()).toEqual([1, 2, 3]);
    const uploaded = logs.find((l) => l.event === "outputs.uploaded" && l.asset_id === assetId);
    expect(uploaded?.stored_by_chunks).toBeGreaterThan(0);
    // The storyboard reads the smallest rung from the job's disk: the read-back segments are there.
    const mine = logs.filter((l) => l.asset_id === assetId);
    expect(mine.some((l) => l.event === "stage.done" && l.stage === "storyboard")).toBe(true);
    expect(mine.filter((l) => l.event === "storyboard.failed")).toEqual([]);

    const master = `${e.stack.edgeUrl}/${asset.playback_ids[0].id}.m3u8`;
    const masterText = await (await fetch(master)).text();
    const variant = masterText.split("\n").find((l) => l && !l.startsWith("#")) as string;
    const variantUrl = new URL(variant, master);
    const playlist = await (await fetch(variantUrl)).text();
    // The published rendition, byte for byte from the edge, read as one stream.
    const local = path.join(work, "v");
    mkdirSync(local, { recursive: true });
    // The edge lists URIs as paths; the local copy names each file by its base name.
    const base = (uri: string) => path.basename(new URL(uri, variantUrl).pathname);
    const mapUri = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)?.[1] as string;
    expect(base(mapUri)).toBe("init.mp4");
    const uris = [mapUri, ...playlist.split("\n").filter((l) => l && !l.startsWith("#"))];
    expect(uris.length).toBe(1 + SECONDS / 6);
    for (const uri of uris) {
      const res = await fetch(new URL(uri, variantUrl));
      expect(res.status, uri).toBe(200);
      writeFileSync(path.join(local, base(uri)), Buffer.from(await res.arrayBuffer()));
    }
    writeFileSync(
      path.join(local, "index.m3u8"),
      playlist
        .split("\n")
        .map((l) => (l.startsWith("#EXT-X-MAP") ? '#EXT-X-MAP:URI="init.mp4"' : l && !l.startsWith("#") ? base(l) : l))
        .join("\n"),
    );
    const check = await verifyRendition(local, await ffprobeBin());
    expect(check.problems).toEqual([]);
    expect(check.frames).toBe(SECONDS * 30);
    expect(Math.abs(check.durationSeconds - SECONDS)).toBeLessThanOrEqual(1 / 30 + 1e-6);

    const result = await playInChromium<PlayResult>(master, { page: PAGE, timeoutMs: 90_000 });
    // hls.js seeks over a ~0.17 s hole at the very start: the single-process ladder's output does the same
    // (this test with KEYFRAME_CHUNKED_LADDER_MIN_SECONDS=off gives the identical report), so it is not a join.
    // Anything else, and anything at a join (6, 12, 18 s), fails.
    const errors = result.errors.filter((x) => !/^mediaError:bufferSeekOverHole: at 0\.[0-4]\d$/.test(x));
    expect(errors, JSON.stringify(result)).toEqual([]);
    expect(result.ended, JSON.stringify(result)).toBe(true);
    expect(result.stalls).toBe(0);
    expect(result.currentTime).toBeGreaterThan(SECONDS - 0.5);
    expect(result.fragments).toBeGreaterThanOrEqual(SECONDS / 6);
  }, 400_000);
});
