/**
 * A faststart MP4's packet index read in-process from its `moov` (ISO/IEC 14496-12 sample tables), the same
 * list `ffprobe -show_entries packet=… -fflags +nofillin+noparse` prints for it: every packet's stream, time,
 * keyframe flag, size and byte offset, in file order, without the packets an edit list discards.
 *
 * Why not ffprobe: on the stand-in of a 60 s 1080p clip, ffprobe's packet listing took 60–68 ms (34 ms of it
 * the transcoder's JS thread parsing ~1 MB of JSON) where the facts alone took 17–19 ms (3 ms), and it sits on
 * the critical path of every streamed upload. Reading the same tables here takes a few milliseconds.
 *
 * It mirrors libavformat's mov demuxer only where that is simple, and says `unsupported` otherwise, for the
 * caller to ask ffprobe (probeIndexed): more than one edit, an empty edit, a rate other than 1, a video edit
 * that starts past the first frame, an audio packet cut by an edit's start, a packet past an edit's end,
 * negative composition offsets, constant-size samples (PCM, indexed by chunk), `stz2`, fragments, and tables
 * that disagree on the sample count. Within that, the listing is equal to ffprobe's, times to the microsecond
 * as it prints them (test/node/transcoder/mp4-samples.test.ts).
 */
import type { IndexedPacket } from "../hls/predict.js";

/** Why the tables were not read here (the caller then lists the packets with ffprobe). */
export class Unsupported extends Error {}

interface Box {
  type: string;
  /** Offset of the box's payload (after its header). */
  body: number;
  end: number;
}

class Reader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u8(at: number): number {
    return this.bytes[at];
  }
  u16(at: number): number {
    return this.view.getUint16(at);
  }
  u32(at: number): number {
    return this.view.getUint32(at);
  }
  i32(at: number): number {
    return this.view.getInt32(at);
  }
  u64(at: number): number {
    return Number(this.view.getBigUint64(at));
  }
  i64(at: number): number {
    return Number(this.view.getBigInt64(at));
  }

  /** The child boxes in [from, to). */
  children(from: number, to: number): Box[] {
    const boxes: Box[] = [];
    let at = from;
    while (at + 8 <= to) {
      let size = this.u32(at);
      let header = 8;
      const type = String.fromCharCode(this.bytes[at + 4], this.bytes[at + 5], this.bytes[at + 6], this.bytes[at + 7]);
      if (size === 1) {
        if (at + 16 > to) throw new Unsupported("a box header overruns its parent");
        size = this.u64(at + 8);
        header = 16;
      } else if (size === 0) {
        size = to - at;
      }
      if (size < header || at + size > to) throw new Unsupported(`the ${type} box overruns its parent`);
      boxes.push({ type, body: at + header, end: at + size });
      at += size;
    }
    return boxes;
  }

  child(parent: Box, type: string): Box | undefined {
    return this.children(parent.body, parent.end).find((b) => b.type === type);
  }

  /** The child box of `type`, holding at least `bodyBytes` after its header. */
  need(parent: Box, type: string, bodyBytes = 0): Box {
    const box = this.child(parent, type);
    if (!box) throw new Unsupported(`no ${type} box`);
    if (box.end - box.body < bodyBytes) throw new Unsupported(`the ${type} box is too short`);
    return box;
  }

  /** A full box's entry count and where its entries start, checked to fit. */
  entries(box: Box, headerBytes: number, entryBytes: number): { count: number; at: number } {
    if (box.end - box.body < headerBytes + 4) throw new Unsupported(`the ${box.type} box is too short`);
    const count = this.u32(box.body + headerBytes);
    const at = box.body + headerBytes + 4;
    if (at + count * entryBytes > box.end) throw new Unsupported(`the ${box.type} table overruns its box`);
    return { count, at };
  }
}

interface Edit {
  /** In the movie's timescale. */
  duration: number;
  /** In the track's timescale; -1 for an empty edit. */
  mediaTime: number;
  rate: number;
}

interface TrackTables {
  handler: string;
  timescale: number;
  edits: Edit[];
  sizes: Uint32Array;
  deltas: Uint32Array;
  offsets?: Int32Array;
  keys?: Uint8Array;
  positions: Float64Array;
}

/** A top-level box at the start of a file: where its header starts, then as Box (its end may lie past the head). */
export interface LeadingBox extends Box {
  start: number;
}

