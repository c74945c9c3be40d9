/**
 * Live test helpers: an ffmpeg encoder pushing HLS over HTTP PUT (as a broadcaster would, from lavfi
 * sources), edge playlist polling, and hls.js in headless Chromium watching a live stream.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { binaryEnv } from "../../../transcoder/src/ffmpeg/static-env.js";
import { launchChromium, servePlayerPage } from "./browser";
import { ffmpegBin } from "./media";

/**
 * The broadcasters' ffmpeg: the one the transcoder uses (FFMPEG_PATH → PATH → the npm 4.1 build), so a
 * machine with no system ffmpeg runs the live tests too. Every one of them has an hls muxer with `-method`.
 */
export const LIVE_FFMPEG = await ffmpegBin();

export interface Encoder {
  proc: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stderr: () => string;
  kill: () => Promise<void>;
}

/**
 * Pushes a 320×180 test pattern with a tone, in real time (-re), as `segmentType` segments of
 * `hlsTime` seconds (keyframes every segment), to `url`. `seconds` ends it cleanly (ENDLIST).
 */
export function startEncoder(
  url: string,
  opts: { seconds?: number; segmentType?: "mpegts" | "fmp4"; hlsTime?: number } = {},
): Encoder {
  const hlsTime = opts.hlsTime ?? 2;
  const fps = 30;
  const args = [
    "-hide_banner",
    "-loglevel",
    "warning",
    "-re",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=320x180:rate=${fps}`,
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    ...(opts.seconds ? ["-t", String(opts.seconds)] : []),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-tune",
    "zerolatency",
    "-pix_fmt",
    "yuv420p",
    "-g",
    String(fps * hlsTime),
    "-keyint_min",
    String(fps * hlsTime),
    "-sc_threshold",
    "0",
    "-c:a",
    "aac",
    "-b:a",
    "64k",
    "-f",
    "hls",
    "-hls_time",
    String(hlsTime),
    "-hls_list_size",
    "5",
    "-hls_segment_type",
    opts.segmentType ?? "mpegts",
    "-method",
    "PUT",
    "-http_persistent",
    "1",
    url,
  ];
  const proc = spawn(LIVE_FFMPEG, args, { env: binaryEnv(LIVE_FFMPEG), stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr?.on("data", (d) => {
    err = (err + d.toString()).slice(-8000);
  });
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
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

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `url` until `ok(status, body)` holds; returns the last body. */
export async function pollUntil(
  url: string,
  ok: (status: number, body: string) => boolean,
  timeoutMs = 30_000,
): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = { status: 0, body: "" };
  while (Date.now() < deadline) {
    const res = await fetch(url);
    last = { status: res.status, body: await res.text() };
    if (ok(last.status, last.body)) return last;
    await sleep(200);
  }
  throw new Error(`${url} never satisfied the condition; last ${last.status} ${last.body.slice(0, 300)}`);
}

export function mediaSequence(playlist: string): number {
  return Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1] ?? -1);
}

/** hls.js plays `src` live for `watchMs`; returns the playhead at two moments and any fatal errors. */
export async function watchLive(src: string, watchMs = 8000) {
  const page$ = await servePlayerPage();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${page$.origin}/`);
    return (await page.evaluate(
      ([s, ms]) =>
        new Promise((resolve) => {
          const w = globalThis as any;
          w.play(s);
          const v = w.document.getElementById("v");
          setTimeout(
            () => {
              const first = v.currentTime;
              setTimeout(
                () => resolve({ first, second: v.currentTime, errors: w.result.errors, levels: w.result.levels }),
                (ms as number) / 2,
              );
            },
            (ms as number) / 2,
          );
        }),
      [src, watchMs] as const,
    )) as { first: number; second: number; errors: string[]; levels: number };
  } finally {
    await browser.close();
    await page$.close();
  }
}

/**
 * Opens the edge's embed page for a playback ID in headless Chromium, starts playback (muted, as a viewer's
 * click would; retried until the player has media) and reports the page's state and the playhead at two
 * moments `watchMs / 2` apart once it plays.
 */
export async function watchEmbed(url: string, watchMs = 8000) {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page
      .waitForFunction(
        () => {
          const doc = (globalThis as any).document;
          const v = doc.getElementById("kf-video");
          if (!v) return true;
          v.muted = true;
          if (v.paused) v.play().catch(() => {});
          return ["playing", "error", "refused"].includes(doc.body.dataset.state);
        },
        { timeout: 30_000, polling: 500 },
      )
      .catch(() => {});
    return (await page.evaluate(
      (ms) =>
        new Promise((resolve) => {
          const doc = (globalThis as any).document;
          const v = doc.getElementById("kf-video");
          const first = v?.currentTime ?? 0;
          setTimeout(() => resolve({ first, second: v?.currentTime ?? 0, state: doc.body.dataset.state }), ms / 2);
        }),
      watchMs,
    )) as { first: number; second: number; state: string };
  } finally {
    await browser.close();
  }
}
