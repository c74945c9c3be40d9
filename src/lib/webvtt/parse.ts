/**
 * Subtitle files in, normalised WebVTT cues out. Pure: bytes → text (decode.ts), text → cues (this
 * file), cues → WebVTT (serialize.ts) and HLS segments (segment.ts). Accepts WebVTT and SubRip (SRT);
 * every refusal names a stable code and the cue and line it is about, so a caller can fix the file.
 *
 * Tolerated (real-world SRTs do all of these): BOM, CRLF or CR line ends, `,` or `.` before the
 * milliseconds, 1–3 fraction digits (`,5` is 500 ms), hours above 99, a missing blank line between
 * cues, a missing or wrong index line, overlapping cues (kept, sorted stably by start), <font> and
 * {\an8} markup (removed). Dropped and counted: cues with no text, cues whose end equals their start.
 */

export const SUBTITLE_LIMITS = {
  /** Bytes of the file as received (before decoding). */
  maxBytes: 4 * 1024 * 1024,
  maxCues: 20_000,
  /** Characters of one cue's text. */
  maxCueChars: 2_000,
  /** No cue may end after this (seconds): 1000 hours. */
  maxTimeSeconds: 3_600_000,
} as const;

export type SubtitleErrorCode =
  | "text_too_large"
  | "text_encoding_invalid"
  | "text_empty"
  | "text_format_unknown"
  | "text_timestamp_invalid"
  | "text_timing_invalid"
  | "text_cue_too_long"
  | "text_too_many_cues";

export interface SubtitleError {
  code: SubtitleErrorCode;
  message: string;
  /** 1-based line of the input the error is about, when there is one. */
  line?: number;
  /** 1-based position of the cue in the file, when there is one. */
  cue?: number;
}

export interface Cue {
  /** Seconds, millisecond precision. */
  start: number;
  end: number;
  /** Cue payload, lines joined with `\n`, WebVTT-safe. */
  text: string;
  /** WebVTT cue settings (`align:start line:0`), kept from WebVTT input. */
  settings?: string;
}

export interface ParsedSubtitles {
  format: "webvtt" | "srt";
  cues: Cue[];
  /** Cues removed because they had no text or no duration. */
  dropped: number;
}

export type ParseResult = { ok: true; value: ParsedSubtitles } | { ok: false; error: SubtitleError };

const TIMING_RE = /^\s*(\S+)\s+-->\s+(\S+)(?:\s+(.*))?$/;
/** `H+:MM:SS[.,]f{1,3}` or (WebVTT) `MM:SS.fff`. */
const TIMESTAMP_RE = /^(?:(\d+):)?(\d{1,2}):(\d{1,2})[.,](\d{1,3})$/;

/** Parses one timestamp to whole milliseconds, or says what is wrong with it. */
export function parseTimestamp(raw: string): { ok: true; ms: number } | { ok: false; reason: string } {
  const m = TIMESTAMP_RE.exec(raw);
  if (!m) return { ok: false, reason: "expected HH:MM:SS,mmm or HH:MM:SS.mmm" };
  const [, h, mm, ss, frac] = m;
  const minutes = Number(mm);
  const seconds = Number(ss);
  if (minutes > 59) return { ok: false, reason: "minutes must be 00–59" };
  if (seconds > 59) return { ok: false, reason: "seconds must be 00–59" };
  const ms = Number(frac.padEnd(3, "0"));
  const hours = h === undefined ? 0 : Number(h);
  return { ok: true, ms: ((hours * 60 + minutes) * 60 + seconds) * 1000 + ms };
}

/** A line that is meant as cue timing: a number-ish token, then `-->`. Text that merely contains "-->" is not. */
function isTimingLine(line: string): boolean {
  return /^\s*[^\s]*\d[^\s]*\s+-->(?:\s|$)/.test(line);
}

