/**
 * The shared Chromium launcher: whichever build it picks (system, or @sparticuz/chromium from npm when there
 * is none or KEYFRAME_TEST_CHROMIUM=npm) must play what our HLS is made of: fMP4 H.264 + AAC through MSE.
 */
import { describe, expect, it } from "vitest";
import { chromiumLaunchOptions, chromiumSources, launchChromium, servePlayerPage } from "./support/browser";

const SOURCES = await chromiumSources();

describe("launchChromium", () => {
  it("uses the system Chromium when there is one, the npm build otherwise (or as KEYFRAME_TEST_CHROMIUM asks)", async () => {
    const forced = process.env.KEYFRAME_TEST_CHROMIUM;
    expect((await chromiumLaunchOptions()).source).toBe(forced ?? SOURCES[0]);
    // The npm build ships with the dependencies: every machine has it after `npm ci`.
    if (!forced) expect(SOURCES).toContain("npm");
  });

  it.each(SOURCES)(
    "starts the %s Chromium, and it plays H.264/AAC through MSE",
    async (source) => {
      const options = await chromiumLaunchOptions(source);
      expect(options.source).toBe(source);
      expect(options.args).toContain("--no-sandbox");
      expect(options.args).toContain("--autoplay-policy=no-user-gesture-required");
      const page$ = await servePlayerPage();
      const browser = await launchChromium(source);
      try {
        const page = await browser.newPage();
        await page.goto(`${page$.origin}/`);
        const support = await page.evaluate(() => {
          // Browser globals, not in this project's (Node) type libs.
          const g = globalThis as unknown as { MediaSource: { isTypeSupported(t: string): boolean }; Hls?: unknown };
          return {
            h264: g.MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001f"'),
            aac: g.MediaSource.isTypeSupported('audio/mp4; codecs="mp4a.40.2"'),
            hlsJs: typeof g.Hls === "function",
          };
        });
        expect(support).toEqual({ h264: true, aac: true, hlsJs: true });
      } finally {
        await browser.close();
        await page$.close();
      }
    },
    120_000,
  );
});
