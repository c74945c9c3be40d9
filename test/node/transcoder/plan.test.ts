/** Pure decisions of the ffmpeg library and the HLS writer: no processes spawned here. */
import { describe, expect, it } from "vitest";
import { JobSettingsSchema } from "../../../src/lib/transcoder-protocol.js";
import { parseFfmpegVersion } from "../../../transcoder/src/ffmpeg/binaries.js";
import { InputError } from "../../../transcoder/src/ffmpeg/errors.js";
import { buildFfmpegArgs } from "../../../transcoder/src/ffmpeg/index.js";
import { buildLadderArgs, gopFrames, outputFrameRate, planRungs } from "../../../transcoder/src/ffmpeg/ladder.js";
import { posterSize, posterTime } from "../../../transcoder/src/ffmpeg/poster.js";
import type { MediaFacts, VideoFacts } from "../../../transcoder/src/ffmpeg/probe.js";
import { createProgressParser, type FfmpegProgress } from "../../../transcoder/src/ffmpeg/progress.js";
import { buildRemuxArgs } from "../../../transcoder/src/ffmpeg/remux.js";
import { buildStoryboardVtt, planStoryboard } from "../../../transcoder/src/ffmpeg/storyboard.js";
import { checkLimits, checkStandard, planSource } from "../../../transcoder/src/ffmpeg/validate.js";
import { aacCodec, avcCodecFromInit, avcCodecFromProfile } from "../../../transcoder/src/hls/codecs.js";
import { type MeasuredRendition, peakBitrate, renderMaster } from "../../../transcoder/src/hls/master.js";
import { parseMediaPlaylist } from "../../../transcoder/src/hls/media-playlist.js";
import { aspectRatio, classifyFailure, resolutionLabel } from "../../../transcoder/src/runner.js";
import { parseM3u8 } from "./helpers/media.js";

const settings = (over: Record<string, unknown> = {}) => JobSettingsSchema.parse({ source_size_bytes: 1000, ...over });

function videoFacts(over: Partial<VideoFacts> = {}): VideoFacts {
  return {
    index: 0,
    codec: "h264",
    profile: "High",
    level: 40,
    pixFmt: "yuv420p",
    bitDepth: 8,
    width: 1920,
    height: 1080,
    displayWidth: 1920,
    displayHeight: 1080,
    rotation: 0,
    rFrameRate: { num: 30, den: 1 },
    avgFrameRate: { num: 30, den: 1 },
    frameRate: 30,
    variableFrameRate: false,
    interlaced: false,
    keyframeInterval: 2,
    ...over,
  };
}

function facts(over: Partial<MediaFacts> = {}, video: Partial<VideoFacts> | null = {}): MediaFacts {
  return {
    container: "mp4",
    formatName: "mov,mp4,m4a,3gp,3g2,mj2",
    sizeBytes: 1000,
    duration: 10,
    video: video === null ? undefined : videoFacts(video),
    audio: { index: 1, codec: "aac", profile: "LC", channels: 2, sampleRate: 48000 },
    ...over,
  };
}

describe("planRungs", () => {
  const names = (w: number, h: number, max: Parameters<typeof planRungs>[2] = "1080p") =>
    planRungs(w, h, max).map((r) => `${r.name}:${r.width}x${r.height}`);

  it("gives every standard rung up to the source", () => {
    expect(names(1280, 720)).toEqual(["v720:1280x720", "v480:854x480", "v360:640x360"]);
    expect(names(1920, 1080)).toEqual(["v1080:1920x1080", "v720:1280x720", "v480:854x480", "v360:640x360"]);
  });

  it("never upscales", () => {
    expect(names(854, 480)).toEqual(["v480:854x480", "v360:640x360"]);
  });

  it("caps a 4K source at max_resolution", () => {
    expect(names(3840, 2160, "1080p")).toEqual(["v1080:1920x1080", "v720:1280x720", "v480:854x480", "v360:640x360"]);
    expect(names(3840, 2160, "2160p")[0]).toBe("v2160:3840x2160");
    expect(names(1920, 1080, "720p")).toEqual(["v720:1280x720", "v480:854x480", "v360:640x360"]);
  });

  it("keeps dimensions even for odd sources", () => {
    expect(names(853, 481)).toEqual(["v480:852x480", "v360:638x360"]);
  });

  it("applies the ladder to the short side of portrait video", () => {
    expect(names(1080, 1920, "720p")).toEqual(["v720:720x1280", "v480:480x854", "v360:360x640"]);
  });

  it("always has one rung: 240 below 360, or the source's own size below 240", () => {
    expect(names(400, 300)).toEqual(["v240:320x240"]);
    expect(names(1280, 720, "240p")).toEqual(["v240:426x240"]);
    expect(names(160, 120)).toEqual(["v120:160x120"]);
    expect(names(97, 61)).toEqual(["v60:96x60"]);
  });

  it("raises the peak rate for high frame rates", () => {
    const [at30] = planRungs(1280, 720, "1080p", 30);
    const [at60] = planRungs(1280, 720, "1080p", 60);
    expect(at60.maxrateKbps).toBeGreaterThan(at30.maxrateKbps);
    expect(at30.bufsizeKbps).toBe(at30.maxrateKbps * 2);
  });
});

