/**
 * Clips of a live recording (issue 16), also while it is still recording. A recording has no original
 * file: its media are the session's HLS segments under `assets/{asset}/runs/{session}/stream/`. A clip
 * needs only the few that cover its range, so its source is those segments back to back (MPEG-TS
 * segments concatenate into one transport stream; an fMP4 rendition's init segment followed by its media
 * segments is one fragmented MP4), and the range is shifted to that file's time origin.
 *
 * Which segments exist comes from the LiveStream DO while the session runs (its listed segments: stored
 * in R2, with their durations from the encoder's playlist), and from the recording's VOD playlist once it
 * ended. The recorded timeline is the sum of the segments' durations, as in the recording's playlist.
 */
import { STREAM_DIR } from "./hls";
import { recordingPrefix } from "./recording-source";

/** One listed segment of a recording, in playback order. `map`: its fMP4 init segment, null for MPEG-TS. */
export interface RecordedSegment {
  uri: string;
  duration: number;
  map: string | null;
  /** Stored size in bytes; undefined when not known yet (read from R2 for the chosen parts only). */
  bytes?: number;
}

export interface RecordedMedia {
  /** R2 folder of the segments (ends with `/`). */
  dir: string;
  segments: RecordedSegment[];
  /** Sizes of init segments by file name, when known. */
  inits: Record<string, number>;
  /** Still recording: more segments will follow. */
  live: boolean;
}

/** What a clip of a recording copies into its own source, and where its range starts in that source. */
export interface RecordingClipPlan {
  container: "mpegts" | "fmp4";
  /** R2 folder and file names (init segment first for fMP4), concatenated in order. */
  dir: string;
  parts: { name: string; size: number | null }[];
  /** Seconds of the recording at which the planned source's first frame sits. */
  origin: number;
}

export type RecordingClipResult = { ok: true; plan: RecordingClipPlan } | { ok: false; reason: string };

/** Seconds recorded: the sum of the listed segments' durations (the recording playlist's timeline). */
export function recordedSeconds(segments: RecordedSegment[]): number {
  return segments.reduce((s, x) => s + x.duration, 0);
}

/**
 * The segments that cover `[start − one segment, end]` of the recording, plus one after `end` when there
 * is one. The margins absorb the few milliseconds between a segment's listed duration and its real first
 * timestamp (audio may lead video), so the cut never misses a frame at either edge: the transcoder cuts
 * exactly anyway, and each segment starts at a keyframe (a live encoder's segments do).
 */
export function planRecordingClip(
  media: Pick<RecordedMedia, "dir" | "segments" | "inits">,
  range: { start: number; end: number },
): RecordingClipResult {
  const { segments } = media;
  if (segments.length === 0) return { ok: false, reason: "nothing has been recorded yet" };
  const starts: number[] = [];
  let t = 0;
  for (const s of segments) {
    starts.push(t);
    t += s.duration;
  }
  // The segment holding `start` (the last one starting at or before it), then one before it.
  let holding = 0;
  while (holding + 1 < segments.length && starts[holding + 1] <= range.start) holding++;
  const first = Math.max(0, holding - 1);
  let last = first;
  while (last + 1 < segments.length && starts[last + 1] < range.end) last++;
  last = Math.min(segments.length - 1, last + 1);
  const chosen = segments.slice(first, last + 1);
  const maps = new Set(chosen.map((s) => s.map));
  if (maps.size > 1) {
    return {
      ok: false,
      reason:
        "the range spans an encoder reconnect of an fMP4 recording (two init segments), which cannot be one source",
    };
  }
  const map = chosen[0].map;
  const parts: RecordingClipPlan["parts"] = [];
  if (map) parts.push({ name: map, size: media.inits[map] ?? null });
  for (const s of chosen) parts.push({ name: s.uri, size: s.bytes ?? null });
  return {
    ok: true,
    plan: { container: map ? "fmp4" : "mpegts", dir: media.dir, parts, origin: starts[first] },
  };
}

/** A recording's VOD playlist (as the DO writes it when the session ends) as its listed segments. */
export function parseRecordingPlaylist(text: string): RecordedSegment[] {
  const out: RecordedSegment[] = [];
  let map: string | null = null;
  let duration: number | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const m = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line);
    if (m) map = m[1];
    else if (line.startsWith("#EXTINF:")) duration = Number.parseFloat(line.slice(8));
    else if (line && !line.startsWith("#") && duration !== null && Number.isFinite(duration)) {
      out.push({ uri: line, duration, map });
      duration = null;
    }
  }
  return out;
}

