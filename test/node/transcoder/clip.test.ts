/**
 * The clip cut (transcoder/src/clip.ts) on real files: the first frame is the requested one and the
 * duration the requested length, for an MP4, for an MPEG-TS with a timestamp offset (whose input seek
 * lands on the keyframe after the target), and for a start past the preroll with a 10 s GOP. The smart
 * cut runs wherever the range holds a whole GOP of H.264 (with 0, 1 or 3 B-frames, with or without a
 * partial GOP at either edge), copies that GOP's packets byte for byte, and decodes cleanly; a range
 * without one, or a source that is not H.264, is re-encoded whole.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { cutClip } from "../../../transcoder/src/clip";
import { InputError } from "../../../transcoder/src/ffmpeg/errors";
import { binaryEnv } from "../../../transcoder/src/ffmpeg/static-env";
import { planSmartCut, type SmartCutSource, type SourcePacket } from "../../../transcoder/src/smart-cut";
import { firstFrameNumber, makeNumberedVideo } from "../support/frame-numbers";
import { ffmpegBin, ffprobeBin, ffprobeJson, makeClip } from "../support/media";

const execFileAsync = promisify(execFile);
/** A binary run in the environment the transcoder gives it (the npm builds crash on MPEG-TS without it). */
const run = (bin: string, args: string[]) => execFileAsync(bin, args, { env: binaryEnv(bin) });