/**
 * The top-level boxes at the start of `head`, in order, up to and including the first `moov` or `mdat`. The walk
 * stops before a box whose header cannot be read: a 64-bit size cut off by the head, or a size of 0 (a box to the
 * end of the file) or under its header's.
 */
export function leadingBoxes(head: Uint8Array): LeadingBox[] {
  const r = new Reader(head);
  const boxes: LeadingBox[] = [];
  let at = 0;
  while (at + 8 <= head.byteLength) {
    let size = r.u32(at);
    let header = 8;
    const type = String.fromCharCode(...head.subarray(at + 4, at + 8));
    if (size === 1) {
      if (at + 16 > head.byteLength) break;
      size = r.u64(at + 8);
      header = 16;
    }
    if (size < header) break;
    boxes.push({ type, start: at, body: at + header, end: at + size });
    if (type === "moov" || type === "mdat") break;
    at += size;
  }
  return boxes;
}

/**
 * The `mvhd`'s timescale and duration (in that timescale) from its payload at `body`, read no further than
 * `limit`; undefined when they do not fit. ISO 14496-12 8.2.2: version 0 has 32-bit times, version 1 64-bit.
 */
export function movieHeader(
  view: DataView,
  body: number,
  limit: number,
): { timescale: number; units: number; v1: boolean } | undefined {
  if (body + 20 > limit) return undefined;
  const v1 = view.getUint8(body) === 1;
  if (v1 && body + 32 > limit) return undefined;
  return {
    timescale: view.getUint32(body + (v1 ? 20 : 12)),
    units: v1 ? Number(view.getBigUint64(body + 24)) : view.getUint32(body + 16),
    v1,
  };
}

/** The moov box of a file whose first bytes are `head`. */
function findMoov(r: Reader): Box {
  const moov = leadingBoxes(r.bytes).at(-1);
  if (moov?.type !== "moov") throw new Unsupported("no moov box before the media");
  if (moov.end > r.bytes.byteLength) throw new Unsupported("the moov runs past the head");
  return moov;
}

function readEdits(r: Reader, trak: Box): Edit[] {
  const edts = r.child(trak, "edts");
  const elst = edts && r.child(edts, "elst");
  if (!elst) return [];
  const v1 = r.u8(elst.body) === 1;
  const { count, at } = r.entries(elst, 4, v1 ? 20 : 12);
  const edits: Edit[] = [];
  for (let i = 0, p = at; i < count; i++, p += v1 ? 20 : 12) {
    const duration = v1 ? r.u64(p) : r.u32(p);
    const mediaTime = v1 ? r.i64(p + 8) : r.i32(p + 4);
    const rate = r.view.getInt16(p + (v1 ? 16 : 8)) + r.u16(p + (v1 ? 18 : 10)) / 65536;
    edits.push({ duration, mediaTime, rate });
  }
  return edits;
}

/** A run-length table of (count, value) pairs (stts, ctts) into one value per sample, which it must cover exactly. */
function expandRuns(r: Reader, box: Box, into: Uint32Array | Int32Array, value: (at: number) => number): void {
  const { count, at } = r.entries(box, 4, 8);
  let filled = 0;
  for (let e = 0; e < count; e++) {
    const run = r.u32(at + 8 * e);
    if (filled + run > into.length) throw new Unsupported(`${box.type} counts more samples than stsz`);
    into.fill(value(at + 8 * e + 4), filled, filled + run);
    filled += run;
  }
  if (filled !== into.length) throw new Unsupported(`${box.type} counts fewer samples than stsz`);
}

