/**
 * LL-HLS test and bench helpers: an ffmpeg encoder that pushes either HLS (`-f hls -method PUT`) or a CMAF
 * chunked push (`-f mp4` fragmented every 0.5 s, one long-lived PUT to `ingest.cmaf_url`), optionally
 * stamping every frame with the wall clock it was captured at (a 20-bit barcode of ms mod 2^20 across the
 * top 16 px, drawn right after the real-time source, before encoding), and hls.js in headless Chromium that
 * plays a live stream (lowLatencyMode when asked; maxLiveSyncPlaybackRate 1.5 in every mode, so a player that
 * started late — a slow headless start — catches up to its target latency instead of staying behind), records the playlist and part requests it made, and reads
 * the barcode off the displayed frame: glass-to-glass = now − capture time, measured, not estimated.
 */

import { spawn } from "node:child_process";
import { binaryEnv } from "../../../transcoder/src/ffmpeg/static-env.js";
import { launchChromium, servePlayerPage } from "./browser";
import type { Encoder } from "./live";
import { CMAF_MOVFLAGS, LIVE_FFMPEG, within } from "./live";

const STAMP_BITS = 20;

/** The wall-clock barcode: RTCTIME (µs) as pts in ms, one 16×16 white box per set bit, then regular pts. */
function stampFilter(): string {
  const boxes = Array.from(
    { length: STAMP_BITS },
    (_, k) => `drawbox=x=${k * 16}:y=0:w=16:h=16:color=white:t=fill:enable='mod(floor(t*1000/${2 ** k}),2)'`,
  );
  return [
    "settb=1/1000",
    "setpts=RTCTIME/1000",
    `drawbox=x=0:y=0:w=${STAMP_BITS * 16}:h=16:color=black:t=fill`,
    ...boxes,
    "setpts=N/(30*TB)",
  ].join(",");
}

export function startLiveEncoder(
  url: string,
  o: { container: "hls" | "cmaf"; hlsTime?: number; seconds?: number; stamp?: boolean },
): Encoder {
  const gop = o.hlsTime ?? 2;
  const out =
    o.container === "cmaf"
      ? [...["-f", "mp4", "-movflags", CMAF_MOVFLAGS], ...["-frag_duration", "500000", "-method", "PUT", url]]
      : [
          ...["-f", "hls", "-hls_time", String(gop), "-hls_list_size", "5", "-hls_segment_type", "fmp4"],
          ...["-method", "PUT", "-http_persistent", "1", url],
        ];
  const args = [
    ...["-hide_banner", "-loglevel", "warning", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"],
    ...(o.seconds ? ["-t", String(o.seconds)] : []),
    ...(o.stamp ? ["-vf", stampFilter()] : []),
    ...["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p"],
    ...["-g", String(30 * gop), "-keyint_min", String(30 * gop), "-sc_threshold", "0"],
    ...["-c:a", "aac", "-b:a", "64k", ...out],
  ];
  const proc = spawn(LIVE_FFMPEG, args, { env: binaryEnv(LIVE_FFMPEG), stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr?.on("data", (d) => {
    err = (err + d.toString()).slice(-8000);
  });
  // "error" (ffmpeg could not be started) ends it too: a kill() in afterAll must not wait forever.
  const exited = new Promise<number | null>((resolve) => {
    proc.on("exit", (code) => resolve(code));
    proc.on("error", (e) => {
      err += `${e.message}\n`;
      resolve(null);
    });
  });
  return {
    proc,
    exited,
    stderr: () => err,
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

const PAGE = `<!doctype html><html><body><video id="v" muted playsinline></video>
<canvas id="c" width="320" height="16"></canvas>
<script src="/hls.js"></script>
<script>
window.watch = (src, lowLatency, ms) => new Promise((resolve) => {
  const v = document.getElementById("v");
  const ctx = document.getElementById("c").getContext("2d", { willReadFrequently: true });
  const r = { errors: [], playlists: [], parts: 0, fragments: 0, times: [], glass: [], latency: [], target: [] };
  const hls = new Hls({ enableWorker: false, lowLatencyMode: lowLatency, maxLiveSyncPlaybackRate: 1.5 });
  hls.on(Hls.Events.MANIFEST_PARSED, () => v.play().catch((e) => r.errors.push(String(e))));
  hls.on(Hls.Events.LEVEL_LOADING, (_e, d) => r.playlists.push(d.url));
  hls.on(Hls.Events.FRAG_LOADED, (_e, d) => { if (d.part) r.parts++; else r.fragments++; });
  hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) r.errors.push(d.type + ":" + d.details); });
  hls.loadSource(src);
  hls.attachMedia(v);
  const timer = setInterval(() => {
    r.times.push(v.currentTime);
    if (v.readyState < 2 || v.paused) return;
    ctx.drawImage(v, 0, 0, 320, 16, 0, 0, 320, 16);
    const px = ctx.getImageData(0, 0, 320, 16).data;
    let stamp = 0;
    for (let k = 0; k < ${STAMP_BITS}; k++) if (px[(8 * 320 + k * 16 + 8) * 4] > 128) stamp += 2 ** k;
    const now = Date.now() % 2 ** ${STAMP_BITS};
    r.glass.push((now - stamp + 2 ** ${STAMP_BITS}) % 2 ** ${STAMP_BITS});
    if (hls.latency) r.latency.push(hls.latency);
    if (hls.targetLatency) r.target.push(hls.targetLatency);
  }, 100);
  setTimeout(() => { clearInterval(timer); hls.destroy(); resolve(r); }, ms);
});
</script></body></html>`;

export interface LiveWatch {
  errors: string[];
  /** Every media playlist URL hls.js asked for (blocking reloads carry _HLS_msn/_HLS_part). */
  playlists: string[];
  parts: number;
  fragments: number;
  /** video.currentTime every 100 ms. */
  times: number[];
  /** Glass-to-glass samples (ms) read from the barcode while playing; meaningful for stamped encoders only. */
  glass: number[];
  latency: number[];
  /** hls.targetLatency (it grows by a second per stall, up to one target duration). */
  target: number[];
}

/** hls.js (lowLatencyMode when `lowLatency`) plays `src` for `ms` in headless Chromium. */
export async function watchLiveStream(src: string, o: { lowLatency: boolean; ms: number }): Promise<LiveWatch> {
  const page$ = await servePlayerPage({ "/ll": PAGE });
  // The npm Chromium unpacks itself on first use: slow on a loaded machine, but never unbounded (one that
  // starts after the bound is closed, not left behind).
  const launching = launchChromium();
  const browser = await within(60_000, "Chromium (launchChromium) start", launching).catch((err) => {
    launching.then((b) => b.close()).catch(() => {});
    throw err;
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${page$.origin}/ll`, { timeout: 30_000 });
    // The page resolves after o.ms by its own timer; a page that hangs or crashes fails here, not at the test's end.
    return (await within(
      o.ms + 20_000,
      `hls.js watching ${src} for ${o.ms} ms`,
      page.evaluate(
        ([s, ll, ms]) =>
          (globalThis as unknown as { watch(src: string, lowLatency: boolean, ms: number): Promise<LiveWatch> }).watch(
            s,
            ll,
            ms,
          ),
        [src, o.lowLatency, o.ms] as const,
      ),
    )) as LiveWatch;
  } finally {
    await browser.close();
    await page$.close();
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}
