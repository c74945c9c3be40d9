/**
 * Headless Chromium for every browser test, and a player page that plays HLS through hls.js (a player we
 * did not write) from its own origin.
 *
 * launchChromium() is the one launcher: the system Chromium when there is one (/usr/bin/chromium or
 * chromium(-browser) on PATH), otherwise the build shipped by `@sparticuz/chromium` (npm; H.264 MSE works),
 * launched with its own args. KEYFRAME_TEST_CHROMIUM=npm forces the npm build; KEYFRAME_TEST_CHROMIUM=system
 * refuses to fall back. The launcher test and the cross-origin tus upload run once per build `chromiumSources()`
 * finds, so a machine with a system Chromium (CI) keeps the npm path green too, in the same run.
 */
import { constants, readFileSync } from "node:fs";
import { access } from "node:fs/promises";
import http from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const HLS_JS = readFileSync(require.resolve("hls.js/dist/hls.min.js"));

/** Ours, on top of either build's own. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-quic",
  "--autoplay-policy=no-user-gesture-required",
];

async function systemChromium(): Promise<string | undefined> {
  const dirs = ["/usr/bin", ...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean)];
  for (const dir of dirs) {
    for (const name of ["chromium", "chromium-browser"]) {
      const candidate = path.join(dir, name);
      try {
        await access(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

export type ChromiumSource = "system" | "npm";

/** The builds the browser tests that cover both launch paths run with: the one asked for, else every one here. */
export async function chromiumSources(): Promise<ChromiumSource[]> {
  const wanted = process.env.KEYFRAME_TEST_CHROMIUM;
  if (wanted === "npm" || wanted === "system") return [wanted];
  return (await systemChromium()) ? ["system", "npm"] : ["npm"];
}

/** Which Chromium launchChromium() would start (`source`, or as the environment asks), and how. */
export async function chromiumLaunchOptions(source?: ChromiumSource): Promise<{
  source: ChromiumSource;
  executablePath: string;
  args: string[];
}> {
  const wanted = source ?? process.env.KEYFRAME_TEST_CHROMIUM;
  if (wanted && wanted !== "npm" && wanted !== "system") {
    throw new Error(`KEYFRAME_TEST_CHROMIUM=${wanted}: use "npm" or "system"`);
  }
  if (wanted !== "npm") {
    const found = await systemChromium();
    if (found) return { source: "system", executablePath: found, args: CHROMIUM_ARGS };
    if (wanted === "system") throw new Error("KEYFRAME_TEST_CHROMIUM=system but no chromium is installed");
  }
  const sparticuz = (await import("@sparticuz/chromium")).default;
  // executablePath() unpacks the brotli'd build into the temp dir once (and reuses it after).
  return {
    source: "npm",
    executablePath: await sparticuz.executablePath(),
    args: [...sparticuz.args, ...CHROMIUM_ARGS],
  };
}

export async function launchChromium(source?: ChromiumSource) {
  const { executablePath, args } = await chromiumLaunchOptions(source);
  return chromium.launch({ executablePath, args });
}

export interface PlayResult {
  usedHlsJs: boolean;
  ended: boolean;
  currentTime: number;
  duration: number;
  levels: number;
  errors: string[];
}

const PAGE = `<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/hls.js"></script>
<script>
window.result = { usedHlsJs: false, ended: false, currentTime: 0, duration: 0, levels: 0, errors: [] };
window.play = (src) => new Promise((resolve) => {
  const v = document.getElementById("v");
  const done = () => { Object.assign(window.result, { currentTime: v.currentTime, duration: v.duration }); resolve(window.result); };
  v.addEventListener("ended", () => { window.result.ended = true; done(); });
  if (!Hls.isSupported()) { window.result.errors.push("Hls.isSupported() is false"); return done(); }
  window.result.usedHlsJs = true;
  const hls = new Hls({ enableWorker: false });
  hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => { window.result.levels = d.levels.length; v.play().catch((e) => window.result.errors.push(String(e))); });
  hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) { window.result.errors.push(d.type + ":" + d.details + ":" + (d.response ? d.response.code : "")); done(); } });
  hls.loadSource(src);
  hls.attachMedia(v);
});
</script></body></html>`;

/** Serves the hls.js player page at `/`, hls.js at `/hls.js`, and any extra HTML pages given. */
export async function servePlayerPage(
  pages: Record<string, string> = {},
): Promise<{ origin: string; port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url === "/hls.js") {
      res.writeHead(200, { "content-type": "application/javascript" });
      res.end(HLS_JS);
      return;
    }
    const extra = req.url ? pages[req.url] : undefined;
    res.writeHead(200, { "content-type": "text/html" });
    res.end(extra ?? PAGE);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * Plays `src` in headless Chromium through a page's `window.play(src)` and returns what it resolves to (or,
 * after `timeoutMs`, its `window.result` so far with `timedOut: true`). The page is the stock hls.js player
 * unless `page` (HTML with its own `play` and `result`, e.g. counting stalls) or `pageOrigin` is given.
 */
export async function playInChromium<T = PlayResult>(
  src: string,
  opts: { pageOrigin?: string; page?: string; timeoutMs?: number } = {},
): Promise<T> {
  const page$ = opts.pageOrigin ? null : await servePlayerPage(opts.page ? { "/": opts.page } : {});
  const origin = opts.pageOrigin ?? page$!.origin;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    const result = (await page.evaluate(
      ([s, t]) => {
        const w = globalThis as unknown as { play(src: string): Promise<unknown>; result: object };
        return Promise.race([
          w.play(s),
          new Promise((r) => setTimeout(() => r({ ...w.result, timedOut: true }), t as number)),
        ]);
      },
      [src, opts.timeoutMs ?? 60_000] as const,
    )) as T;
    return result;
  } finally {
    await browser.close();
    await page$?.close();
  }
}