describe("outputFrameRate", () => {
  it("keeps standard constant rates", () => {
    expect(
      outputFrameRate(videoFacts({ rFrameRate: { num: 30000, den: 1001 }, avgFrameRate: { num: 30000, den: 1001 } })),
    ).toEqual({
      num: 30000,
      den: 1001,
    });
    expect(outputFrameRate(videoFacts({ rFrameRate: { num: 25, den: 1 }, avgFrameRate: { num: 25, den: 1 } }))).toEqual(
      { num: 25, den: 1 },
    );
  });

  it("caps at 60 by dividing down", () => {
    expect(
      outputFrameRate(videoFacts({ rFrameRate: { num: 120, den: 1 }, avgFrameRate: { num: 120, den: 1 } })),
    ).toEqual({ num: 60, den: 1 });
    expect(
      outputFrameRate(videoFacts({ rFrameRate: { num: 100, den: 1 }, avgFrameRate: { num: 100, den: 1 } })),
    ).toEqual({ num: 50, den: 1 });
    expect(
      outputFrameRate(videoFacts({ rFrameRate: { num: 120000, den: 1001 }, avgFrameRate: { num: 120000, den: 1001 } })),
    ).toEqual({ num: 60000, den: 1001 });
  });

  it("normalizes variable frame rate to the base rate, snapped", () => {
    expect(
      outputFrameRate(
        videoFacts({ rFrameRate: { num: 30, den: 1 }, avgFrameRate: { num: 3600, den: 179 }, variableFrameRate: true }),
      ),
    ).toEqual({ num: 30, den: 1 });
    expect(
      outputFrameRate(
        videoFacts({
          rFrameRate: { num: 90000, den: 1 },
          avgFrameRate: { num: 2997, den: 100 },
          variableFrameRate: true,
        }),
      ),
    ).toEqual({ num: 30000, den: 1001 });
  });

  it("defaults to 30 when nothing is known, and derives a 2 s GOP", () => {
    expect(outputFrameRate(videoFacts({ rFrameRate: undefined, avgFrameRate: undefined }))).toEqual({
      num: 30,
      den: 1,
    });
    expect(gopFrames({ num: 30000, den: 1001 })).toBe(60);
    expect(gopFrames({ num: 25, den: 1 })).toBe(50);
  });
});

