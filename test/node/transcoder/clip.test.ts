/**
 * The clip cut (transcoder/src/clip.ts) on real files: the first frame is the requested one and the
 * duration the requested length, for an MP4, for an MPEG-TS with a timestamp offset (whose input seek
 * lands on the keyframe after the target), and for a start past the preroll with a 10 s GOP.
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cutClip } from "../../../transcoder/src/clip";
import { InputError } from "../../../transcoder/src/ffmpeg/errors";
import { firstFrameNumber, makeNumberedVideo } from "../support/frame-numbers";
import { ffmpegBin, ffprobeJson } from "../support/media";

const work = mkdtempSync(path.join(tmpdir(), "keyframe-clip-cut-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cut(source: string, start: number, end: number) {
  const target = path.join(work, `cut-${path.basename(source)}-${start}`);
  copyFileSync(source, target);
  await cutClip(target, { start_time: start, end_time: end }, { ffmpegPath: await ffmpegBin() });
  return target;
}

describe("cutClip", () => {
  const cases = [
    { name: "mp4, 2 s GOP", seconds: 10, fps: 25, gop: 50, format: "mp4" as const, start: 3.44, end: 6.2 },
    {
      name: "mpegts with a 1.4 s offset",
      seconds: 10,
      fps: 25,
      gop: 50,
      format: "mpegts" as const,
      tsOffset: 1.4,
      start: 3.44,
      end: 6.2,
    },
    {
      name: "mpegts, 10 s GOP, start past the preroll",
      seconds: 40,
      fps: 25,
      gop: 250,
      format: "mpegts" as const,
      tsOffset: 3,
      start: 31.28,
      end: 33,
    },
    {
      name: "30 fps, a start between frames",
      seconds: 8,
      fps: 30,
      gop: 60,
      format: "mp4" as const,
      start: 2.01,
      end: 4.5,
    },
  ];
  for (const c of cases) {
    it(`starts at the requested frame and lasts the requested time: ${c.name}`, async () => {
      const src = await makeNumberedVideo(
        path.join(work, `${c.name.replace(/\W+/g, "-")}.${c.format === "mp4" ? "mp4" : "ts"}`),
        c,
      );
      const out = await cut(src, c.start, c.end);
      const first = await firstFrameNumber(out);
      // The first frame at or after the start: ceil(start × fps), give or take one.
      expect(Math.abs(first - Math.ceil(c.start * c.fps - 1e-6)), `first frame ${first}`).toBeLessThanOrEqual(1);
      const probed = await ffprobeJson(out);
      const video = probed.streams.find((s) => s.codec_type === "video")!;
      expect(video.codec_name).toBe("h264");
      expect(Math.abs(Number(probed.format.duration) - (c.end - c.start))).toBeLessThanOrEqual(1 / c.fps + 0.001);
      expect(Math.abs(Number(video.nb_frames) - (c.end - c.start) * c.fps)).toBeLessThanOrEqual(1);
    }, 120_000);
  }

  it("a range past the media's end is input_no_media, an unreadable source input_unreadable", async () => {
    const src = await makeNumberedVideo(path.join(work, "short.mp4"), { seconds: 2, fps: 25 });
    await expect(cut(src, 5, 6)).rejects.toMatchObject({ name: "InputError", code: "input_no_media" });
    const junk = path.join(work, "junk");
    (await import("node:fs")).writeFileSync(junk, "not media at all");
    const err = await cutClip(junk, { start_time: 0, end_time: 1 }, { ffmpegPath: await ffmpegBin() }).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.code).toBe("input_unreadable");
  }, 60_000);
});
