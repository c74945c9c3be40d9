/**
 * The few ISO-BMFF boxes the chunked ladder reads and rewrites in ffmpeg's fMP4 HLS output.
 *
 * ffmpeg's mp4 muxer starts every output's decode timeline at 0: a chunk encoded from 12.012 s gets
 * `tfdt` 0 in its first fragment and records its start as an empty edit in init.mp4's `elst` instead
 * (with or without -output_ts_offset; the hls muxer passes no movflags that would change that, in 4.1
 * or 5.1). So each chunk's segments are shifted onto the whole timeline here: `tfdt` (the fragment's
 * decode time) and `sidx` (its earliest presentation time) gain the chunk's start in the track's
 * timescale, and `mfhd` gets the sequence number the single-process ladder gives that segment. Chunk 0
 * starts at 0, so its init.mp4 is byte-identical to the single-process one (checked: same bytes on
 * ffmpeg 5.1 and 4.1) and is the rendition's init; the other chunks' inits must equal it except for the
 * `elst` entries (sameInit), which is what proves the SPS/PPS (avcC) and every other track setting match.
 */

export interface Box {
  type: string;
  /** Offset of the box header in the buffer. */
  start: number;
  /** Offset of the payload (after size, type and any 64-bit size). */
  payload: number;
  end: number;
}

const CONTAINERS = new Set(["moov", "trak", "mdia", "minf", "stbl", "edts", "mvex", "moof", "traf", "dinf"]);

export class Fmp4Error extends Error {
  override name = "Fmp4Error";
}

/** The boxes in buf[from, to), descending into the containers above, depth first. */
export function boxes(buf: Buffer, from = 0, to = buf.length): Box[] {
  const out: Box[] = [];
  let at = from;
  while (at + 8 <= to) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString("latin1", at + 4, at + 8);
    let payload = at + 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      payload = at + 16;
    } else if (size === 0) {
      size = to - at;
    }
    if (size < payload - at || at + size > to) throw new Fmp4Error(`malformed ${type} box at ${at}`);
    const box = { type, start: at, payload, end: at + size };
    out.push(box);
    if (CONTAINERS.has(type)) out.push(...boxes(buf, payload, box.end));
    at += size;
  }
  return out;
}

function only(list: Box[], type: string, what: string): Box {
  const found = list.filter((b) => b.type === type);
  if (found.length !== 1) throw new Fmp4Error(`${what}: expected one ${type} box, found ${found.length}`);
  return found[0] as Box;
}

/** The media timescale of the (single) track in an init segment. */
export function trackTimescale(init: Buffer): number {
  const mdhd = only(boxes(init), "mdhd", "init segment");
  const version = init.readUInt8(mdhd.payload);
  // version(1) flags(3) creation modification (4 or 8 each) timescale(4)
  return init.readUInt32BE(mdhd.payload + 4 + (version === 1 ? 16 : 8));
}

/** The init with every `elst` entry zeroed: what must be identical across the chunks of a rendition. */
function withoutEditList(init: Buffer): Buffer {
  const copy = Buffer.from(init);
  for (const box of boxes(copy)) {
    // version/flags(4) entry_count(4) then the entries: the start offset lives there.
    if (box.type === "elst") copy.fill(0, box.payload + 8, box.end);
  }
  return copy;
}

/** Whether two chunks' inits describe the same track (same bytes except for the edit list's entries). */
export function sameInit(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && withoutEditList(a).equals(withoutEditList(b));
}

/**
 * Shifts one media segment by `ticks` (track timescale) and gives its fragment the sequence number
 * `sequence`, in place. Returns the segment's new decode time.
 */
export function shiftSegment(seg: Buffer, ticks: number, sequence: number): number {
  const list = boxes(seg);
  let decodeTime: number | undefined;
  for (const box of list) {
    if (box.type === "tfdt") {
      const version = seg.readUInt8(box.payload);
      if (version === 1) {
        const t = seg.readBigUInt64BE(box.payload + 4) + BigInt(ticks);
        seg.writeBigUInt64BE(t, box.payload + 4);
        decodeTime = Number(t);
      } else {
        const t = seg.readUInt32BE(box.payload + 4) + ticks;
        if (t > 0xffff_ffff) throw new Fmp4Error("tfdt version 0 cannot hold the shifted decode time");
        seg.writeUInt32BE(t, box.payload + 4);
        decodeTime = t;
      }
    } else if (box.type === "sidx") {
      const version = seg.readUInt8(box.payload);
      // version/flags(4) reference_ID(4) timescale(4) earliest_presentation_time(4 or 8)
      const at = box.payload + 12;
      if (version === 1) seg.writeBigUInt64BE(seg.readBigUInt64BE(at) + BigInt(ticks), at);
      else {
        const t = seg.readUInt32BE(at) + ticks;
        if (t > 0xffff_ffff) throw new Fmp4Error("sidx version 0 cannot hold the shifted presentation time");
        seg.writeUInt32BE(t, at);
      }
    } else if (box.type === "mfhd") {
      seg.writeUInt32BE(sequence, box.payload + 4);
    }
  }
  if (decodeTime === undefined) throw new Fmp4Error("media segment has no tfdt box");
  return decodeTime;
}
