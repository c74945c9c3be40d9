/**
 * The few ISO-BMFF (MP4) facts a CMAF chunked push needs, read from top-level boxes as bytes arrive:
 * the init segment's tracks (`moov`: track IDs, handler, timescale, `trex` defaults) and, per fragment
 * (`moof`), each track's sample count, duration and whether its first sample is a sync sample. Hand-written
 * rather than a library: the npm MP4 parsers (mp4box.js, mux.js) are hundreds of KB built for players and
 * Node/DOM, while this needs five box types and no allocation beyond the bytes already held. Pure; every
 * read is bounds-checked and a malformed box is reported (null), never thrown.
 */

export interface TrackInfo {
  id: number;
  /** `vide`, `soun`, … from `hdlr`. */
  handler: string;
  timescale: number;
  defaultDuration: number;
  defaultFlags: number;
}

export interface FragmentTrack {
  id: number;
  samples: number;
  /** In the track's timescale. */
  duration: number;
  /** The first sample is a sync sample (a keyframe for video). */
  startsWithSync: boolean;
  /** `tfdt` baseMediaDecodeTime in the track's timescale; null without a `tfdt`. */
  decodeTime: number | null;
}

const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const type4 = (b: Uint8Array, o: number) => String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]);

/**
 * The size and type of the top-level box at `off`; `size: null` when its header is not complete yet.
 * A size below 8 (other than the 64-bit form) or a 64-bit size over 2^32 is malformed (`size: -1`).
 */
export function boxHeader(b: Uint8Array, off: number): { size: number | null; type: string; header: number } {
  if (b.length - off < 8) return { size: null, type: "", header: 8 };
  const size = u32(b, off);
  const type = type4(b, off + 4);
  if (size === 1) {
    if (b.length - off < 16) return { size: null, type, header: 16 };
    const hi = u32(b, off + 8);
    return { size: hi !== 0 ? -1 : u32(b, off + 12), type, header: 16 };
  }
  if (size < 8) return { size: -1, type, header: 8 };
  return { size, type, header: 8 };
}

/** Children of a container box between `start` and `end`: [type, payload start, box end]. */
function* children(b: Uint8Array, start: number, end: number): Generator<[string, number, number]> {
  let off = start;
  while (off + 8 <= end) {
    const h = boxHeader(b.subarray(0, end), off);
    if (h.size === null || h.size < 0 || off + h.size > end) return;
    yield [h.type, off + h.header, off + h.size];
    off += h.size;
  }
}

function find(b: Uint8Array, start: number, end: number, type: string): [number, number] | null {
  for (const [t, s, e] of children(b, start, end)) if (t === type) return [s, e];
  return null;
}

/** The tracks of an init segment (`ftyp` + `moov`); null when there is no readable `moov` with tracks. */
export function initTracks(b: Uint8Array): TrackInfo[] | null {
  const moov = find(b, 0, b.length, "moov");
  if (!moov) return null;
  const tracks: TrackInfo[] = [];
  for (const [t, s, e] of children(b, moov[0], moov[1])) {
    if (t !== "trak") continue;
    const tkhd = find(b, s, e, "tkhd");
    const mdia = find(b, s, e, "mdia");
    if (!tkhd || !mdia || tkhd[1] - tkhd[0] < 24) return null;
    const id = u32(b, tkhd[0] + (b[tkhd[0]] === 1 ? 20 : 12));
    const mdhd = find(b, mdia[0], mdia[1], "mdhd");
    const hdlr = find(b, mdia[0], mdia[1], "hdlr");
    if (!mdhd || !hdlr || mdhd[1] - mdhd[0] < 24 || hdlr[1] - hdlr[0] < 12) return null;
    const timescale = u32(b, mdhd[0] + (b[mdhd[0]] === 1 ? 20 : 12));
    if (timescale === 0) return null;
    tracks.push({ id, handler: type4(b, hdlr[0] + 8), timescale, defaultDuration: 0, defaultFlags: 0 });
  }
  const mvex = find(b, moov[0], moov[1], "mvex");
  if (mvex) {
    for (const [t, s, e] of children(b, mvex[0], mvex[1])) {
      if (t !== "trex" || e - s < 24) continue;
      const track = tracks.find((x) => x.id === u32(b, s + 4));
      if (track) {
        track.defaultDuration = u32(b, s + 12);
        track.defaultFlags = u32(b, s + 20);
      }
    }
  }
  return tracks.length > 0 ? tracks : null;
}

