/**
 * Live test helpers: an ffmpeg encoder pushing HLS over HTTP PUT (as a broadcaster would, from lavfi
 * sources), edge playlist polling, and hls.js in headless Chromium watching a live stream.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { getBinaries } from "../../../transcoder/src/ffmpeg/binaries.js";
import { binaryEnv } from "../../../transcoder/src/ffmpeg/static-env.js";
import { hlsPersistentHttpInOrder } from "../../../transcoder/src/relay/hls-push.js";
import { launchChromium, servePlayerPage } from "./browser";
import { ffmpegBin } from "./media";
import type { PageGlobals } from "./page-globals";

/**
 * The broadcasters' ffmpeg: the one the transcoder uses (FFMPEG_PATH → PATH → the npm 4.1 build), so a
 * machine with no system ffmpeg runs the live tests too. Every one of them has an hls muxer with `-method`.
 */
export const LIVE_FFMPEG = await ffmpegBin();
const LIVE_VERSION = (await getBinaries()).version;
/**
 * ffmpeg ≥ 5 PUTs its HLS in the order an ingest needs (segment, then the playlist naming it), over one
 * persistent connection. The 4.1 build does not (hlsPersistentHttpInOrder): with `-http_persistent` every
 * playlist arrives before its segment, and in fMP4 always (each playlist goes out before the segment it adds,
 * the last segment with POST). There, MPEG-TS pushes without `-http_persistent`, and fMP4 is written to a
 * directory and uploaded in order by uploadInOrder — ffmpeg's own bytes, playlists included.
 */
const PUSHES_IN_ORDER = hlsPersistentHttpInOrder(LIVE_VERSION);
/**
 * The movflags of a fragmented-MP4 (CMAF) push: `+cmaf` where the build knows it (ffmpeg ≥ 4.2); the npm
 * ffmpeg 4.1 writes the same moof+mdat fragments without the flag (no `cmfc` brand).
 */
export const CMAF_MOVFLAGS = `+frag_keyframe+empty_moov+default_base_moof${
  execFileSync(LIVE_FFMPEG, ["-hide_banner", "-h", "muxer=mp4"], {
    encoding: "utf8",
    env: binaryEnv(LIVE_FFMPEG),
  }).includes("cmaf")
    ? "+cmaf"
    : ""
}`;

export interface Encoder {
  proc: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal), once everything it wrote was sent. */
  exited: Promise<number | null>;
  stderr: () => string;
  kill: () => Promise<void>;
}

/**
 * Pushes a 320×180 (or `size`) test pattern with a tone, in real time (-re), as `segmentType` segments of
 * `hlsTime` seconds (keyframes every segment), to `url`. `seconds` ends it cleanly (ENDLIST). `input`
 * broadcasts that file instead, stream-copied (its GOP decides where segments start).
 */
