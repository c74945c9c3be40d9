/** The subtitle normaliser (src/lib/webvtt): odd real-world SRTs in, WebVTT or a precise refusal out. */
import { describe, expect, it } from "vitest";
import {
  decodeSubtitleBytes,
  firstInvalidUtf8,
  mediaTimeline,
  normalizeSubtitles,
  parseSubtitles,
  parseTimestamp,
  SUBTITLE_LIMITS,
  subtitlePlaylist,
  vttSegment,
} from "../../src/lib/webvtt";

const enc = (s: string) => new TextEncoder().encode(s);
const ok = (s: string) => {
  const r = parseSubtitles(s);
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
};
const err = (s: string) => {
  const r = parseSubtitles(s);
  if (r.ok) throw new Error("expected an error");
  return r.error;
};

describe("timestamps", () => {
  it("accepts comma or dot, 1–3 fraction digits, hours above 99, WebVTT's MM:SS.mmm", () => {
    expect(parseTimestamp("00:00:01,500")).toEqual({ ok: true, ms: 1500 });
    expect(parseTimestamp("00:00:01.500")).toEqual({ ok: true, ms: 1500 });
    expect(parseTimestamp("00:00:01,5")).toEqual({ ok: true, ms: 1500 });
    expect(parseTimestamp("123:00:00,000")).toEqual({ ok: true, ms: 123 * 3600_000 });
    expect(parseTimestamp("01:02.003")).toEqual({ ok: true, ms: 62_003 });
  });
  it("refuses out-of-range fields and junk with the reason", () => {
    expect(parseTimestamp("00:60:00,000")).toMatchObject({ ok: false, reason: "minutes must be 00–59" });
    expect(parseTimestamp("00:00:61,000")).toMatchObject({ ok: false, reason: "seconds must be 00–59" });
    expect(parseTimestamp("00:00:01")).toMatchObject({ ok: false });
    expect(parseTimestamp("0:0:1:000")).toMatchObject({ ok: false });
    expect(parseTimestamp("-00:00:01,000")).toMatchObject({ ok: false });
  });
});

describe("SRT → WebVTT", () => {
  it("converts a plain SRT, keeping markup WebVTT knows and dropping <font>", () => {
    const r = normalizeSubtitles(
      enc(
        '1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> <font color="red">world</font>\n\n2\n00:00:03,000 --> 00:00:04,000\nTom & Jerry\n',
      ),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.parsed.format).toBe("srt");
    expect(r.vtt).toBe(
      "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\n<i>Hello</i> world\n\n00:00:03.000 --> 00:00:04.000\nTom &amp; Jerry\n",
    );
  });

  it("BOM + CRLF + CR-only line ends", () => {
    const crlf = "\uFEFF1\r\n00:00:01,000 --> 00:00:02,000\r\nA\r\n\r\n2\r\n00:00:02,000 --> 00:00:03,000\r\nB\r\n";
    expect(ok(crlf).cues.map((c) => c.text)).toEqual(["A", "B"]);
    expect(ok(crlf.replace(/\r\n/g, "\r")).cues).toHaveLength(2);
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...enc("1\n00:00:01,000 --> 00:00:02,000\nÉté\n")]);
    const r = normalizeSubtitles(bytes);
    expect(r.ok && r.vtt.startsWith("WEBVTT\n")).toBe(true);
    expect(r.ok && r.parsed.cues[0].text).toBe("Été");
  });

  it("missing blank lines between cues, missing index lines", () => {
    const s =
      "1\n00:00:01,000 --> 00:00:02,000\nLine one\nline two\n2\n00:00:03,000 --> 00:00:04,000\nNext\n00:00:05,000 --> 00:00:06,000\nNo index\n";
    const v = ok(s);
    expect(v.cues.map((c) => c.text)).toEqual(["Line one\nline two", "Next", "No index"]);
  });

  it("keeps overlapping cues, sorted stably by start", () => {
    const s =
      "1\n00:00:05,000 --> 00:00:09,000\nlate\n\n2\n00:00:01,000 --> 00:00:06,000\nearly\n\n3\n00:00:01,000 --> 00:00:03,000\nearly too\n";
    expect(ok(s).cues.map((c) => [c.start, c.end, c.text])).toEqual([
      [1, 6, "early"],
      [1, 3, "early too"],
      [5, 9, "late"],
    ]);
  });

  it("drops and counts empty cues and zero-length cues", () => {
    const s =
      "1\n00:00:01,000 --> 00:00:02,000\n\n2\n00:00:03,000 --> 00:00:03,000\nzero\n\n3\n00:00:04,000 --> 00:00:05,000\nkept\n";
    const v = ok(s);
    expect(v.cues.map((c) => c.text)).toEqual(["kept"]);
    expect(v.dropped).toBe(2);
  });

  it("hours above 99 survive the round trip", () => {
    const r = normalizeSubtitles(enc("1\n100:00:00,000 --> 100:00:01,250\nlong film\n"));
    expect(r.ok && r.vtt).toContain("100:00:00.000 --> 100:00:01.250");
  });

  it("escapes a '-->' inside text and '<' that starts no tag", () => {
    const v = ok("1\n00:00:01,000 --> 00:00:02,000\na --> b < c\n");
    expect(v.cues[0].text).toBe("a → b &lt; c");
  });

  it("a very long file (10 000 cues) converts, quickly", () => {
    const parts: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const t = (s: number) => new Date(s * 1000).toISOString().slice(11, 23).replace(".", ",");
      parts.push(`${i + 1}\n${t(i)} --> ${t(i + 0.9)}\nCue number ${i + 1}\n`);
    }
    const started = performance.now();
    const r = normalizeSubtitles(enc(parts.join("\n")));
    const ms = performance.now() - started;
    expect(r.ok && r.parsed.cues.length).toBe(10_000);
    expect(ms).toBeLessThan(5_000);
  });
});