const work = mkdtempSync(path.join(tmpdir(), "keyframe-clip-cut-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const binaries = async () => ({ ffmpegPath: await ffmpegBin(), ffprobePath: await ffprobeBin() });

async function cut(source: string, start: number, end: number) {
  const target = path.join(work, `cut-${path.basename(source)}-${start}`);
  copyFileSync(source, target);
  const how = await cutClip(target, { start_time: start, end_time: end }, await binaries());
  return { out: target, ...how };
}

/** Video packets in decode order: presentation time (ms), keyframe flag, MD5 of the data. */
async function videoPackets(file: string) {
  const { stdout } = await run(await ffprobeBin(), [
    ...["-v", "error", "-select_streams", "v:0", "-show_data_hash", "MD5", "-show_entries"],
    ...["packet=pts_time,flags,data_hash", "-of", "json", file],
  ]);
  const packets: { pts_time: string; flags: string; data_hash: string }[] = JSON.parse(stdout).packets;
  return packets.map((p) => ({ ms: Math.round(Number(p.pts_time) * 1000), key: p.flags[0] === "K", md5: p.data_hash }));
}

async function decodeErrors(file: string): Promise<string> {
  const { stderr } = await run(await ffmpegBin(), ["-v", "error", "-i", file, "-f", "null", "-"]);
  return stderr.trim();
}

describe("cutClip", () => {
  const cases = [
    {
      name: "mp4, 2 s GOP",
      seconds: 10,
      fps: 25,
      gop: 50,
      format: "mp4" as const,
      start: 3.44,
      end: 6.2,
      mode: "smart",
    },
    {
      name: "mpegts with a 1.4 s offset",
      seconds: 10,
      fps: 25,
      gop: 50,
      format: "mpegts" as const,
      tsOffset: 1.4,
      start: 3.44,
      end: 6.2,
      mode: "smart",
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
      // No keyframe between 30 and 40 s.
      mode: "reencode",
    },
    {
      name: "30 fps, a start between frames",
      seconds: 8,
      fps: 30,
      gop: 60,
      format: "mp4" as const,
      start: 2.01,
      end: 4.5,
      // One keyframe (4 s) in the range: no whole GOP to copy.
      mode: "reencode",
    },
  ];
  for (const c of cases) {
    it(`starts at the requested frame and lasts the requested time: ${c.name}`, async () => {
      const src = await makeNumberedVideo(
        path.join(work, `${c.name.replace(/\W+/g, "-")}.${c.format === "mp4" ? "mp4" : "ts"}`),
        c,
      );
      const { out, mode, reason } = await cut(src, c.start, c.end);
      expect(mode, reason).toBe(c.mode);
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

  const smartCases = [
    { name: "B-frames, head and tail re-encoded", bframes: 3, start: 1.5, end: 9.3 },
    { name: "no B-frames", bframes: 0, start: 1.5, end: 9.3 },
    { name: "one B-frame", bframes: 1, start: 0.7, end: 6.9 },
    { name: "start on a keyframe (no head)", bframes: 3, start: 2, end: 7.1 },
    { name: "start at 0, end on a keyframe (no head, no tail)", bframes: 3, start: 0, end: 6 },
    // Input seeks past the start of the file, into an MPEG-TS whose times start at 1.4 s.
    { name: "MPEG-TS with an offset", bframes: 3, start: 11.3, end: 17.5, format: "mpegts" as const, tsOffset: 1.4 },
  ];
  for (const c of smartCases) {
    it(`smart cut: the whole GOPs are copied, the edges re-encoded: ${c.name}`, async () => {
      const fps = 25;
      const ts = c.format === "mpegts";
      const src = await makeNumberedVideo(path.join(work, `smart-${c.bframes}.${ts ? "ts" : "mp4"}`), {
        seconds: ts ? 20 : 12,
        fps,
        gop: 50,
        bframes: c.bframes,
        format: c.format,
        tsOffset: c.tsOffset,
      });
      const { out, mode, reason } = await cut(src, c.start, c.end);
      expect(mode, reason).toBe("smart");

      const firstWanted = Math.ceil(c.start * fps - 1e-6);
      expect(Math.abs((await firstFrameNumber(out)) - firstWanted)).toBeLessThanOrEqual(1);
      const probed = await ffprobeJson(out);
      const video = probed.streams.find((s) => s.codec_type === "video")!;
      expect(Number(video.nb_frames)).toBe(Math.ceil(c.end * fps - 1e-6) - firstWanted);
      expect(Math.abs(Number(probed.format.duration) - (c.end - c.start))).toBeLessThanOrEqual(1 / fps + 0.001);
      const audio = probed.streams.find((s) => s.codec_type === "audio")!;
      expect(Math.abs(Number(audio.duration) - (c.end - c.start))).toBeLessThanOrEqual(2 / fps);
      expect(await decodeErrors(out)).toBe("");

      // The copied GOPs (first keyframe at or after the start up to the last one at or before the end): the
      // same packets, byte for byte, at the same times less the clip's start. A keyframe packet differs only
      // by the SPS/PPS now carried in front of it (the re-encoded edges have their own). An MPEG-TS source's
      // frames also carry access unit delimiters, which the MP4 drops: there only times are compared. Times
      // count from the container's start, as the range does.
      const { stdout } = await run(await ffprobeBin(), [
        ...["-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0", src],
      ]);
      const zero = Math.round(Number(stdout) * 1000);
      const source = (await videoPackets(src)).map((p) => ({ ...p, ms: p.ms - zero }));
      const origin = Math.min(...source.filter((p) => p.ms >= c.start * 1000 - 1).map((p) => p.ms));
      const keys = source.filter((p) => p.key).map((p) => p.ms);
      const k1 = Math.min(...keys.filter((ms) => ms >= c.start * 1000 - 1));
      const k2 = Math.max(...keys.filter((ms) => ms <= c.end * 1000 + 1));
      const inMiddle = (ms: number) => ms >= k1 && ms < k2;
      const fromSource = source.filter((p) => inMiddle(p.ms));
      const inClip = (await videoPackets(out)).filter((p) => inMiddle(p.ms + origin));
      expect(inClip.length).toBe(fromSource.length);
      expect(inClip.length).toBe(((k2 - k1) / 1000) * fps);
      if (!ts) {
        expect(inClip.filter((p) => !p.key).map((p) => p.md5)).toEqual(
          fromSource.filter((p) => !p.key).map((p) => p.md5),
        );
      }
      expect(inClip.filter((p) => p.key).map((p) => p.ms + origin)).toEqual(
        fromSource.filter((p) => p.key).map((p) => p.ms),
      );
    }, 120_000);
  }

  it("keyframes that are not IDR (x264 open GOP) fail the smart cut's check: the range is re-encoded", async () => {
    // The plan cannot tell from packet flags (nothing crosses the keyframes in decode order here), but the
    // copied I-frame does not reset the decoder after the head's frames: the checking decode reports it.
    const src = await makeNumberedVideo(path.join(work, "open-gop.mp4"), { seconds: 10, fps: 25, openGop: true });
    const { out, mode, reason } = await cut(src, 1.5, 7.3);
    expect(mode).toBe("reencode");
    expect(reason).toMatch(/^the smart cut failed: the clip does not decode cleanly/);
    expect(Math.abs((await firstFrameNumber(out)) - Math.ceil(1.5 * 25))).toBeLessThanOrEqual(1);
  }, 60_000);

  it("a source that is not H.264 is re-encoded whole", async () => {
    const src = await makeClip(path.join(work, "mpeg4.mp4"), {
      codec: "mpeg4",
      seconds: 6,
      width: 320,
      height: 180,
      fps: 25,
    });
    const { out, mode, reason } = await cut(src, 1.3, 5.1);
    expect(mode).toBe("reencode");
    expect(reason).toMatch(/mpeg4, not H\.264/);
    const probed = await ffprobeJson(out);
    expect(probed.streams.find((s) => s.codec_type === "video")!.codec_name).toBe("h264");
    expect(Math.abs(Number(probed.format.duration) - 3.8)).toBeLessThanOrEqual(1 / 25 + 0.001);
  }, 60_000);

  it("a range past the media's end is input_no_media, an unreadable source input_unreadable", async () => {
    const src = await makeNumberedVideo(path.join(work, "short.mp4"), { seconds: 2, fps: 25 });
    await expect(cut(src, 5, 6)).rejects.toMatchObject({ name: "InputError", code: "input_no_media" });
    const junk = path.join(work, "junk");
    (await import("node:fs")).writeFileSync(junk, "not media at all");
    const err = await cutClip(junk, { start_time: 0, end_time: 1 }, await binaries()).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.code).toBe("input_unreadable");
  }, 60_000);
});

describe("planSmartCut", () => {
  /** 12 s at 25 fps, a keyframe every 2 s, closed GOPs; `delay` frames between each dts and its pts. */
  function source(o: { delay?: number; edit?: (p: SourcePacket[]) => SourcePacket[] } = {}): SmartCutSource {
    const d = 0.04;
    let packets: SourcePacket[] = Array.from({ length: 300 }, (_, i) => ({
      pts: i * d,
      dts: (i - (o.delay ?? 0)) * d,
      key: i % 50 === 0,
    }));
    if (o.edit) packets = o.edit(packets);
    return {
      startTime: 0,
      codec: "h264",
      profile: "High",
      level: 31,
      pixFmt: "yuv420p",
      interlaced: false,
      rotation: 0,
      fps: 25,
      packets,
    };
  }
  const range = { start_time: 1.5, end_time: 9.3 };

  it("copies the GOPs from the first keyframe in the range to the last and re-encodes the frames around them", () => {
    expect(planSmartCut(source({ delay: 2 }), range)).toMatchObject({
      origin: 1.52,
      frames: 195,
      // Decoded from the keyframe at 0 s (its GOP), not from a preroll.
      head: { readFrom: -0.02, seek: 1.52, count: 12 },
      middle: { seek: 2 - 0.08, count: 150 },
      tail: { readFrom: 7.98, seek: 8, count: 33 },
      bframes: 3,
      profile: "high",
      level: "3.1",
    });
    // A range ending on a GOP boundary has no tail; one starting on a keyframe no head.
    const whole = planSmartCut(source(), { start_time: 2, end_time: 6 });
    expect(whole).toMatchObject({ middle: { count: 100 }, frames: 100 });
    expect(whole).not.toHaveProperty("head");
    expect(whole).not.toHaveProperty("tail");
  });

  it("refuses what it cannot splice exactly", () => {
    const reason = (s: SmartCutSource, r = range) => (planSmartCut(s, r) as { reason?: string }).reason;
    expect(reason({ ...source(), codec: "hevc" })).toMatch(/hevc, not H\.264/);
    expect(reason({ ...source(), pixFmt: "yuv420p10le" })).toMatch(/not 8-bit 4:2:0/);
    expect(reason({ ...source(), profile: "High 4:4:4 Predictive" })).toMatch(/profile/);
    expect(reason({ ...source(), interlaced: true })).toMatch(/interlaced/);
    expect(reason({ ...source(), rotation: 90 })).toMatch(/rotation/);
    expect(reason(source(), { start_time: 2.5, end_time: 5.5 })).toMatch(/no whole GOP/);
    expect(reason(source({ edit: (p) => p.filter((_, i) => i !== 120) }))).toMatch(/not constant/);
    expect(reason(source({ delay: 3 }))).toMatch(/decode delay/);
    // A frame shown before the keyframe at 8 s but decoded after it: an open GOP.
    const open = source({
      edit: (p) => p.map((x, i) => (i === 201 ? { ...x, pts: 7.96 } : i === 199 ? { ...x, pts: 8.04 } : x)),
    });
    expect(reason(open)).toMatch(/open/);
  });
});
