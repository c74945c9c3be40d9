/**
 * The live ladder's pure pieces: the settings check (what a create/PATCH refuses, per field), the rendition
 * window (source sequence numbers, gaps, never a gap at the live edge), freshness (a rendition that stopped
 * advancing leaves the master) and the masters the edge and the recording write.
 */
import { describe, expect, it } from "vitest";
import { ladderProblems, sortRenditions } from "../../src/lib/live-ladder-protocol";
import type { LiveSegment, PublishedLiveState } from "../../src/live/hls";
import { mediaPlaylist } from "../../src/live/hls";
import { ladderMasterPlaylist, renditionFresh, renditionSegments, STALE_SEGMENTS } from "../../src/live/ladder";
import { liveLadderMaster, liveRenditionMedia } from "../../workers/edge/src/live-ladder";

const seg = (seq: number, disc = false): LiveSegment => ({ seq, duration: 2, uri: `c1-${seq}.ts`, disc, map: null });

describe("ladder settings", () => {
  it("accepts a sorted-out ladder under the cap", () => {
    expect(ladderProblems(["240p", "720p"], { maxResolution: "1080p", latencyMode: "standard" })).toEqual([]);
    expect(sortRenditions(["240p", "720p", "480p"])).toEqual(["720p", "480p", "240p"]);
  });
  it("names each bad entry", () => {
    expect(ladderProblems(["720p", "360p", "360p"], { maxResolution: "480p", latencyMode: "standard" })).toEqual([
      { index: 0, message: "720p is above recording.new_asset_settings.max_resolution (480p)" },
      { index: 2, message: "360p is listed twice" },
    ]);
    expect(ladderProblems(["360p"], { maxResolution: "1080p", latencyMode: "low" })[0].index).toBeNull();
    expect(
      ladderProblems(["1080p", "720p", "480p", "360p", "240p"], { maxResolution: "1080p", latencyMode: "standard" }),
    ).toEqual([{ index: null, message: "at most 4 renditions" }]);
    expect(ladderProblems([], { maxResolution: "240p", latencyMode: "low" })).toEqual([]);
  });
});

describe("rendition window", () => {
  const window = [seg(10), seg(11), seg(12, true), seg(13), seg(14)];
  it("follows the source's numbers and discontinuities, gaps where it missed one, ends at its newest", () => {
    const r = renditionSegments(window, "360p", new Set([10, 12, 13]));
    expect(r.map((s) => [s.seq, s.uri, s.gap, s.disc])).toEqual([
      [10, "360p-10.ts", false, false],
      [11, "gap.ts", true, false],
      [12, "360p-12.ts", false, true],
      [13, "360p-13.ts", false, false],
    ]);
    const text = mediaPlaylist(
      { targetDuration: 6, mediaSequence: 10, discontinuitySequence: 0, segments: r },
      (n) => n,
    );
    expect(text).toContain("#EXT-X-MEDIA-SEQUENCE:10");
    expect(text).toContain("#EXT-X-GAP\n#EXTINF:2.000000,\ngap.ts");
    expect(text).toContain("#EXT-X-DISCONTINUITY\n#EXTINF:2.000000,\n360p-12.ts");
    expect(text.trim().endsWith("360p-13.ts")).toBe(true);
  });
  it("a rendition more than STALE_SEGMENTS - 1 behind is not fresh", () => {
    expect(renditionFresh({ last_seq: 14, seqs: [14] }, 14)).toBe(true);
    expect(renditionFresh({ last_seq: 14 - (STALE_SEGMENTS - 1), seqs: [12] }, 14)).toBe(true);
    expect(renditionFresh({ last_seq: 14 - STALE_SEGMENTS, seqs: [11] }, 14)).toBe(false);
    expect(renditionFresh({ last_seq: 14, seqs: [] }, 14)).toBe(false);
  });
});

describe("masters", () => {
  const state = (lastRendition: number): PublishedLiveState => ({
    v: 1,
    stream_id: "ls_1",
    status: "active",
    session_id: "s1-x",
    prefix: "assets/a/runs/s1-x/",
    target_duration: 6,
    media_sequence: 10,
    discontinuity_sequence: 0,
    bandwidth: 1_500_000,
    average_bandwidth: 1_200_000,
    codecs: "avc1.64001e,mp4a.40.2",
    resolution: { width: 854, height: 480 },
    renditions: [
      {
        name: "360p",
        bandwidth: 700_000,
        average_bandwidth: 600_000,
        codecs: "avc1.4d401e,mp4a.40.2",
        resolution: { width: 640, height: 360 },
        last_seq: lastRendition,
        seqs: [10, 11, 12, 13, 14].filter((s) => s <= lastRendition),
      },
    ],
    segments: [10, 11, 12, 13, 14].map((s) => seg(s)),
    updated_at: new Date().toISOString(),
  });
  it("the edge lists the source then each fresh rendition, with token-carrying URIs", () => {
    const m = liveLadderMaster("pb1", state(13), "tok") as string;
    expect(m.split("\n").filter((l) => l.startsWith("#EXT-X-STREAM-INF"))).toEqual([
      '#EXT-X-STREAM-INF:BANDWIDTH=1500000,AVERAGE-BANDWIDTH=1200000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=854x480',
      '#EXT-X-STREAM-INF:BANDWIDTH=700000,AVERAGE-BANDWIDTH=600000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360',
    ]);
    expect(m).toContain("/pb1/live.m3u8?token=tok\n");
    expect(m).toContain("/pb1/live/360p.m3u8?token=tok\n");
    const media = liveRenditionMedia("pb1", state(13) as PublishedLiveState & { session_id: string }, "360p", null);
    expect(media).toContain("/pb1/live/s1-x/360p-13.ts");
    expect(
      liveRenditionMedia("pb1", state(13) as PublishedLiveState & { session_id: string }, "240p", null),
    ).toBeNull();
  });
  it("a rendition that stopped advancing leaves the master (the one-variant master then)", () => {
    expect(liveLadderMaster("pb1", state(14 - STALE_SEGMENTS), null)).toBeNull();
  });
  it("the recording master lists every variant in order", () => {
    const m = ladderMasterPlaylist([
      { uri: "stream/index.m3u8", facts: { bandwidth: 2, resolution: { width: 854, height: 480 } } },
      { uri: "stream/360p.m3u8", facts: { bandwidth: 1, resolution: { width: 640, height: 360 } } },
    ]);
    expect(m).toBe(
      "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=2,RESOLUTION=854x480\nstream/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\nstream/360p.m3u8\n",
    );
  });
});