function readTrack(r: Reader, trak: Box): TrackTables {
  const mdia = r.need(trak, "mdia");
  const mdhd = r.need(mdia, "mdhd", 24);
  if (r.u8(mdhd.body) === 1 && mdhd.end - mdhd.body < 32) throw new Unsupported("the mdhd box is too short");
  const timescale = r.u8(mdhd.body) === 1 ? r.u32(mdhd.body + 20) : r.u32(mdhd.body + 12);
  if (!timescale) throw new Unsupported("a track without a timescale");
  const hdlr = r.need(mdia, "hdlr", 12);
  const handler = String.fromCharCode(...r.bytes.subarray(hdlr.body + 8, hdlr.body + 12));
  const stbl = r.need(r.need(mdia, "minf"), "stbl");
  if (r.child(stbl, "stz2")) throw new Unsupported("compact sample sizes (stz2)");

  const stsz = r.need(stbl, "stsz", 12);
  const constant = r.u32(stsz.body + 4);
  if (constant !== 0) throw new Unsupported("constant-size samples (indexed by chunk)");
  const sized = r.entries(stsz, 8, 4);
  const n = sized.count;
  const sizes = new Uint32Array(n);
  for (let i = 0; i < n; i++) sizes[i] = r.u32(sized.at + 4 * i);

  const deltas = new Uint32Array(n);
  expandRuns(r, r.need(stbl, "stts"), deltas, (at) => r.u32(at));
  let offsets: Int32Array | undefined;
  const ctts = r.child(stbl, "ctts");
  if (ctts) {
    offsets = new Int32Array(n);
    expandRuns(r, ctts, offsets, (at) => {
      const offset = r.i32(at);
      if (offset < 0) throw new Unsupported("negative composition offsets");
      return offset;
    });
  }

  let keys: Uint8Array | undefined;
  const stssBox = r.child(stbl, "stss");
  if (stssBox) {
    const stss = r.entries(stssBox, 4, 4);
    if (stss.count === 0) throw new Unsupported("an empty sync sample table");
    keys = new Uint8Array(n);
    for (let e = 0; e < stss.count; e++) {
      const sample = r.u32(stss.at + 4 * e);
      if (sample < 1 || sample > n) throw new Unsupported("a sync sample out of range");
      keys[sample - 1] = 1;
    }
  }

  // Where each sample is: its chunk's offset (stco/co64) plus the samples before it in that chunk (stsc).
  const stcoBox = r.child(stbl, "stco");
  const co64Box = stcoBox ? undefined : r.child(stbl, "co64");
  if (!stcoBox && !co64Box) throw new Unsupported("no chunk offsets");
  const chunks = stcoBox ? r.entries(stcoBox, 4, 4) : r.entries(co64Box as Box, 4, 8);
  const chunkOffset = (c: number) => (stcoBox ? r.u32(chunks.at + 4 * c) : r.u64(chunks.at + 8 * c));
  const stsc = r.entries(r.need(stbl, "stsc"), 4, 12);
  const positions = new Float64Array(n);
  let sample = 0;
  for (let e = 0; e < stsc.count && sample < n; e++) {
    const first = r.u32(stsc.at + 12 * e) - 1;
    const perChunk = r.u32(stsc.at + 12 * e + 4);
    const last = e + 1 < stsc.count ? r.u32(stsc.at + 12 * (e + 1)) - 1 : chunks.count;
    if (first < 0 || last < first || last > chunks.count) throw new Unsupported("stsc runs out of order");
    for (let c = first; c < last && sample < n; c++) {
      let pos = chunkOffset(c);
      for (let s = 0; s < perChunk && sample < n; s++) {
        positions[sample] = pos;
        pos += sizes[sample];
        sample++;
      }
    }
  }
  if (sample !== n) throw new Unsupported("the chunks hold fewer samples than stsz");

  return { handler, timescale, edits: readEdits(r, trak), sizes, deltas, offsets, keys, positions };
}

/**
 * `ticks × (1 / timescale)` printed as ffprobe prints a time (C's "%f": six decimals, a tie to even) and read
 * back, so a packet's time is the very number ffprobe's listing gives.
 */
export function ffprobeSeconds(ticks: number, timescale: number): number {
  const x = ticks * (1 / timescale);
  const seven = x.toFixed(7);
  // JavaScript rounds an exact tie away from zero, C to even. A tie is exact only when x is that 7-decimal
  // number itself, which a double can be only if the number is a dyadic fraction (its digits a multiple of 5^7).
  if (seven.endsWith("5") && Number(seven.replace(/[-.]/g, "")) % 78125 === 0 && Number(seven) === x) {
    const truncated = seven.slice(0, -1);
    if (Number(truncated.at(-1)) % 2 === 0) return Number(truncated);
  }
  return Number(x.toFixed(6));
}

/** A sample in the demuxer's index: its decode time (µs, for the read order), where it is, and its packet. */
interface Indexed {
  dtsMicros: number;
  pos: number;
  /** Undefined for a sample the edit list discards (ffprobe lists it with the D flag; the index leaves it out). */
  packet?: IndexedPacket;
}

