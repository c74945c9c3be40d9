/**
 * Reading an MP4/MOV's index before its media: where the top-level boxes sit, whether the `moov`
 * (the sample tables) comes before the media data (a "faststart" file, which can be remuxed as it
 * streams in), and a sparse stand-in for the whole file that holds only its first bytes, so ffprobe can
 * read every packet's time, flags and size from the index while the media itself is still on its way.
 */
import { open } from "node:fs/promises";
import type { IndexedPacket } from "../hls/predict.js";
import { leadingBoxes, type Mp4Track, moovPackets, movieHeader, Unsupported } from "./mp4-samples.js";
import { eachPacket, INDEX_ONLY_ARGS, type MediaFacts, probeJson } from "./probe.js";

export interface Mp4Layout {
  /** Byte offset just past the `moov` box: everything a demuxer needs before the media. */
  moovEnd: number;
  /** The movie's duration in seconds from its `mvhd`, when it declares one. */
  duration?: number;
}

/**
 * The layout when `head` starts an ISO BMFF file whose `moov` precedes its `mdat`; undefined for any
 * other file (another container, moov at the end, a fragmented file, or a head too short to tell). `needMore` is set when
 * the moov starts in the head but ends past it.
 */
export function faststartLayout(head: Uint8Array): (Mp4Layout & { needMore?: number }) | undefined {
  const boxes = leadingBoxes(head);
  const moov = boxes.at(-1);
  if (boxes[0]?.type !== "ftyp" || moov?.type !== "moov") return undefined;
  const end = moov.end;
  if (end > head.byteLength) return { moovEnd: end, needMore: end };
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  // A fragmented file (an `mvex` in the moov: OBS's fragmented MP4, a live recording) keeps its
  // sample tables in the fragments, so the head does not index the whole file.
  if (hasChild(view, head, moov.body, end, "mvex")) return undefined;
  const duration = movieDuration(view, head, moov.body, end);
  return duration === undefined ? { moovEnd: end } : { moovEnd: end, duration };
}

/** The offset of the first child box of type `wanted` in [from, to), or -1. */
function findChild(view: DataView, head: Uint8Array, from: number, to: number, wanted: string): number {
  let at = from;
  while (at + 8 <= to) {
    const size = view.getUint32(at);
    if (String.fromCharCode(head[at + 4], head[at + 5], head[at + 6], head[at + 7]) === wanted) return at;
    if (size < 8) return -1;
    at += size;
  }
  return -1;
}

function hasChild(view: DataView, head: Uint8Array, from: number, to: number, wanted: string): boolean {
  return findChild(view, head, from, to, wanted) >= 0;
}

/** Seconds from the `mvhd`. */
function movieDuration(view: DataView, head: Uint8Array, from: number, to: number): number | undefined {
  const at = findChild(view, head, from, to, "mvhd");
  const movie = at < 0 ? undefined : movieHeader(view, at + 8, to);
  if (!movie) return undefined;
  const { timescale, units, v1 } = movie;
  // All ones means "unknown" (a file still being written).
  if (!timescale || units === 0 || units === (v1 ? Number(0xffffffffffffffffn) : 0xffffffff)) return undefined;
  return units / timescale;
}

/** Writes `head` at the start of `file` and extends it to `total` bytes without writing the rest. */
export async function writeSparseStandIn(file: string, head: Uint8Array, total: number): Promise<void> {
  const fh = await open(file, "w");
  try {
    await fh.write(head, 0, head.byteLength, 0);
    await fh.truncate(total);
  } finally {
    await fh.close();
  }
}

const INDEX_ENTRIES = "stream_index,pts_time,duration_time,flags,size,pos";

/** Every packet's stream, time, keyframe flag and size, in file order, read from the index only. */
export async function indexPackets(
  input: string,
  options: { signal?: AbortSignal; ffprobePath?: string } = {},
): Promise<IndexedPacket[]> {
  const packets: IndexedPacket[] = [];
  await eachPacket(input, INDEX_ENTRIES, INDEX_ONLY_ARGS, options, (f) => {
    const p = toIndexed((name) => f.get(name));
    if (p) packets.push(p);
  });
  return fillDurations(packets);
}

/**
 * The facts and the packet index of a stand-in in one ffprobe run (its format, streams and every packet
 * as JSON): one process start and one read of the index where two cost twice both, on the critical path
 * of a streamed upload's first segment.
 */
export async function probeIndexed(
  input: string,
  options: { signal?: AbortSignal; ffprobePath?: string } = {},
): Promise<{ facts: MediaFacts; packets: IndexedPacket[]; firstStreams: FirstStreams }> {
  const { facts, json } = await probeJson(
    input,
    ["-show_format", "-show_streams", "-show_entries", `packet=${INDEX_ENTRIES}`, ...INDEX_ONLY_ARGS],
    options,
  );
  const raw = (json as { packets?: unknown }).packets;
  const packets: IndexedPacket[] = [];
  for (const entry of Array.isArray(raw) ? raw : []) {
    const fields = (entry ?? {}) as Record<string, unknown>;
    const p = toIndexed((name) => (fields[name] === undefined ? undefined : String(fields[name])));
    if (p) packets.push(p);
  }
  return { facts, packets: fillDurations(packets), firstStreams: firstStreamsOf(json) };
}

/** The codec_type ffprobe gives a track of each handler this module reads packets for. */
const HANDLER_TYPES: Record<string, string> = { vide: "video", soun: "audio" };