const NON_SYNC = 0x10000;

/**
 * Per track of a `moof` box's payload (`start`..`end`): samples, summed duration, first-sample sync.
 * Null when a `traf` is malformed or names a track the init segment does not have.
 */
export function fragmentTracks(b: Uint8Array, start: number, end: number, tracks: TrackInfo[]): FragmentTrack[] | null {
  const out: FragmentTrack[] = [];
  for (const [t, s, e] of children(b, start, end)) {
    if (t !== "traf") continue;
    const tfhd = find(b, s, e, "tfhd");
    if (!tfhd || tfhd[1] - tfhd[0] < 8) return null;
    const tfFlags = u32(b, tfhd[0]) & 0xffffff;
    const track = tracks.find((x) => x.id === u32(b, tfhd[0] + 4));
    if (!track) return null;
    let o = tfhd[0] + 8;
    if (tfFlags & 0x1) o += 8;
    if (tfFlags & 0x2) o += 4;
    let defDuration = track.defaultDuration;
    let defFlags = track.defaultFlags;
    if (tfFlags & 0x8) {
      if (o + 4 > tfhd[1]) return null;
      defDuration = u32(b, o);
      o += 4;
    }
    if (tfFlags & 0x10) o += 4;
    if (tfFlags & 0x20) {
      if (o + 4 > tfhd[1]) return null;
      defFlags = u32(b, o);
    }
    const tfdt = find(b, s, e, "tfdt");
    let decodeTime: number | null = null;
    if (tfdt && tfdt[1] - tfdt[0] >= 8) {
      decodeTime =
        b[tfdt[0]] === 1 && tfdt[1] - tfdt[0] >= 12
          ? u32(b, tfdt[0] + 4) * 2 ** 32 + u32(b, tfdt[0] + 8)
          : u32(b, tfdt[0] + 4);
    }
    let samples = 0;
    let duration = 0;
    let firstFlags: number | null = null;
    for (const [rt, rs, re] of children(b, s, e)) {
      if (rt !== "trun") continue;
      if (re - rs < 8) return null;
      const flags = u32(b, rs) & 0xffffff;
      const count = u32(b, rs + 4);
      let p = rs + 8;
      if (flags & 0x1) p += 4;
      let first: number | null = null;
      if (flags & 0x4) {
        first = u32(b, p);
        p += 4;
      }
      const per =
        ((flags & 0x100) !== 0 ? 4 : 0) + (flags & 0x200 ? 4 : 0) + (flags & 0x400 ? 4 : 0) + (flags & 0x800 ? 4 : 0);
      if (p + per * count > re) return null;
      for (let i = 0; i < count; i++) {
        let q = p + i * per;
        duration += flags & 0x100 ? u32(b, q) : defDuration;
        if (flags & 0x100) q += 4;
        if (flags & 0x200) q += 4;
        const sampleFlags = i === 0 && first !== null ? first : flags & 0x400 ? u32(b, q) : defFlags;
        if (samples === 0 && i === 0) firstFlags = sampleFlags;
      }
      samples += count;
    }
    out.push({
      id: track.id,
      samples,
      duration,
      startsWithSync: firstFlags !== null && (firstFlags & NON_SYNC) === 0,
      decodeTime,
    });
  }
  return out.length > 0 ? out : null;
}