/** A finished recording's segments, from the VOD playlist in R2; null when it has none. */
export async function finishedRecording(
  bucket: R2Bucket,
  assetId: string,
  sessionId: string,
): Promise<RecordedMedia | null> {
  const dir = `${recordingPrefix(assetId, sessionId)}${STREAM_DIR}/`;
  const playlist = await bucket.get(`${dir}index.m3u8`);
  if (!playlist) return null;
  return { dir, segments: parseRecordingPlaylist(await playlist.text()), inits: {}, live: false };
}

/**
 * Fills in the sizes a plan does not know yet (a finished recording's playlist has none) from R2, and
 * fails when a part is no longer stored.
 */
export async function sizePlanParts(bucket: R2Bucket, plan: RecordingClipPlan): Promise<RecordingClipResult> {
  const unknown = plan.parts.filter((p) => p.size === null);
  const sizes = new Map<string, number>();
  if (unknown.length > HEADS_BEFORE_LISTING) {
    // A long clip: one listing of the folder (1,000 a page) costs fewer requests than a HEAD per segment.
    let cursor: string | undefined;
    do {
      const page = await bucket.list({ prefix: plan.dir, cursor, limit: 1000 });
      for (const o of page.objects) sizes.set(o.key.slice(plan.dir.length), o.size);
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  } else {
    for (const p of unknown) {
      const head = await bucket.head(`${plan.dir}${p.name}`);
      if (head) sizes.set(p.name, head.size);
    }
  }
  const parts: RecordingClipPlan["parts"] = [];
  for (const p of plan.parts) {
    const size = p.size ?? sizes.get(p.name);
    if (size === undefined) return { ok: false, reason: `the recording's ${p.name} is missing from storage` };
    parts.push({ name: p.name, size });
  }
  return { ok: true, plan: { ...plan, parts } };
}

const HEADS_BEFORE_LISTING = 20;

/** The planned parts as one stream (R2 reads one part at a time), and its length. */
export function concatParts(bucket: R2Bucket, plan: RecordingClipPlan): { body: ReadableStream; size: number } {
  const size = plan.parts.reduce((s, p) => s + (p.size ?? 0), 0);
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const copy = async () => {
    for (const part of plan.parts) {
      const obj = await bucket.get(`${plan.dir}${part.name}`);
      if (!obj) throw new Error(`${part.name} vanished while the clip's source was copied`);
      await obj.body.pipeTo(writable, { preventClose: true });
    }
    await writable.close();
  };
  copy().catch((err) => writable.abort(err).catch(() => {}));
  return { body: readable, size };
}

/**
 * How far an MPEG-TS segment's first video frame lies after its earliest timestamp (seconds; 0 when it
 * has no video or audio does not lead). The recorded timeline is the video's (the segmenter cuts and times
 * segments at video keyframes), but ffmpeg reads a file from its earliest timestamp of any stream, and a
 * segment's audio often starts a few AAC frames before its keyframe (80 ms measured on ffmpeg's own HLS
 * output; 2 frames at 25 fps). Reads the PES headers of the packets in `head` (the segment's first bytes).
 */
export function tsVideoLeadSeconds(head: Uint8Array): number {
  let video: number | null = null;
  let earliest: number | null = null;
  for (let off = 0; off + 188 <= head.length; off += 188) {
    if (head[off] !== 0x47 || (head[off + 1] & 0x40) === 0) continue;
    const afc = (head[off + 3] >> 4) & 0x3;
    if ((afc & 0x1) === 0) continue;
    const p = off + 4 + (afc === 3 ? 1 + head[off + 4] : 0);
    if (p + 14 > off + 188 || head[p] !== 0 || head[p + 1] !== 0 || head[p + 2] !== 1) continue;
    const streamId = head[p + 3];
    const isVideo = streamId >= 0xe0 && streamId <= 0xef;
    const isAudio = (streamId >= 0xc0 && streamId <= 0xdf) || streamId === 0xbd;
    if ((!isVideo && !isAudio) || (head[p + 7] & 0x80) === 0) continue;
    const b = head.subarray(p + 9, p + 14);
    // 33-bit PTS in 5 bytes (with marker bits); multiplication keeps it exact past 2^32.
    const pts = ((b[0] >> 1) & 0x07) * 2 ** 30 + ((b[1] << 7) | (b[2] >> 1)) * 2 ** 15 + ((b[3] << 7) | (b[4] >> 1));
    if (isVideo && video === null) video = pts;
    if (earliest === null || pts < earliest) earliest = pts;
  }
  if (video === null || earliest === null || video <= earliest) return 0;
  // A lead of more than a few seconds is a timestamp jump, not an audio lead: not trusted.
  const lead = (video - earliest) / 90_000;
  return lead < 2 ? lead : 0;
}