describe("argument builders", () => {
  it("builds one ffmpeg process with a split graph and one HLS output per rendition", () => {
    const args = buildLadderArgs({
      kind: "ladder",
      input: "/tmp/src",
      video: { streamIndex: 0, rungs: planRungs(1280, 720, "1080p"), frameRate: { num: 30, den: 1 } },
      audioStreamIndex: 1,
    });
    const graph = args[args.indexOf("-filter_complex") + 1];
    expect(graph).toBe(
      "[0:0]fps=30/1,split=3[s0][s1][s2];[s0]scale=1280:720,setsar=1,format=yuv420p[v0];" +
        "[s1]scale=854:480,setsar=1,format=yuv420p[v1];[s2]scale=640:360,setsar=1,format=yuv420p[v2]",
    );
    expect(args.filter((a) => a === "-f").length).toBe(4);
    expect(args).toContain("v720/index.m3u8");
    expect(args).toContain("audio/index.m3u8");
    expect(args).toContain("expr:gte(t,n_forced*2)");
    // Options that ffmpeg 4.x lacks or that hand the master to ffmpeg are never used.
    for (const banned of ["-fps_mode", "-var_stream_map", "-master_pl_name", "-stats_period"])
      expect(args).not.toContain(banned);
    expect(args[args.indexOf("-hls_segment_type") + 1]).toBe("fmp4");
  });

  it("dispatches by kind", () => {
    const remux = { kind: "remux" as const, input: "/tmp/src", videoIndex: 0, audioIndex: 1, adtsToAsc: true };
    expect(buildFfmpegArgs(remux)).toEqual(buildRemuxArgs(remux));
    expect(buildRemuxArgs(remux)).toEqual(
      expect.arrayContaining(["-c", "copy", "-bsf:a", "aac_adtstoasc", "fast/seg_%05d.m4s", "fast/index.m3u8"]),
    );
  });

  it("refuses a ladder with nothing to encode", () => {
    expect(() => buildLadderArgs({ kind: "ladder", input: "/x" })).toThrow();
  });
});

describe("ffmpeg helpers", () => {
  it("parses -progress blocks, including ffmpeg 4's out_time_ms", () => {
    const seen: FfmpegProgress[] = [];
    const feed = createProgressParser(10, (p) => seen.push(p));
    feed("frame=1\nout_time_us=N/A\nprogress=continue\nframe=30\nout_time_");
    feed("us=2500000\nspeed=2.5x\nprogress=continue\n");
    feed("out_time_ms=5000000\nprogress=continue\nout_time=00:00:07.500000\nprogress=continue\nprogress=end\n");
    expect(seen.map((p) => p.percent)).toEqual([0, 25, 50, 75, 100]);
    expect(seen[1].speed).toBe(2.5);
    expect(seen.at(-1)?.done).toBe(true);
  });

  it("parses ffmpeg version banners", () => {
    expect(parseFfmpegVersion("ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026")).toEqual({
      raw: "5.1.9-0+deb12u1",
      major: 5,
      minor: 1,
    });
    expect(parseFfmpegVersion("ffmpeg version n7.1 Copyright")).toMatchObject({ major: 7, minor: 1 });
    expect(parseFfmpegVersion("ffmpeg version N-47683-g0e8eb07980-static https://…")).toEqual({
      raw: "N-47683-g0e8eb07980-static",
    });
  });

  it("plans posters and storyboards", () => {
    expect(posterTime(100)).toBe(10);
    expect(posterTime(4)).toBe(1);
    expect(posterTime(1)).toBe(0.5);
    expect(posterSize(1920, 1080)).toEqual({ width: 1280, height: 720 });
    expect(posterSize(853, 481)).toEqual({ width: 854, height: 482 });

    const long = planStoryboard(3600, 1280, 720, { intervalStep: 2 });
    expect(long).toMatchObject({ interval: 36, count: 100, columns: 10, rows: 10, thumbWidth: 160, thumbHeight: 90 });
    const short = planStoryboard(5, 640, 360);
    expect(short).toMatchObject({ interval: 1, count: 5, columns: 5, rows: 1 });
    const vtt = buildStoryboardVtt(planStoryboard(25, 640, 360, { intervalStep: 2 }));
    const cues = vtt.trim().split("\n\n").slice(1);
    expect(vtt.startsWith("WEBVTT\n")).toBe(true);
    expect(cues).toHaveLength(13);
    expect(cues[0]).toBe("00:00:00.000 --> 00:00:02.000\nstoryboard.jpg#xywh=0,0,160,90");
    expect(cues[11]).toBe("00:00:22.000 --> 00:00:24.000\nstoryboard.jpg#xywh=160,90,160,90");
    expect(cues[12]).toBe("00:00:24.000 --> 00:00:25.000\nstoryboard.jpg#xywh=320,90,160,90");
  });
});

