/**
 * The in-process packet index (transcoder/src/ffmpeg/mp4-samples.ts) against ffprobe's own listing of the
 * same files, packet for packet: real encoder output (B-frames, AAC priming, 25 and 23.976 fps, VFR, MOV, a
 * 90 kHz track, audio only), and the files it must hand back to ffprobe instead (an MP3 priming edit inside
 * the first packet, a fragmented file, the index after the media, PCM's constant-size samples).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  fillDurations,
  indexPackets,
  probeIndexed,
  probeStandIn,
  writeSparseStandIn,
} from "../../../transcoder/src/ffmpeg/mp4-index.js";
import { ffprobeSeconds, moovPackets, Unsupported } from "../../../transcoder/src/ffmpeg/mp4-samples.js";
import { runFfmpeg } from "../support/media.js";
import { type ClipSpec, makeClip, removeDir, tempDir } from "./helpers/media.js";

let dir: string;
beforeAll(async () => {
  dir = await tempDir("kf-mp4-samples-");
});
afterAll(async () => {
  await removeDir(dir);
});

const FASTSTART = ["-movflags", "+faststart"];

const READ_HERE: [string, string, ClipSpec][] = [
  ["B-frames and an AAC priming edit", "bframes.mp4", { duration: 5, extra: ["-preset", "veryfast", ...FASTSTART] }],
  ["no B-frames, AAC at 44.1 kHz", "plain.mp4", { duration: 5, extra: FASTSTART }],
  ["video only, 25 fps, 4 s GOP", "video-only.mp4", { duration: 9, fps: 25, gop: 4, audio: false, extra: FASTSTART }],
  [
    "23.976 fps with B-frames",
    "ntsc.mp4",
    { duration: 5, fps: "24000/1001", extra: ["-preset", "veryfast", ...FASTSTART] },
  ],
  ["variable frame rate", "vfr.mp4", { duration: 5, vfr: true, extra: FASTSTART }],
  ["a MOV", "clip.mov", { duration: 4, extra: ["-preset", "veryfast", ...FASTSTART] }],
  ["a 90 kHz video timescale", "ts90k.mp4", { duration: 4, extra: ["-video_track_timescale", "90000", ...FASTSTART] }],
  ["audio only", "audio.m4a", { duration: 4, video: false, extra: FASTSTART }],
];

const HANDED_BACK: [string, string, ClipSpec, RegExp][] = [
  [
    "MP3 priming that ends inside a packet",
    "mp3.mp4",
    { duration: 3, audioCodec: "libmp3lame", extra: FASTSTART },
    /edit that starts inside/,
  ],
  ["a fragmented MP4", "frag.mp4", { duration: 3, extra: ["-movflags", "+frag_keyframe+empty_moov"] }, /fragmented/],
  ["the index after the media", "moov-last.mp4", { duration: 3 }, /no moov box before the media/],
  ["PCM in a MOV", "pcm.mov", { duration: 3, audioCodec: "pcm_s16le", extra: FASTSTART }, /constant-size samples/],
];

/** The first 2 MiB, as the streaming ingest reads them, and the whole file's size. */
async function head(file: string): Promise<{ bytes: Buffer; size: number }> {
  const whole = await readFile(file);
  return { bytes: whole.subarray(0, 2 * 1024 * 1024), size: whole.length };
}

