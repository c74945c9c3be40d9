/**
 * The audio lead of a live MPEG-TS segment (src/live/recording-clip.ts, tsVideoLeadSeconds), read from its
 * PES headers by the Worker, against what ffprobe reports for the same real segments (ffmpeg's own HLS
 * muxer stream-copying H.264 with B-frames and AAC, as a broadcaster's encoder would): the first video
 * frame's start_time minus the earliest stream's. A clip of a live recording shifts its range by it.
 * And the pure planning: which recorded segments a clip's source is made of, and its time origin.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mediaPlaylist } from "../../src/live/hls";
import { parseRecordingPlaylist, planRecordingClip, tsVideoLeadSeconds } from "../../src/live/recording-clip";
import { ffprobeJson, runFfmpeg } from "./support/media";

describe("tsVideoLeadSeconds on real segments", () => {
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-lead-"));
  let segments: string[] = [];

  beforeAll(async () => {
    const src = path.join(work, "src.ts");
    await runFfmpeg([
      ...["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=12"],
      ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=12"],
      ...["-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac"],
      ...["-f", "mpegts", src],
    ]);
    await runFfmpeg([
      ...["-i", src, "-c", "copy", "-f", "hls", "-hls_time", "2", "-hls_list_size", "0"],
      ...["-hls_segment_filename", path.join(work, "seg%d.ts"), path.join(work, "index.m3u8")],
    ]);
    segments = readdirSync(work)
      .filter((f) => /^seg\d+\.ts$/.test(f))
      .map((f) => path.join(work, f));
  }, 60_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("matches ffprobe's video start minus the earliest start, segment by segment", async () => {
    expect(segments.length).toBeGreaterThanOrEqual(5);
    let leading = 0;
    for (const seg of segments) {
      const probed = await ffprobeJson(seg);
      const starts = probed.streams.map((s) => Number((s as { start_time?: string }).start_time));
      const video = Number(
        (probed.streams.find((s) => s.codec_type === "video") as { start_time?: string }).start_time,
      );
      const expected = video - Math.min(...starts);
      const got = tsVideoLeadSeconds(new Uint8Array(readFileSync(seg)));
      expect(Math.abs(got - expected), path.basename(seg)).toBeLessThan(0.0005);
      if (expected > 0.04) leading++;
    }
    // The case it exists for: segments whose audio starts a frame or more before their keyframe.
    expect(leading).toBeGreaterThan(0);
  });

  it("is 0 for bytes that are not a transport stream, or with no video", () => {
    expect(tsVideoLeadSeconds(new Uint8Array(4096))).toBe(0);
    expect(tsVideoLeadSeconds(new Uint8Array(0))).toBe(0);
  });
});

describe("planRecordingClip", () => {
  const seg = (i: number, map: string | null = null, duration = 2) => ({
    uri: `c1-${i}.ts`,
    duration,
    map,
    bytes: 100 + i,
  });

  it("takes the segment holding start, one before and one after end; the origin is where the first starts", () => {
    const segments = [0, 1, 2, 3, 4, 5].map((i) => seg(i));
    const planned = planRecordingClip({ dir: "d/", segments, inits: {} }, { start: 6.5, end: 7.5 });
    expect(planned).toEqual({
      ok: true,
      plan: {
        container: "mpegts",
        dir: "d/",
        parts: [2, 3, 4].map((i) => ({ name: `c1-${i}.ts`, size: 100 + i })),
        origin: 4,
      },
    });
    // At the very start and the very end there is nothing more to take.
    const edges = planRecordingClip({ dir: "d/", segments, inits: {} }, { start: 0, end: 12 });
    expect(edges.ok && edges.plan.parts.map((p) => p.name)).toEqual(segments.map((s) => s.uri));
    expect(edges.ok && edges.plan.origin).toBe(0);
  });

  it("puts an fMP4 rendition's init segment first, and refuses a range across two of them", () => {
    const segments = [seg(0, "init-c1.mp4"), seg(1, "init-c1.mp4"), seg(2, "init-c2.mp4"), seg(3, "init-c2.mp4")];
    const one = planRecordingClip({ dir: "d/", segments, inits: { "init-c2.mp4": 900 } }, { start: 6.2, end: 7 });
    expect(one.ok && one.plan.container).toBe("fmp4");
    expect(one.ok && one.plan.parts.map((p) => [p.name, p.size])).toEqual([
      ["init-c2.mp4", 900],
      ["c1-2.ts", 102],
      ["c1-3.ts", 103],
    ]);
    const across = planRecordingClip({ dir: "d/", segments, inits: {} }, { start: 3, end: 5 });
    expect(across).toMatchObject({ ok: false, reason: expect.stringContaining("reconnect") });
    expect(planRecordingClip({ dir: "d/", segments: [], inits: {} }, { start: 0, end: 1 }).ok).toBe(false);
  });

  it("reads back the VOD playlist the DO writes (durations, EXT-X-MAP, discontinuities)", () => {
    const segments = [
      { seq: 0, duration: 2, uri: "c1-0.m4s", disc: false, map: "init-c1.mp4" },
      { seq: 1, duration: 1.5, uri: "c1-1.m4s", disc: false, map: "init-c1.mp4" },
      { seq: 2, duration: 2.25, uri: "c2-0.m4s", disc: true, map: "init-c2.mp4" },
    ];
    const text = mediaPlaylist(
      { targetDuration: 2, mediaSequence: 0, discontinuitySequence: 0, segments },
      (n) => n,
      true,
    );
    expect(parseRecordingPlaylist(text)).toEqual(
      segments.map((s) => ({ uri: s.uri, duration: s.duration, map: s.map })),
    );
  });
});
