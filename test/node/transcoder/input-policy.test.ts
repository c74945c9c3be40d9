/**
 * ffmpeg and ffprobe open only the input they are given (transcoder/src/ffmpeg/input-policy.ts): a source
 * that is really an HLS playlist or an ffconcat list — pointing at `file:///etc/passwd` or at another
 * host — is refused as `input_unsupported` by the probe, and a thumbnail render of such a source fails,
 * and in neither case is anything fetched: a local HTTP server records every request it gets. Runs with
 * the ffmpeg the transcoder finds (system 5.1 in CI) and the npm 4.1 build.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBinaries } from "../../../transcoder/src/ffmpeg/binaries.js";
import { InputError } from "../../../transcoder/src/ffmpeg/errors.js";
import { probe } from "../../../transcoder/src/ffmpeg/probe.js";
import { renderThumbnail } from "../../../transcoder/src/ffmpeg/thumbnail.js";
import { makeClip } from "./helpers/media.js";

const require = (await import("node:module")).createRequire(import.meta.url);
const NPM = {
  name: "npm ffmpeg 4.1",
  ffmpeg: require("@ffmpeg-installer/ffmpeg").path as string,
  ffprobe: require("@ffprobe-installer/ffprobe").path as string,
};
// The pair the transcoder picks here (FFMPEG_PATH → PATH → npm), and the npm build when that is another one:
// on a machine without system ffmpeg both are the npm build, which then runs once.
const found = await getBinaries();
const BINARIES =
  found.ffmpeg === NPM.ffmpeg && found.ffprobe === NPM.ffprobe
    ? [NPM]
    : [
        { name: `${found.ffmpegSource} ffmpeg ${found.version.raw}`, ffmpeg: found.ffmpeg, ffprobe: found.ffprobe },
        NPM,
      ];

let dir: string;
/** Records every request; a fetch of anything here is the failure this file guards against. */
let recorder: http.Server;
let recorded: { url: string; authorization?: string }[] = [];
let recorderUrl: string;
/** Serves files from `dir` like the API's source endpoint (with a bearer token). */
let source: http.Server;
let sourceUrl: string;

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const playlist = (target: () => string) => () =>
  [
    "#EXTM3U",
    "#EXT-X-VERSION:3",
    "#EXT-X-TARGETDURATION:2",
    "#EXTINF:2.0,",
    `${target()}`,
    "#EXTINF:2.0,",
    "file:///etc/passwd",
    "#EXT-X-ENDLIST",
    "",
  ].join("\n");

const EVIL: Record<string, () => string> = {
  "hls playlist to another host": playlist(() => `${recorderUrl}/segment.ts`),
  "hls playlist to file:": playlist(() => "file:///etc/passwd"),
  "ffconcat list": () => `ffconcat version 1.0\nfile '${recorderUrl}/part.mp4'\nfile '/etc/passwd'\n`,
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "kf-input-policy-"));
  recorder = http.createServer((req, res) => {
    recorded.push({ url: req.url ?? "", authorization: req.headers.authorization });
    res.writeHead(200, { "content-type": "video/mp2t" });
    res.end(Buffer.alloc(188 * 10, 0x47));
  });
  recorderUrl = await listen(recorder);
  source = http.createServer(async (req, res) => {
    const name = decodeURIComponent((req.url ?? "/").slice(1));
    if (req.headers.authorization !== "Bearer source-token") return res.writeHead(401).end();
    const evil = EVIL[name];
    if (evil) {
      // The API serves a source with the Content-Type it was uploaded with: an uploader chooses it.
      res.writeHead(200, { "content-type": "application/vnd.apple.mpegurl" });
      return res.end(evil());
    }
    const { createReadStream } = await import("node:fs");
    res.writeHead(200, { "content-type": "video/mp4" });
    createReadStream(path.join(dir, name))
      .on("error", () => res.destroy())
      .pipe(res);
  });
  sourceUrl = await listen(source);
  // As the runner stores a source (no extension), and named .m3u8 so every ffprobe detects the playlist.
  for (const [name, body] of Object.entries(EVIL)) {
    await writeFile(path.join(dir, `${name}.source`), body());
    await writeFile(path.join(dir, `${name}.m3u8`), body());
  }
  // faststart: this little server answers no Range requests, so the index must come first.
  await makeClip(dir, "good.mp4", { width: 320, height: 180, duration: 2, extra: ["-movflags", "+faststart"] });
});

afterAll(async () => {
  await new Promise((r) => recorder.close(r));
  await new Promise((r) => source.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe.each(BINARIES)("input policy with $name", (bin) => {
  it.each(Object.keys(EVIL).flatMap((name) => [`${name}.source`, `${name}.m3u8`]))(
    "the probe refuses a source that is an %s (input_unsupported or input_unreadable), fetching nothing",
    async (file) => {
      recorded = [];
      const err = await probe(path.join(dir, file), { ffprobePath: bin.ffprobe }).catch((e) => e);
      expect(err).toBeInstanceOf(InputError);
      // An ffprobe that does not even detect a playlist named .mp4 (the npm build) finds no media in it.
      expect(["input_unsupported", "input_unreadable"]).toContain((err as InputError).code);
      if ((err as InputError).code === "input_unsupported") {
        expect((err as Error).message).toMatch(/refers to other files or URLs/);
      }
      expect(recorded).toEqual([]);
    },
  );

  it("a real MP4 still probes", async () => {
    const facts = await probe(path.join(dir, "good.mp4"), { ffprobePath: bin.ffprobe });
    expect(facts.video?.width).toBe(320);
  });

  it.each(Object.keys(EVIL))(
    "a thumbnail of an %s served over HTTP fails without fetching or forwarding the token",
    async (name) => {
      recorded = [];
      const options = {
        kind: "thumbnail" as const,
        headers: { authorization: "Bearer source-token" },
        atSeconds: 0,
        width: 160,
        height: null,
        fit: "preserve" as const,
      };
      await expect(
        renderThumbnail(
          { ...options, input: `${sourceUrl}/${encodeURIComponent(name)}` },
          { ffmpegPath: bin.ffmpeg, timeoutMs: 20_000 },
        ),
      ).rejects.toThrow();
      expect(recorded).toEqual([]);
      // The same path renders a real source.
      const ok = await renderThumbnail(
        { ...options, input: `${sourceUrl}/good.mp4` },
        { ffmpegPath: bin.ffmpeg, timeoutMs: 20_000 },
      );
      expect(ok.jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    },
  );
});