describe("the packet index read from the moov", () => {
  it.each(READ_HERE)("equals ffprobe's listing: %s", async (_, name, spec) => {
    const file = await makeClip(dir, name, spec);
    const { bytes, size } = await head(file);
    const { packets, tracks } = moovPackets(bytes, size);
    const listed = await indexPackets(file);
    expect(listed.length).toBeGreaterThan(50);
    expect(fillDurations(packets)).toEqual(listed);
    expect(tracks.map((t) => t.handler)).toEqual([
      ...(spec.video === false ? [] : ["vide"]),
      ...(spec.audio === false ? [] : ["soun"]),
    ]);
  });

  it.each(HANDED_BACK)("hands %s back to ffprobe", async (_, name, spec, why) => {
    const file = await makeClip(dir, name, spec);
    const { bytes, size } = await head(file);
    expect(() => moovPackets(bytes, size)).toThrow(Unsupported);
    expect(() => moovPackets(bytes, size)).toThrow(why);
  });

  it("probes a stand-in with ffprobe's facts and the moov's index, or with ffprobe alone when the moov is not read here", async () => {
    const cases: [string, ClipSpec, "moov" | "ffprobe"][] = [
      ["stand-in-bframes.mp4", { duration: 6, extra: ["-preset", "veryfast", ...FASTSTART] }, "moov"],
      ["stand-in-mp3.mp4", { duration: 6, audioCodec: "libmp3lame", extra: FASTSTART }, "ffprobe"],
    ];
    for (const [name, spec, by] of cases) {
      const file = await makeClip(dir, name, spec);
      const { bytes, size } = await head(file);
      // As the ingest makes it: the head's bytes in a sparse file of the full size.
      const standIn = path.join(dir, `${name}.stand-in`);
      await writeSparseStandIn(standIn, bytes.subarray(0, 64 * 1024), size);
      const got = await probeStandIn(standIn, bytes.subarray(0, 64 * 1024), size);
      const viaFfprobe = await probeIndexed(standIn);
      expect(got.indexedBy).toBe(by);
      if (by === "ffprobe") expect(got.reason).toMatch(/edit that starts inside/);
      expect(got.packets).toEqual(viaFfprobe.packets);
      expect(got.facts).toEqual(viaFfprobe.facts);
      expect(got.firstStreams).toEqual(viaFfprobe.firstStreams);
    }
    // Cover art: the moov's tracks read fine, but ffprobe adds an attached-picture stream (from udta/covr) the
    // tracks do not number, so the streams are not the tracks one for one and ffprobe lists the packets.
    const withCover = path.join(dir, "cover.mp4");
    const plain = await makeClip(dir, "cover-source.mp4", { duration: 4 });
    const picture = await makeClip(dir, "cover.png", {
      duration: 1,
      audio: false,
      videoCodec: "png",
      pixFmt: "rgb24",
      extra: ["-frames:v", "1"],
    });
    await runFfmpeg([
      ...["-i", plain, "-i", picture, "-map", "0", "-map", "1:v", "-frames:v:1", "1"],
      ...["-c:v:0", "copy", "-c:a", "copy", "-c:v:1", "png", "-disposition:v:1", "attached_pic", ...FASTSTART],
      withCover,
    ]);
    const cover = await head(withCover);
    const coverStandIn = `${withCover}.stand-in`;
    await writeSparseStandIn(coverStandIn, cover.bytes.subarray(0, 64 * 1024), cover.size);
    expect(moovPackets(cover.bytes, cover.size).tracks.map((t) => t.handler)).toEqual(["vide", "soun"]);
    const covered = await probeStandIn(coverStandIn, cover.bytes.subarray(0, 64 * 1024), cover.size);
    expect(covered.indexedBy).toBe("ffprobe");
    expect(covered.reason).toBe("ffprobe's streams are not the moov's tracks");
    expect(covered.packets).toEqual((await probeIndexed(coverStandIn)).packets);

    // The operator's switch: every file to ffprobe.
    const file = path.join(dir, "stand-in-bframes.mp4");
    const { bytes, size } = await head(file);
    process.env.TRANSCODER_MOOV_INDEX = "0";
    try {
      const forced = await probeStandIn(`${file}.stand-in`, bytes.subarray(0, 64 * 1024), size);
      expect(forced.indexedBy).toBe("ffprobe");
      expect(forced.reason).toBe("TRANSCODER_MOOV_INDEX=0");
    } finally {
      delete process.env.TRANSCODER_MOOV_INDEX;
    }
  });

  it("answers a damaged moov with a packet list or Unsupported, never another error", async () => {
    const file = await makeClip(dir, "fuzz.mp4", { duration: 3, extra: ["-preset", "veryfast", ...FASTSTART] });
    const { bytes, size } = await head(file);
    const moovAt = bytes.indexOf(Buffer.from("moov")) - 4;
    const moovEnd = moovAt + bytes.readUInt32BE(moovAt);
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const outcomes = { read: 0, unsupported: 0 };
    for (let i = 0; i < 300; i++) {
      const damaged = Buffer.from(bytes);
      for (let k = 0; k < 3; k++)
        damaged[moovAt + Math.floor(random() * (moovEnd - moovAt))] = Math.floor(random() * 256);
      try {
        moovPackets(damaged, size);
        outcomes.read++;
      } catch (err) {
        expect(err).toBeInstanceOf(Unsupported);
        outcomes.unsupported++;
      }
    }
    // Most damage lands in tables whose values are read as they are (times, sizes); some breaks the structure.
    expect(outcomes.read).toBeGreaterThan(0);
    expect(outcomes.unsupported).toBeGreaterThan(0);
  });

  it("prints times as ffprobe does, a tie to even", () => {
    // C's "%f" rounds an exactly representable tie to even; JavaScript's toFixed rounds it up.
    expect(ffprobeSeconds(1, 128)).toBe(0.007812);
    expect(ffprobeSeconds(3, 128)).toBe(0.023438);
    expect(ffprobeSeconds(-1, 128)).toBe(-0.007812);
    expect(ffprobeSeconds(1, 30)).toBe(0.033333);
    expect(ffprobeSeconds(2, 3)).toBe(0.666667);
    expect(ffprobeSeconds(123456, 90000)).toBe(1.371733);
  });
});