describe("precise refusals", () => {
  it("a bad timestamp names the cue, the line and the reason", () => {
    const e = err("1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:03,000 --> 00:00:61,000\nB\n");
    expect(e).toMatchObject({ code: "text_timestamp_invalid", cue: 2, line: 6 });
    expect(e.message).toBe("Cue 2 (line 6): end time '00:00:61,000' is not a valid timestamp (seconds must be 00–59).");
  });
  it("end before start", () => {
    expect(err("1\n00:00:05,000 --> 00:00:04,000\nA\n")).toMatchObject({
      code: "text_timing_invalid",
      cue: 1,
      line: 2,
    });
  });
  it("a cue without a timing line", () => {
    expect(err("1\n00:00:01,000 --> 00:00:02,000\nA\n\nstray text\nmore\n")).toMatchObject({
      code: "text_timing_invalid",
      cue: 2,
      line: 5,
    });
  });
  it("a malformed timing line", () => {
    expect(err("1\n00:00:01,000 -->\nA\n")).toMatchObject({ code: "text_timing_invalid", line: 2 });
  });
  it("empty files, whitespace-only files, files with only empty cues", () => {
    expect(err("")).toMatchObject({ code: "text_empty" });
    expect(err("\n  \n\n")).toMatchObject({ code: "text_empty" });
    expect(err("WEBVTT\n\n")).toMatchObject({ code: "text_empty" });
    expect(err("1\n00:00:01,000 --> 00:00:02,000\n\n")).toMatchObject({ code: "text_empty" });
  });
  it("neither WebVTT nor SRT; a bad WEBVTT header", () => {
    expect(err("hello world\nthis is not subtitles")).toMatchObject({ code: "text_format_unknown", line: 1 });
    expect(err("WEBVTTX\n\n00:01.000 --> 00:02.000\nA\n")).toMatchObject({ code: "text_format_unknown" });
  });
  it("too many cues, too long a cue, times beyond 1000 h", () => {
    const many = Array.from(
      { length: SUBTITLE_LIMITS.maxCues + 1 },
      (_, i) => `00:00:${String(i % 60).padStart(2, "0")}.000 --> 00:00:${String(i % 60).padStart(2, "0")}.500\nx`,
    ).join("\n\n");
    expect(err(`WEBVTT\n\n${many}\n`)).toMatchObject({ code: "text_too_many_cues", cue: SUBTITLE_LIMITS.maxCues + 1 });
    expect(err(`1\n00:00:01,000 --> 00:00:02,000\n${"x".repeat(2001)}\n`)).toMatchObject({ code: "text_cue_too_long" });
    expect(err("1\n1000:00:01,000 --> 1000:00:02,000\nx\n")).toMatchObject({ code: "text_timestamp_invalid" });
  });
});