describe("validate", () => {
  it("enforces duration and size limits", () => {
    expect(() => checkLimits(facts({ duration: 61 }), settings({ max_duration_seconds: 60 }))).toThrow(
      expect.objectContaining({ code: "input_too_long" }),
    );
    expect(() => checkLimits(facts({ sizeBytes: 2000 }), settings({ max_size_bytes: 1500 }))).toThrow(
      expect.objectContaining({ code: "input_too_large" }),
    );
    expect(() => checkLimits(facts(), settings({ max_duration_seconds: 60, max_size_bytes: 1500 }))).not.toThrow();
  });

  it("accepts a standard H.264/AAC source for the fast path", () => {
    expect(checkStandard(facts())).toEqual({ standard: true, reasons: [] });
    expect(checkStandard(facts({ audio: undefined, container: "ts" })).standard).toBe(true);
    expect(planSource(facts(), settings())).toEqual({ kind: "video", fastPath: true, reasons: [] });
    expect(planSource(facts(), settings({ fast_path: false })).fastPath).toBe(false);
  });

  it.each([
    ["HEVC", {}, { codec: "hevc" }, /video codec hevc/],
    ["10-bit", {}, { pixFmt: "yuv420p10le", bitDepth: 10 }, /pixel format/],
    ["4K", {}, { width: 3840, height: 2160, displayWidth: 3840, displayHeight: 2160 }, /above 1080p/],
    ["VFR", {}, { variableFrameRate: true }, /variable frame rate/],
    ["long GOP", {}, { keyframeInterval: 12 }, /keyframes 12.0 s apart/],
    ["rotated", {}, { rotation: 90, displayWidth: 1080, displayHeight: 1920 }, /rotated/],
    ["interlaced", {}, { interlaced: true }, /interlaced/],
    ["webm", { container: "webm" }, {}, /container webm/],
    ["opus audio", { audio: { index: 1, codec: "opus", channels: 2, sampleRate: 48000 } }, {}, /audio codec opus/],
  ] as const)("sends %s sources through the ladder", (_name, over, video, reason) => {
    const check = checkStandard(facts(over as Partial<MediaFacts>, video as Partial<VideoFacts>));
    expect(check.standard).toBe(false);
    expect(check.reasons.join("; ")).toMatch(reason);
  });

  it("treats audio-only sources as audio assets", () => {
    expect(planSource(facts({}, null), settings())).toMatchObject({ kind: "audio", fastPath: false });
  });
});