/** Whether ffprobe's streams are the moov's tracks, one for one, in order (mp4-samples.ts numbers them so). */
function sameTracks(json: unknown, tracks: readonly Mp4Track[]): boolean {
  const raw = (json as { streams?: unknown }).streams;
  const streams = (Array.isArray(raw) ? raw : []) as Record<string, unknown>[];
  return (
    streams.length === tracks.length &&
    tracks.every((t, i) => {
      const s = streams[i];
      const frames = s.nb_frames === undefined ? undefined : Number(s.nb_frames);
      return (
        s.index === i && s.codec_type === HANDLER_TYPES[t.handler] && (frames === undefined || frames === t.samples)
      );
    })
  );
}

/**
 * probeIndexed for a faststart MP4's stand-in, with the packet index read from `head` in-process
 * (./mp4-samples.ts) and ffprobe asked for the facts only (figures in mp4-samples.ts). A file that module does not mirror, or whose tracks are not ffprobe's
 * streams one for one, gets its packets from ffprobe as before; `indexedBy` and `reason` say which and why.
 * TRANSCODER_MOOV_INDEX=0 sends every file to ffprobe (to compare, or should a file be read wrongly here).
 */
export async function probeStandIn(
  standIn: string,
  head: Uint8Array,
  fileSize: number,
  options: { signal?: AbortSignal; ffprobePath?: string } = {},
): Promise<{
  facts: MediaFacts;
  packets: IndexedPacket[];
  firstStreams: FirstStreams;
  indexedBy: "moov" | "ffprobe";
  reason?: string;
}> {
  let read: ReturnType<typeof moovPackets> | undefined;
  let reason: string | undefined;
  try {
    if (process.env.TRANSCODER_MOOV_INDEX === "0") throw new Unsupported("TRANSCODER_MOOV_INDEX=0");
    read = moovPackets(head, fileSize);
    const other = read.tracks.find((t) => !HANDLER_TYPES[t.handler]);
    if (other) {
      reason = `a ${other.handler} track`;
      read = undefined;
    }
  } catch (err) {
    // Unsupported, or a moov this reader cannot make sense of (a table that points outside its box): ffprobe,
    // the authority on what is readable, decides.
    reason = err instanceof Unsupported ? err.message : `the moov could not be read here (${String(err)})`;
  }
  if (read) {
    const { facts, json } = await probeJson(standIn, ["-show_format", "-show_streams", ...INDEX_ONLY_ARGS], options);
    if (sameTracks(json, read.tracks)) {
      return { facts, packets: fillDurations(read.packets), firstStreams: firstStreamsOf(json), indexedBy: "moov" };
    }
    reason = "ffprobe's streams are not the moov's tracks";
  }
  return { ...(await probeIndexed(standIn, options)), indexedBy: "ffprobe", reason };
}

/** The streams ffmpeg's `-map 0:V:0 -map 0:a:0?` copies, by absolute index. */
export interface FirstStreams {
  video?: number;
  audio?: number;
}

/** ffmpeg's `V` is every video stream but attached pictures (cover art); `a` is every audio stream. */
export function firstStreamsOf(json: unknown): FirstStreams {
  const raw = (json as { streams?: unknown }).streams;
  const streams = (Array.isArray(raw) ? raw : []) as Record<string, unknown>[];
  const indexOf = (s: Record<string, unknown> | undefined) =>
    s && Number.isInteger(s.index) ? (s.index as number) : undefined;
  const video = streams.find(
    (s) => s.codec_type === "video" && ((s.disposition ?? {}) as Record<string, unknown>).attached_pic !== 1,
  );
  const audio = streams.find((s) => s.codec_type === "audio");
  return { video: indexOf(video), audio: indexOf(audio) };
}

/** One packet from ffprobe's fields, or undefined for one without a time or dropped by the demuxer. */
function toIndexed(get: (name: string) => string | undefined): IndexedPacket | undefined {
  const stream = Number(get("stream_index"));
  const pts = Number(get("pts_time"));
  if (!Number.isFinite(stream) || !Number.isFinite(pts)) return undefined;
  const duration = Number(get("duration_time")); // NaN when ffprobe prints N/A (or, in JSON, nothing)
  const flags = get("flags") ?? "";
  if (flags.includes("D")) return undefined; // dropped by the demuxer (e.g. AAC priming): never muxed
  const pos = get("pos");
  return {
    stream,
    pts,
    end: pts + (Number.isFinite(duration) ? duration : 0),
    key: flags.startsWith("K"),
    size: Number(get("size")) || 0,
    ...(pos !== undefined && pos !== "" && Number.isFinite(Number(pos)) ? { pos: Number(pos) } : {}),
  };
}

/** Without the parser, video packets carry no duration: each lasts until the next one's time. */
export function fillDurations(packets: IndexedPacket[]): IndexedPacket[] {
  const byStream = new Map<number, IndexedPacket[]>();
  for (const p of packets) {
    const list = byStream.get(p.stream);
    if (list) list.push(p);
    else byStream.set(p.stream, [p]);
  }
  for (const list of byStream.values()) {
    const sorted = [...list].sort((a, b) => a.pts - b.pts);
    for (let i = 0; i < sorted.length; i++) {
      if (sorted[i].end > sorted[i].pts) continue;
      const step =
        i + 1 < sorted.length ? sorted[i + 1].pts - sorted[i].pts : i > 0 ? sorted[i].pts - sorted[i - 1].pts : 0;
      sorted[i].end = sorted[i].pts + step;
    }
  }
  return packets;
}
