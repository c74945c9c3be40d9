/** Instant-clip ranges and segment-accurate trimming (src/lib/clips.ts). */
import { describe, expect, it } from "vitest";
import { parseClipRange, trimMediaPlaylist } from "../../src/lib/clips";

const PLAYLIST = [
  "#EXTM3U",
  "#EXT-X-VERSION:7",
  "#EXT-X-TARGETDURATION:6",
  "#EXT-X-MEDIA-SEQUENCE:0",
  "#EXT-X-PLAYLIST-TYPE:VOD",
  '#EXT-X-MAP:URI="init.mp4"',
  "#EXTINF:6.000000,",
  "seg_0.m4s",
  "#EXTINF:6.000000,",
  "seg_1.m4s",
  "#EXTINF:6.000000,",
  "seg_2.m4s",
  "#EXTINF:3.500000,",
  "seg_3.m4s",
  "#EXT-X-ENDLIST",
  "",
].join("\n");

const segs = (p: string | null) => (p ?? "").split("\n").filter((l) => l.startsWith("seg_"));

describe("parseClipRange", () => {
  it("accepts either bound; none means no clip", () => {
    expect(parseClipRange({}, 21.5)).toEqual({ ok: true, range: null });
    expect(parseClipRange({ asset_start_time: "7" }, 21.5)).toEqual({ ok: true, range: { start: 7, end: null } });
    expect(parseClipRange({ asset_end_time: "7.25" }, 21.5)).toEqual({ ok: true, range: { start: 0, end: 7.25 } });
    // An end beyond the duration is clamped by trimming (documented), not refused.
    expect(parseClipRange({ asset_start_time: "1", asset_end_time: "99" }, 21.5).ok).toBe(true);
  });
  it("refuses precisely", () => {
    const bad = (raw: Record<string, string>) => {
      const r = parseClipRange(raw, 21.5);
      return r.ok ? null : r.message;
    };
    expect(bad({ asset_start_time: "-1" })).toMatch(/asset_start_time must be a non-negative number/);
    expect(bad({ asset_start_time: "abc" })).toMatch(/got 'abc'/);
    expect(bad({ asset_end_time: "1e3" })).toMatch(/asset_end_time must be/);
    expect(bad({ asset_start_time: "5", asset_end_time: "5" })).toMatch(/must be greater than/);
    expect(bad({ asset_start_time: "9", asset_end_time: "4" })).toMatch(/must be greater than/);
    expect(bad({ asset_start_time: "21.5" })).toMatch(/at or beyond the end of the video \(21.5 s\)/);
    expect(bad({ asset_start_time: "" })).toMatch(/non-negative/);
  });
});

describe("trimMediaPlaylist", () => {
  it("keeps the segments overlapping [start, end), the map, and ends the list", () => {
    const out = trimMediaPlaylist(PLAYLIST, { start: 7, end: 13 });
    expect(segs(out)).toEqual(["seg_1.m4s", "seg_2.m4s"]);
    expect(out).toContain('#EXT-X-MAP:URI="init.mp4"');
    expect(out?.trimEnd().endsWith("#EXT-X-ENDLIST")).toBe(true);
    expect(out).toContain("#EXT-X-TARGETDURATION:6");
  });
  it("boundaries: a segment ending exactly at start, or starting exactly at end, is out", () => {
    expect(segs(trimMediaPlaylist(PLAYLIST, { start: 6, end: 12 }))).toEqual(["seg_1.m4s"]);
    expect(segs(trimMediaPlaylist(PLAYLIST, { start: 0, end: 0.5 }))).toEqual(["seg_0.m4s"]);
    expect(segs(trimMediaPlaylist(PLAYLIST, { start: 20, end: null }))).toEqual(["seg_3.m4s"]);
    expect(segs(trimMediaPlaylist(PLAYLIST, { start: 0, end: 1000 }))).toHaveLength(4);
  });
  it("carries a map written before a dropped segment; null when nothing overlaps", () => {
    const midMap = PLAYLIST.replace("seg_1.m4s\n", 'seg_1.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init2.mp4"\n');
    const out = trimMediaPlaylist(midMap, { start: 19, end: null }) ?? "";
    expect(out).toContain('URI="init2.mp4"');
    expect(out).not.toContain('URI="init.mp4"');
    expect(out).not.toContain("#EXT-X-DISCONTINUITY");
    expect(trimMediaPlaylist(PLAYLIST, { start: 30, end: null })).toBeNull();
  });
});
