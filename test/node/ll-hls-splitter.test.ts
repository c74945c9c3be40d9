/**
 * The CMAF splitter and the LL-HLS blocking-reload rules on real ffmpeg output: a fragmented MP4 (video +
 * audio, a fragment every 0.5 s, a keyframe every 2 s) fed in arbitrary chunk sizes always yields the same
 * init segment and parts (moof+mdat, whole), with durations and independence read from the boxes.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBlocking, satisfies } from "../../src/live/ll-hls/playlist";
import { type CmafPart, CmafSplitter } from "../../src/live/ll-hls/splitter";
import { CMAF_MOVFLAGS, LIVE_FFMPEG } from "./support/live";

let file: Uint8Array;
const work = mkdtempSync(path.join(tmpdir(), "keyframe-cmaf-"));

beforeAll(() => {
  const out = path.join(work, "push.mp4");
  execFileSync(LIVE_FFMPEG, [
    ...["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine"],
    ...["-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0"],
    ...["-c:a", "aac", "-f", "mp4", "-movflags", CMAF_MOVFLAGS],
    ...["-frag_duration", "500000", out],
  ]);
  file = new Uint8Array(readFileSync(out));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function split(chunks: number[]): { init: Uint8Array | undefined; parts: CmafPart[] } {
  const s = new CmafSplitter();
  let init: Uint8Array | undefined;
  const parts: CmafPart[] = [];
  let off = 0;
  for (let i = 0; off < file.length; i++) {
    const n = chunks[i % chunks.length];
    const r = s.push(file.subarray(off, off + n));
    off += n;
    init ??= r.init;
    parts.push(...r.parts);
  }
  return { init, parts };
}

describe("CmafSplitter", () => {
  it("cuts ffmpeg's fragmented MP4 into its init segment and 0.5 s parts, a keyframe every fourth", () => {
    const { init, parts } = split([file.length]);
    expect(new TextDecoder().decode(init?.subarray(4, 8))).toBe("ftyp");
    expect(parts).toHaveLength(12);
    for (const p of parts) {
      expect(new TextDecoder().decode(p.bytes.subarray(4, 8))).toBe("moof");
      // Exactly 0.5 s from ffmpeg ≥ 4.2; the npm ffmpeg 4.1 closes a fragment on the AAC frame after (≤ 1024/44100 s).
      expect(Math.abs(p.duration - 0.5)).toBeLessThan(0.025);
    }
    expect(parts.map((p) => p.independent)).toEqual(parts.map((_, i) => i % 4 === 0));
    // ffmpeg's trailer (mfra) marks a push that ended on purpose; a push cut short has none.
    const whole = new CmafSplitter();
    whole.push(file);
    expect(whole.trailer).toBe(true);
    const cut = new CmafSplitter();
    cut.push(file.subarray(0, file.length - 200));
    expect(cut.trailer).toBe(false);
    // Init and parts are the whole file, byte for byte (the trailing mfra index aside).
    const total = (init?.length ?? 0) + parts.reduce((s, p) => s + p.bytes.length, 0);
    const joined = Buffer.concat([init ?? new Uint8Array(0), ...parts.map((p) => p.bytes)]);
    expect(Buffer.compare(joined, file.subarray(0, total))).toBe(0);
  });

  it("gives the same parts whatever the chunk sizes", () => {
    const whole = split([file.length]).parts.map((p) => p.bytes.length);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }), (chunks) => {
        expect(split(chunks).parts.map((p) => p.bytes.length)).toEqual(whole);
      }),
      { numRuns: 25 },
    );
  });

  it("refuses what is not CMAF, precisely", () => {
    expect(() => new CmafSplitter().push(new Uint8Array(376).fill(0x47))).toThrow(/starts with its init segment/);
    const s = new CmafSplitter();
    const { init } = s.push(file.subarray(0, split([file.length]).init?.length));
    expect(init).toBeDefined();
    const mdat = new Uint8Array([0, 0, 0, 8, 0x6d, 0x64, 0x61, 0x74]);
    expect(() => s.push(mdat)).toThrow(/'mdat' box without the 'moof'/);
  });
});

describe("blocking reload rules", () => {
  const ll = (parts: [number, number][], preload: string | null = "x") => ({
    part_target: 0.5,
    preload,
    parts: parts.flatMap(([msn, n]) =>
      Array.from({ length: n }, (_, i) => ({ msn, uri: `${msn}.${i}`, duration: 0.5, independent: i === 0 })),
    ),
  });

  it("parses _HLS_msn/_HLS_part and refuses malformed pairs", () => {
    expect(parseBlocking(new URLSearchParams(""))).toBeNull();
    expect(parseBlocking(new URLSearchParams("_HLS_msn=4&_HLS_part=2"))).toEqual({ msn: 4, part: 2 });
    expect(parseBlocking(new URLSearchParams("_HLS_part=2"))).toBe("_HLS_part requires _HLS_msn.");
    expect(parseBlocking(new URLSearchParams("_HLS_msn=-1"))).toMatch(/non-negative/);
  });

  it("holds until the segment or part exists", () => {
    const state = ll([
      [4, 4],
      [5, 2],
    ]);
    expect(satisfies({ msn: 4, part: null }, 4, state)).toBe(true);
    expect(satisfies({ msn: 5, part: null }, 4, state)).toBe(false);
    expect(satisfies({ msn: 5, part: 1 }, 4, state)).toBe(true);
    expect(satisfies({ msn: 5, part: 2 }, 4, state)).toBe(false);
    // Past the last part of a complete segment: the next segment's first part, here already there.
    expect(satisfies({ msn: 4, part: 4 }, 4, state)).toBe(true);
    expect(satisfies({ msn: 4, part: 4 }, 4, ll([[4, 4]]))).toBe(false);
    expect(satisfies({ msn: 4, part: 4 }, 4, ll([[4, 4]], null))).toBe(true);
  });
});