/** One track's index, as the mov demuxer builds it from the tables and the edit list. */
function trackIndex(t: TrackTables, stream: number, movieTimescale: number, fileSize: number): Indexed[] {
  const n = t.sizes.length;
  let shift = 0;
  let editEnd = Number.POSITIVE_INFINITY;
  if (t.edits.length > 1) throw new Unsupported("more than one edit");
  const edit = t.edits[0];
  if (edit) {
    if (edit.mediaTime < 0) throw new Unsupported("an empty edit");
    if (edit.rate !== 1) throw new Unsupported("an edit at a rate other than 1");
    shift = edit.mediaTime;
    if (edit.duration > 0 && movieTimescale > 0) editEnd = shift + (edit.duration * t.timescale) / movieTimescale;
  }
  const video = t.handler === "vide";
  const index: Indexed[] = new Array(n);
  let dts = 0;
  let lastPos = -1;
  for (let i = 0; i < n; i++) {
    const delta = t.deltas[i];
    const pts = dts + (t.offsets ? t.offsets[i] : 0);
    const pos = t.positions[i];
    const size = t.sizes[i];
    if (pos + size > fileSize) throw new Unsupported("a sample past the end of the file");
    if (pos <= lastPos) throw new Unsupported("samples out of file order");
    lastPos = pos;
    // av_rescale(…, AV_TIME_BASE, timescale): to the nearest microsecond, a half away from zero.
    const dtsMicros = Math.sign(dts - shift) * Math.round((Math.abs(dts - shift) * 1e6) / t.timescale);
    if (pts < shift) {
      // Before the edit's start: an audio packet wholly before it is discarded (priming); anything else the
      // demuxer keeps in part, or keeps for decoding, which is not mirrored here.
      if (video || pts + delta > shift) throw new Unsupported("an edit that starts inside the media");
      index[i] = { dtsMicros, pos };
    } else {
      if (pts >= editEnd) throw new Unsupported("a packet past its edit's end");
      const start = ffprobeSeconds(pts - shift, t.timescale);
      // With composition offsets the demuxer gives packets no duration (the listing says N/A).
      const end = t.offsets ? start : start + ffprobeSeconds(delta, t.timescale);
      index[i] = {
        dtsMicros,
        pos,
        packet: { stream, pts: start, end, key: t.keys ? t.keys[i] === 1 : true, size, pos },
      };
    }
    dts += delta;
  }
  return index;
}

/**
 * The order the mov demuxer reads the tracks' samples in (mov_find_next_sample, a seekable file): the next
 * sample with the lowest byte offset, unless its decode time is more than a second away from the best so far,
 * when the earlier decode time wins.
 */
function readOrder(tracks: Indexed[][]): IndexedPacket[] {
  const next = tracks.map(() => 0);
  const out: IndexedPacket[] = [];
  for (;;) {
    let best = -1;
    let bestDts = 0;
    for (let s = 0; s < tracks.length; s++) {
      const cur = tracks[s][next[s]];
      if (!cur) continue;
      const bestSample = best >= 0 ? tracks[best][next[best]] : undefined;
      const far = bestSample ? Math.abs(bestDts - cur.dtsMicros) > 1_000_000 : false;
      if (!bestSample || (!far && cur.pos < bestSample.pos) || (far && cur.dtsMicros < bestDts)) {
        best = s;
        bestDts = cur.dtsMicros;
      }
    }
    if (best < 0) return out;
    const packet = tracks[best][next[best]++].packet;
    if (packet) out.push(packet);
  }
}

/** The movie's tracks, in order: stream N is the N-th trak, as the mov demuxer numbers them. */
export interface Mp4Track {
  handler: string;
  samples: number;
}

/**
 * Every packet of the faststart MP4 whose first bytes (at least its moov) are `head` and whose full size is
 * `fileSize`, in file order, with the stream numbering ffprobe uses; throws Unsupported for a file it does not
 * mirror. Durations are not filled in here (mp4-index.ts's fillDurations does, as for ffprobe's listing).
 */
export function moovPackets(head: Uint8Array, fileSize: number): { packets: IndexedPacket[]; tracks: Mp4Track[] } {
  const r = new Reader(head);
  const moov = findMoov(r);
  if (r.child(moov, "mvex")) throw new Unsupported("a fragmented file");
  const mvhd = r.need(moov, "mvhd");
  const movie = movieHeader(r.view, mvhd.body, mvhd.end);
  if (!movie) throw new Unsupported("the mvhd box is too short");
  const movieTimescale = movie.timescale;
  const traks = r.children(moov.body, moov.end).filter((b) => b.type === "trak");
  const tracks: Mp4Track[] = [];
  const indexes = traks.map((trak, stream) => {
    const t = readTrack(r, trak);
    tracks.push({ handler: t.handler, samples: t.sizes.length });
    return trackIndex(t, stream, movieTimescale, fileSize);
  });
  return { packets: readOrder(indexes), tracks };
}