export function startEncoder(
  url: string,
  opts: {
    seconds?: number;
    segmentType?: "mpegts" | "fmp4";
    hlsTime?: number;
    size?: string;
    fps?: number;
    input?: string;
  } = {},
): Encoder {
  const hlsTime = opts.hlsTime ?? 2;
  const fps = opts.fps ?? 30;
  const segmentType = opts.segmentType ?? "mpegts";
  const viaDir = segmentType === "fmp4" && !PUSHES_IN_ORDER ? mkdtempSync(path.join(tmpdir(), "kf-enc-")) : null;
  const output = viaDir
    ? [
        ...["-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", path.join(viaDir, "index%d.m4s")],
        path.join(viaDir, "index.m3u8"),
      ]
    : ["-method", "PUT", ...(PUSHES_IN_ORDER ? ["-http_persistent", "1"] : []), url];
  const generated = [
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${opts.size ?? "320x180"}:rate=${fps}`,
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
  ];
  const copied = ["-i", opts.input ?? "", ...(opts.seconds ? ["-t", String(opts.seconds)] : []), "-c", "copy"];
  const args = [
    "-hide_banner",
    "-loglevel",
    "warning",
    "-re",
    ...(opts.input ? copied : generated),
    "-f",
    "hls",
    "-hls_time",
    String(hlsTime),
    "-hls_list_size",
    "5",
    "-hls_segment_type",
    segmentType,
    ...output,
  ];
  const proc = spawn(LIVE_FFMPEG, args, { env: binaryEnv(LIVE_FFMPEG), stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const note = (text: string) => {
    err = (err + text).slice(-8000);
  };
  proc.stderr?.on("data", (d) => note(d.toString()));
  // "error" (ffmpeg could not be started) ends it too: a kill() in afterAll must not wait forever.
  const ffmpegExited = new Promise<number | null>((resolve) => {
    proc.on("exit", (code) => resolve(code));
    proc.on("error", (e) => {
      note(`${e.message}\n`);
      resolve(null);
    });
  });
  const uploader = viaDir ? uploadInOrder(viaDir, url, ffmpegExited, note) : undefined;
  const exited = uploader ? uploader.then(() => ffmpegExited) : ffmpegExited;
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

/**
 * Uploads ffmpeg's fMP4 HLS from `dir` to the ingest at `url` as an in-order encoder would: each playlist
 * ffmpeg writes goes out, in turn, once every file it names is complete and has been PUT, init segment first.
 * A file is complete when its size has not changed for one poll (100 ms; 4.1 writes each fMP4 segment in one
 * go, from memory, as it writes the playlist naming it), or once ffmpeg has exited. On a clean exit (0, or 255 after SIGINT) the rest goes out, ending with the ENDLIST playlist; after
 * SIGKILL nothing more does, as from a crashed encoder.
 */
async function uploadInOrder(
  dir: string,
  url: string,
  ffmpegExited: Promise<number | null>,
  note: (text: string) => void,
): Promise<void> {
  const base = url.slice(0, url.lastIndexOf("/") + 1);
  const sent = new Set<string>();
  const queue: string[] = [];
  let lastRead = "";
  let exitCode: number | null | undefined;
  void ffmpegExited.then((code) => {
    exitCode = code;
  });
  const put = async (name: string, body: Buffer) => {
    const res = await fetch(base + name, { method: "PUT", body }).catch((e: Error) => e);
    if (res instanceof Error || !res.ok) {
      note(`[uploader] PUT ${name}: ${res instanceof Error ? res.message : `${res.status} ${await res.text()}`}\n`);
    }
  };
  const sizes = new Map<string, number>();
  const complete = (name: string, ended: boolean) => {
    const size = existsSync(path.join(dir, name)) ? statSync(path.join(dir, name)).size : -1;
    const before = sizes.get(name);
    sizes.set(name, size);
    return ended ? size >= 0 : size > 0 && size === before;
  };
  const step = async (ended: boolean) => {
    try {
      const text = readFileSync(path.join(dir, "index.m3u8"), "utf8");
      // ffmpeg rewrites the playlist in place: take it only when whole (its last line a segment, or ENDLIST).
      const whole = /\.m4s\n$/.test(text) || text.includes("#EXT-X-ENDLIST");
      if (whole && text !== lastRead) queue.push(text);
      if (whole) lastRead = text;
    } catch {
      // not written yet
    }
    while (queue.length > 0) {
      const text = queue[0];
      const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)?.[1];
      const files = [...(init ? [init] : []), ...text.split("\n").filter((l) => l && !l.startsWith("#"))];
      const ready = files.map((f) => sent.has(f) || complete(f, ended));
      if (!ready.every(Boolean)) return;
      for (const f of files.filter((x) => !sent.has(x))) {
        await put(f, readFileSync(path.join(dir, f)));
        sent.add(f);
      }
      await put("index.m3u8", Buffer.from(text));
      queue.shift();
    }
  };
  try {
    while (exitCode === undefined) {
      await step(false);
      await sleep(100);
    }
    if (exitCode === 0 || exitCode === 255) await step(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `p`, or an error saying `what` did not happen within `ms` (and `detail()`, e.g. an encoder's stderr): a wait
 * that fails says what it waited for well inside the test's own timeout.
 */
export async function within<T>(ms: number, what: string, p: Promise<T>, detail?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const more = detail?.().trim();
      reject(new Error(`${what}: not within ${ms} ms${more ? `\n${more}` : ""}`));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `url` until `ok(status, body)` holds; returns the last body. Each request is bounded too (10 s, or
 * what is left), so a hung request fails the poll at its deadline with the last answer seen.
 */
export async function pollUntil(
  url: string,
  ok: (status: number, body: string) => boolean,
  timeoutMs = 30_000,
): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = { status: 0, body: "" };
  while (Date.now() < deadline) {
    try {
      const signal = AbortSignal.timeout(Math.max(1, Math.min(10_000, deadline - Date.now())));
      const res = await fetch(url, { signal });
      last = { status: res.status, body: await res.text() };
    } catch (err) {
      last = { status: 0, body: `request failed: ${(err as Error).message}` };
    }
    if (ok(last.status, last.body)) return last;
    await sleep(200);
  }
  throw new Error(
    `${url} never satisfied the condition within ${timeoutMs} ms; last ${last.status} ${last.body.slice(0, 300)}`,
  );
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
          const w = globalThis as unknown as PageGlobals & {
            play(src: string): void;
            result: { errors: string[]; levels: number };
          };
          w.play(s);
          const v = w.document.getElementById("v");
          if (!v) throw new Error("the player page has no <video id=v>");
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
          const doc = (globalThis as unknown as PageGlobals).document;
          const v = doc.getElementById("kf-video");
          if (!v) return true;
          v.muted = true;
          if (v.paused) v.play().catch(() => {});
          return ["playing", "error", "refused"].includes(doc.body?.dataset.state ?? "");
        },
        { timeout: 30_000, polling: 500 },
      )
      .catch(() => {});
    return (await page.evaluate(
      (ms) =>
        new Promise((resolve) => {
          const doc = (globalThis as unknown as PageGlobals).document;
          const v = doc.getElementById("kf-video");
          const first = v?.currentTime ?? 0;
          setTimeout(
            () => resolve({ first, second: v?.currentTime ?? 0, state: doc.body?.dataset.state ?? "" }),
            ms / 2,
          );
        }),
      watchMs,
    )) as { first: number; second: number; state: string };
  } finally {
    await browser.close();
  }
}