describe("HLS writer", () => {
  it("reads ffmpeg's media playlists and refuses paths outside the folder", () => {
    const text =
      '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:6.006000,\nseg_00000.m4s\n#EXTINF:1.001000,\nseg_00001.m4s\n#EXT-X-ENDLIST\n';
    expect(parseMediaPlaylist(text)).toEqual({
      version: 7,
      targetDuration: 6,
      playlistType: "VOD",
      mapUri: "init.mp4",
      segments: [
        { uri: "seg_00000.m4s", duration: 6.006 },
        { uri: "seg_00001.m4s", duration: 1.001 },
      ],
      endList: true,
    });
    expect(() => parseMediaPlaylist(text.replace("seg_00001.m4s", "../../etc/passwd"))).toThrow();
  });

  it("computes the peak over 0.5–1.5× target-duration windows, ignoring a tiny last segment", () => {
    const segs = [
      { bytes: 600_000, duration: 6 },
      { bytes: 750_000, duration: 6 },
      { bytes: 100_000, duration: 0.2 },
    ];
    // 750 kB over 6 s = 1 Mbit/s; the 0.2 s tail alone (4 Mbit/s) is never a window by itself.
    expect(peakBitrate(segs, 6)).toBeCloseTo((850_000 * 8) / 6.2, 0);
    expect(peakBitrate([{ bytes: 1000, duration: 1 }], 6)).toBe(8000);
  });

  it("derives codec strings", () => {
    const init = Buffer.concat([Buffer.from("....avcC"), Buffer.from([1, 0x64, 0x00, 0x1f, 0xff])]);
    expect(avcCodecFromInit(init)).toBe("avc1.64001f");
    expect(avcCodecFromInit(Buffer.from("no box here"))).toBeUndefined();
    expect(avcCodecFromProfile("Constrained Baseline", 30)).toBe("avc1.42401e");
    expect(avcCodecFromProfile("Main", 31)).toBe("avc1.4d001f");
    expect(aacCodec("LC")).toBe("mp4a.40.2");
    expect(aacCodec("HE-AAC")).toBe("mp4a.40.5");
  });

  const rendition = (over: Partial<MeasuredRendition>): MeasuredRendition => ({
    name: "v720",
    type: "video",
    playlist: "v720/index.m3u8",
    codecs: "avc1.64001f",
    videoCodec: "avc1.64001f",
    bandwidth: 2_000_000,
    average_bandwidth: 1_500_000,
    segments: 2,
    width: 1280,
    height: 720,
    frame_rate: 29.97,
    totalBytes: 1,
    duration: 12,
    ...over,
  });

  it("renders a ladder master with an audio group", () => {
    const text = renderMaster(
      [
        rendition({
          name: "v360",
          playlist: "v360/index.m3u8",
          width: 640,
          height: 360,
          bandwidth: 500_000,
          average_bandwidth: 400_000,
        }),
        rendition({}),
        rendition({
          name: "audio",
          type: "audio",
          playlist: "audio/index.m3u8",
          codecs: "mp4a.40.2",
          videoCodec: undefined,
          audioCodec: "mp4a.40.2",
          channels: 2,
          width: undefined,
          height: undefined,
          frame_rate: undefined,
          bandwidth: 140_000,
          average_bandwidth: 130_000,
        }),
      ],
      { audioLanguage: "en" },
    );
    expect(text).toContain("#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    expect(text).toContain(
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"',
    );
    const m = parseM3u8(text);
    expect(m.playlists.map((p) => p.uri)).toEqual(["v720/index.m3u8", "v360/index.m3u8"]);
    expect(m.playlists[0].attributes).toMatchObject({
      BANDWIDTH: 2_140_000,
      "AVERAGE-BANDWIDTH": "1630000",
      CODECS: "avc1.64001f,mp4a.40.2",
      RESOLUTION: { width: 1280, height: 720 },
      "FRAME-RATE": 29.97,
      AUDIO: "audio",
    });
    expect(text).toContain("FRAME-RATE=29.970");
  });

  it("renders fast and audio-only masters as a single variant", () => {
    const fast = renderMaster([
      rendition({ name: "fast", type: "muxed", playlist: "fast/index.m3u8", codecs: "avc1.42c01e,mp4a.40.2" }),
    ]);
    expect(parseM3u8(fast).playlists).toHaveLength(1);
    expect(fast).toContain('CODECS="avc1.42c01e,mp4a.40.2"');
    expect(fast).not.toContain("EXT-X-MEDIA");
    const audioOnly = renderMaster([
      rendition({
        name: "audio",
        type: "audio",
        playlist: "audio/index.m3u8",
        codecs: "mp4a.40.2",
        width: undefined,
        height: undefined,
        frame_rate: undefined,
      }),
    ]);
    const m = parseM3u8(audioOnly);
    expect(m.playlists).toHaveLength(1);
    expect(m.playlists[0].uri).toBe("audio/index.m3u8");
    expect(audioOnly).not.toContain("RESOLUTION");
  });
});

describe("runner helpers", () => {
  it("labels resolutions and aspect ratios", () => {
    expect(resolutionLabel(1080)).toBe("1080p");
    expect(resolutionLabel(481)).toBe("480p");
    expect(resolutionLabel(120)).toBe("120p");
    expect(aspectRatio(1920, 1080)).toBe("16:9");
    expect(aspectRatio(853, 481)).toBe("16:9");
    expect(aspectRatio(1080, 1920)).toBe("9:16");
    expect(aspectRatio(640, 480)).toBe("4:3");
    expect(aspectRatio(1920, 800)).toBe("12:5");
    expect(aspectRatio(1000, 417)).toBe("2.40:1");
  });

  it("classifies failures into retryable or not", () => {
    expect(classifyFailure(new InputError("input_no_media", "x"))).toMatchObject({
      code: "input_no_media",
      retryable: false,
    });
    expect(classifyFailure(new Error("ENOSPC"))).toMatchObject({ code: "internal_error", retryable: true });
  });
});