/** Markup that WebVTT does not know: SubRip <font …>, ASS override blocks. */
function cleanText(lines: string[]): string {
  return lines
    .map((l) =>
      l
        .replace(/<\/?font\b[^>]*>/gi, "")
        .replace(/\{\\[^}]*\}/g, "")
        // "-->" may not appear in a WebVTT payload; a bare "&" or "<" that starts no tag is escaped.
        .replace(/-->/g, "→")
        .replace(/&(?![a-z]+;|#\d+;|#x[0-9a-f]+;)/gi, "&amp;")
        .replace(/<(?!\/?(?:b|i|u|c|v|lang|ruby|rt)\b|\d)/gi, "&lt;")
        .trimEnd(),
    )
    .join("\n")
    .trim();
}

/** Text in (already decoded), cues out. Line ends may be CRLF, CR or LF; a leading BOM is ignored. */
export function parseSubtitles(input: string): ParseResult {
  const text = input.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const lines = text.split("\n");
  const firstContent = lines.findIndex((l) => l.trim() !== "");
  if (firstContent === -1) return { ok: false, error: { code: "text_empty", message: "The file is empty." } };
  const first = lines[firstContent];
  if (firstContent === 0 && /^WEBVTT(?:[ \t].*)?$/.test(first)) return parseBlocks(lines, 1, "webvtt");
  if (/^WEBVTT/.test(first.trim())) {
    return {
      ok: false,
      error: {
        code: "text_format_unknown",
        message: `Line ${firstContent + 1}: a WebVTT file must start with 'WEBVTT' followed by a space, tab or line end.`,
        line: firstContent + 1,
      },
    };
  }
  // SRT: the first block is an index line then a timing line, or a timing line straight away.
  const looksSrt = isTimingLine(first) || (/^\s*\d+\s*$/.test(first) && isTimingLine(lines[firstContent + 1] ?? ""));
  if (!looksSrt) {
    return {
      ok: false,
      error: {
        code: "text_format_unknown",
        message: "The file is neither WebVTT (no 'WEBVTT' header) nor SubRip (no cue timing on its first lines).",
        line: firstContent + 1,
      },
    };
  }
  return parseBlocks(lines, firstContent, "srt");
}

function parseBlocks(lines: string[], from: number, format: "webvtt" | "srt"): ParseResult {
  const cues: (Cue & { order: number })[] = [];
  let dropped = 0;
  let cueNo = 0;
  let i = from;
  if (format === "webvtt") {
    // Header lines run to the first blank line.
    while (i < lines.length && lines[i].trim() !== "") {
      if (isTimingLine(lines[i])) break;
      i++;
    }
  }
  const isIndexBeforeTiming = (k: number) => /^\s*\d+\s*$/.test(lines[k]) && isTimingLine(lines[k + 1] ?? "");
  while (i < lines.length) {
    if (lines[i].trim() === "") {
      i++;
      continue;
    }
    // WebVTT blocks that are not cues.
    if (format === "webvtt" && /^(NOTE|STYLE|REGION)(?:[ \t]|$)/.test(lines[i])) {
      while (i < lines.length && lines[i].trim() !== "") i++;
      continue;
    }
    cueNo++;
    // An identifier line (WebVTT) or index line (SRT) may precede the timing line.
    let timingAt = i;
    if (!isTimingLine(lines[i])) {
      if (i + 1 < lines.length && isTimingLine(lines[i + 1])) timingAt = i + 1;
      else {
        return {
          ok: false,
          error: {
            code: "text_timing_invalid",
            message: `Cue ${cueNo} (line ${i + 1}): expected a timing line like '00:00:01,000 --> 00:00:02,000', found '${truncate(lines[i])}'.`,
            line: i + 1,
            cue: cueNo,
          },
        };
      }
    }
    const lineNo = timingAt + 1;
    const m = TIMING_RE.exec(lines[timingAt]);
    if (!m) {
      return {
        ok: false,
        error: {
          code: "text_timing_invalid",
          message: `Cue ${cueNo} (line ${lineNo}): the timing line must be '<start> --> <end>', found '${truncate(lines[timingAt])}'.`,
          line: lineNo,
          cue: cueNo,
        },
      };
    }
    const bounds: number[] = [];
    for (const [which, raw] of [
      ["start", m[1]],
      ["end", m[2]],
    ] as const) {
      const t = parseTimestamp(raw);
      if (!t.ok) {
        return {
          ok: false,
          error: {
            code: "text_timestamp_invalid",
            message: `Cue ${cueNo} (line ${lineNo}): ${which} time '${truncate(raw)}' is not a valid timestamp (${t.reason}).`,
            line: lineNo,
            cue: cueNo,
          },
        };
      }
      bounds.push(t.ms);
    }
    const [startMs, endMs] = bounds;
    if (endMs < startMs) {
      return {
        ok: false,
        error: {
          code: "text_timing_invalid",
          message: `Cue ${cueNo} (line ${lineNo}): it ends (${m[2]}) before it starts (${m[1]}).`,
          line: lineNo,
          cue: cueNo,
        },
      };
    }
    if (endMs > SUBTITLE_LIMITS.maxTimeSeconds * 1000) {
      return {
        ok: false,
        error: {
          code: "text_timestamp_invalid",
          message: `Cue ${cueNo} (line ${lineNo}): end time ${m[2]} is beyond the ${SUBTITLE_LIMITS.maxTimeSeconds / 3600} hour limit.`,
          line: lineNo,
          cue: cueNo,
        },
      };
    }
    // The payload runs to a blank line, or (SRT without blank lines) to the next index + timing pair.
    let j = timingAt + 1;
    const payload: string[] = [];
    while (j < lines.length && lines[j].trim() !== "") {
      if (isTimingLine(lines[j]) || (format === "srt" && isIndexBeforeTiming(j))) break;
      payload.push(lines[j]);
      j++;
    }
    i = j;
    const body = cleanText(payload);
    if (body === "" || endMs === startMs) {
      dropped++;
      continue;
    }
    if (body.length > SUBTITLE_LIMITS.maxCueChars) {
      return {
        ok: false,
        error: {
          code: "text_cue_too_long",
          message: `Cue ${cueNo} (line ${lineNo}): its text has ${body.length} characters; the limit is ${SUBTITLE_LIMITS.maxCueChars}.`,
          line: lineNo,
          cue: cueNo,
        },
      };
    }
    if (cues.length >= SUBTITLE_LIMITS.maxCues) {
      return {
        ok: false,
        error: {
          code: "text_too_many_cues",
          message: `The file has more than ${SUBTITLE_LIMITS.maxCues} cues (the limit) — cue ${cueNo} at line ${lineNo} is over it.`,
          line: lineNo,
          cue: cueNo,
        },
      };
    }
    const settings = format === "webvtt" ? m[3]?.trim() : undefined;
    cues.push({
      start: startMs / 1000,
      end: endMs / 1000,
      text: body,
      ...(settings ? { settings } : {}),
      order: cues.length,
    });
  }
  if (cues.length === 0) {
    return { ok: false, error: { code: "text_empty", message: "The file has no cue with text in it." } };
  }
  // WebVTT wants cues ordered by start time; overlaps are fine and kept. Stable: equal starts keep file order.
  cues.sort((a, b) => a.start - b.start || a.order - b.order);
  return { ok: true, value: { format, cues: cues.map(({ order: _o, ...c }) => c), dropped } };
}

function truncate(s: string): string {
  const t = s.trim();
  return t.length > 60 ? `${t.slice(0, 57)}…` : t;
}