describe("encodings", () => {
  it("UTF-16 LE and BE with BOM decode to the same text", () => {
    const text = "1\n00:00:01,000 --> 00:00:02,000\nÑandú 字幕\n";
    const le = new Uint8Array(2 + text.length * 2);
    const be = new Uint8Array(2 + text.length * 2);
    le.set([0xff, 0xfe]);
    be.set([0xfe, 0xff]);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      le[2 + i * 2] = c & 0xff;
      le[3 + i * 2] = c >> 8;
      be[2 + i * 2] = c >> 8;
      be[3 + i * 2] = c & 0xff;
    }
    for (const b of [le, be]) {
      const r = normalizeSubtitles(b);
      expect(r.ok && r.parsed.cues[0].text).toBe("Ñandú 字幕");
    }
    expect(decodeSubtitleBytes(le.subarray(0, le.length - 1))).toMatchObject({
      ok: false,
      error: { code: "text_encoding_invalid" },
    });
  });
  it("Latin-1 bytes are refused with the offset and line of the first bad byte", () => {
    const latin1 = new Uint8Array([...enc("1\n00:00:01,000 --> 00:00:02,000\nCaf"), 0xe9, 0x0a]);
    const r = decodeSubtitleBytes(latin1);
    expect(r).toMatchObject({ ok: false, error: { code: "text_encoding_invalid", line: 3 } });
    expect(!r.ok && r.error.message).toContain("byte 0xe9 at offset 35 (line 3)");
  });
  it("finds overlong and surrogate encodings", () => {
    expect(firstInvalidUtf8(new Uint8Array([0x41, 0xc0, 0x80]))).toBe(1);
    expect(firstInvalidUtf8(new Uint8Array([0x41, 0xed, 0xa0, 0x80]))).toBe(1);
    expect(firstInvalidUtf8(new Uint8Array([0x41, 0xe2, 0x82]))).toBe(1);
    expect(firstInvalidUtf8(enc("ok ✓ 😀"))).toBe(enc("ok ✓ 😀").length);
  });
  it("files over the size limit are refused before decoding", () => {
    expect(decodeSubtitleBytes(new Uint8Array(SUBTITLE_LIMITS.maxBytes + 1))).toMatchObject({
      ok: false,
      error: { code: "text_too_large" },
    });
  });
});

describe("WebVTT input", () => {
  it("keeps cue settings and identifiers' cues, drops NOTE/STYLE blocks", () => {
    const v = ok(
      "WEBVTT - a title\n\nNOTE a comment\nspanning lines\n\nSTYLE\n::cue { color: red }\n\nintro\n00:01.000 --> 00:02.000 align:start line:0\n<v Bob>Hi</v>\n",
    );
    expect(v.format).toBe("webvtt");
    expect(v.cues).toEqual([{ start: 1, end: 2, text: "<v Bob>Hi</v>", settings: "align:start line:0" }]);
  });
});

describe("HLS segmentation", () => {
  const playlist =
    '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:6.000,\nseg0.m4s\n#EXTINF:6.000,\nseg1.m4s\n#EXTINF:2.500,\nseg2.m4s\n#EXT-X-ENDLIST\n';
  it("one subtitle segment per video segment, same durations and target", () => {
    const tl = mediaTimeline(playlist);
    expect(tl).toEqual({
      targetDuration: 6,
      segments: [
        { start: 0, duration: 6 },
        { start: 6, duration: 6 },
        { start: 12, duration: 2.5 },
      ],
    });
    const pl = subtitlePlaylist(tl, (i) => `t/${i}.vtt`);
    expect(pl).toContain("#EXT-X-TARGETDURATION:6\n");
    expect(pl.match(/#EXTINF/g)).toHaveLength(3);
    expect(pl).toContain("#EXTINF:2.500000,\nt/2.vtt\n#EXT-X-ENDLIST");
  });
  it("segments carry X-TIMESTAMP-MAP and every cue overlapping them (spanning cues repeat with one ID)", () => {
    const tl = mediaTimeline(playlist);
    const cues = ok(
      "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:05,000 --> 00:00:07,000\nB spans\n\n3\n00:00:20,000 --> 00:00:21,000\nC after the end\n",
    ).cues;
    const s0 = vttSegment(cues, tl.segments[0]);
    const s1 = vttSegment(cues, tl.segments[1]);
    const s2 = vttSegment(cues, tl.segments[2], true);
    expect(s0.startsWith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n")).toBe(true);
    expect(s0).toContain("c1\n00:00:01.000 --> 00:00:02.000\nA");
    expect(s0).toContain("c2\n00:00:05.000 --> 00:00:07.000\nB spans");
    expect(s1).toContain("c2\n00:00:05.000");
    expect(s1).not.toContain("c1\n");
    expect(s2).toContain("c3\n00:00:20.000");
  });
});
