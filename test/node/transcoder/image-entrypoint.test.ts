/**
 * The container image's entry point as a plain process: `tsx transcoder/src/server.ts` with the image's
 * environment (NODE_ENV=production, 0.0.0.0-style host/port vars, FFMPEG_PATH/FFPROBE_PATH pointing at
 * the lockfile's static binaries as transcoder/Dockerfile sets them, a work dir, concurrency 1). No Docker
 * here: this checks what the image runs, not the image.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, type Service, startService, waitForHttp } from "../../../scripts/lib/proc";
import { ROOT } from "../../../scripts/lib/wrangler";
import type { TranscoderHealth } from "../../support/api-types";

const FFMPEG = path.join(ROOT, "node_modules", "@ffmpeg-installer", "linux-x64", "ffmpeg");
const FFPROBE = path.join(ROOT, "node_modules", "@ffprobe-installer", "linux-x64", "ffprobe");

describe("transcoder image entry point", () => {
  let service: Service | undefined;
  afterAll(async () => {
    await service?.stop();
  });

  it("starts with the image's production environment and reports the pinned binaries on /health", async () => {
    const dockerfile = readFileSync(path.join(ROOT, "transcoder", "Dockerfile"), "utf8");
    // The test runs what the Dockerfile runs, with the binaries it sets.
    expect(dockerfile).toMatch(/CMD \["tsx", "transcoder\/src\/server\.ts"\]/);
    expect(dockerfile).toContain("FFMPEG_PATH=/app/node_modules/@ffmpeg-installer/linux-x64/ffmpeg");
    expect(dockerfile).toContain("FFPROBE_PATH=/app/node_modules/@ffprobe-installer/linux-x64/ffprobe");
    expect(dockerfile).toMatch(/^USER node$/m);

    const port = await freePort();
    service = startService("transcoder", path.join(ROOT, "node_modules", ".bin", "tsx"), ["transcoder/src/server.ts"], {
      cwd: ROOT,
      quiet: true,
      env: {
        NODE_ENV: "production",
        KEYFRAME_TRANSCODER_HOST: "127.0.0.1",
        KEYFRAME_TRANSCODER_PORT: String(port),
        FFMPEG_PATH: FFMPEG,
        FFPROBE_PATH: FFPROBE,
        TRANSCODER_WORK_DIR: mkdtempSync(path.join(tmpdir(), "keyframe-image-")),
        TRANSCODER_CONCURRENCY: "1",
        // The container class (src/transcoder/container.ts) sets the key the API signs its requests with.
        TRANSCODER_AUTH_SECRET: "image-entrypoint-test-secret-0123456789",
      },
    });
    const url = `http://127.0.0.1:${port}/health`;
    await waitForHttp(url, service, { timeoutMs: 120_000 });
    const health = (await (await fetch(url)).json()) as TranscoderHealth;
    expect(health.ffmpeg).toMatchObject({ path: FFMPEG, source: expect.any(String) });
    // The npm package's static build reports a git version (N-47683-…-static: the 4.1 series).
    expect(health.ffmpeg.version).toMatch(/static|^\d/);
    expect(health.ffprobe).toMatchObject({ path: FFPROBE });
    expect(health.running).toBe(0);
  });
});
