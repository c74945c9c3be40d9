/**
 * What a live connection carries, read from the bytes the encoder pushed: RFC 6381 codec strings and
 * the video's coded size, for the live master playlist's CODECS and RESOLUTION and for `…/health`.
 * fMP4: the init segment's sample entries (avcC/esds). MPEG-TS: the PMT's stream types, the H.264
 * SPS at the start of the first video PES (ffmpeg repeats SPS/PPS before every IDR) and the ADTS
 * header of the first audio PES. Pure, bounded, and never throws: what it cannot read it leaves out
 * (a master without CODECS is valid; a wrong CODECS makes players refuse the stream).
 */

export interface MediaInfo {
  /** e.g. `avc1.64001f,mp4a.40.2`; null when no track was recognised. */
  codecs: string | null;
  width: number | null;
  height: number | null;
}

const hex2 = (n: number) => n.toString(16).padStart(2, "0");

/** RBSP reader for the SPS: emulation prevention bytes removed, Exp-Golomb codes. */
class Bits {
  private bit = 0;
  private readonly b: Uint8Array;
  constructor(nal: Uint8Array) {
    const out: number[] = [];
    for (let i = 0; i < nal.length; i++) {
      if (i >= 2 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
      out.push(nal[i]);
    }
    this.b = Uint8Array.from(out);
  }
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.b[this.bit >> 3];
      if (byte === undefined) throw new RangeError("SPS ended early");
      v = (v << 1) | ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return v >>> 0;
  }
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new RangeError("bad Exp-Golomb code");
    return zeros === 0 ? 0 : (1 << zeros) - 1 + this.u(zeros);
  }
  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** An H.264 SPS NAL unit (header byte included): its codec string and cropped frame size. */
export function parseAvcSps(nal: Uint8Array): { codec: string; width: number; height: number } | null {
  if (nal.length < 4 || (nal[0] & 0x1f) !== 7) return null;
  const codec = `avc1.${hex2(nal[1])}${hex2(nal[2])}${hex2(nal[3])}`;
  try {
    const r = new Bits(nal.subarray(1));
    const profile = r.u(8);
    r.u(16); // constraint flags, level
    r.ue(); // seq_parameter_set_id
    let chroma = 1;
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
      chroma = r.ue();
      if (chroma === 3) r.u(1);
      r.ue();
      r.ue();
      r.u(1);
      if (r.u(1)) {
        for (let i = 0; i < (chroma === 3 ? 12 : 8); i++) {
          if (!r.u(1)) continue;
          let last = 8;
          let next = 8;
          for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
            if (next !== 0) next = (last + r.se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) {
      r.u(1);
      r.se();
      r.se();
      const n = r.ue();
      for (let i = 0; i < n; i++) r.se();
    }
    r.ue(); // max_num_ref_frames
    r.u(1);
    const wMbs = r.ue() + 1;
    const hMaps = r.ue() + 1;
    const frameMbsOnly = r.u(1);
    if (!frameMbsOnly) r.u(1);
    r.u(1);
    let crop = [0, 0, 0, 0];
    if (r.u(1)) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
    const subW = chroma === 1 || chroma === 2 ? 2 : 1;
    const subH = chroma === 1 ? 2 : 1;
    const cropX = chroma === 0 ? 1 : subW;
    const cropY = (chroma === 0 ? 1 : subH) * (2 - frameMbsOnly);
    const width = wMbs * 16 - cropX * (crop[0] + crop[1]);
    const height = (2 - frameMbsOnly) * hMaps * 16 - cropY * (crop[2] + crop[3]);
    return width > 0 && height > 0 ? { codec, width, height } : { codec, width: 0, height: 0 };
  } catch {
    return { codec, width: 0, height: 0 };
  }
}

/** `mp4a.40.{audio object type}` from an AudioSpecificConfig's first byte, or from an ADTS profile. */
const aac = (objectType: number) => (objectType > 0 && objectType < 31 ? `mp4a.40.${objectType}` : "mp4a.40.2");

/** `complete`: every track was recognised; otherwise CODECS is left out (it must name every codec present). */
function finish(
  video: { codec: string; width: number; height: number } | null,
  audio: string | null,
  complete: boolean,
): MediaInfo {
  const codecs = [video?.codec, audio].filter((x): x is string => !!x);
  return {
    codecs: complete && codecs.length > 0 ? codecs.join(",") : null,
    width: video && video.width > 0 ? video.width : null,
    height: video && video.height > 0 ? video.height : null,
  };
}

// ---------------------------------------------------------------- fMP4 init segments

/** Child boxes of `b[start, end)`: [type, payload start, box end]. */
function* boxes(b: Uint8Array, start: number, end: number): Generator<[string, number, number]> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let off = start;
  while (off + 8 <= end) {
    let size = dv.getUint32(off);
    let header = 8;
    if (size === 1 && off + 16 <= end) {
      size = Number(dv.getBigUint64(off + 8));
      header = 16;
    } else if (size === 0) size = end - off;
    if (size < header || off + size > end) return;
    yield [String.fromCharCode(b[off + 4], b[off + 5], b[off + 6], b[off + 7]), off + header, off + size];
    off += size;
  }
}

function child(b: Uint8Array, start: number, end: number, type: string): [number, number] | null {
  for (const [t, s, e] of boxes(b, start, end)) if (t === type) return [s, e];
  return null;
}

/** ES_Descriptor → DecoderConfigDescriptor → DecoderSpecificInfo: the AAC audio object type. */
function esdsObjectType(b: Uint8Array, start: number, end: number): number | null {
  let off = start + 4; // version + flags
  const descriptor = (): [number, number] | null => {
    if (off >= end) return null;
    const tag = b[off++];
    let len = 0;
    for (let i = 0; i < 4 && off < end; i++) {
      const c = b[off++];
      len = (len << 7) | (c & 0x7f);
      if (!(c & 0x80)) break;
    }
    return [tag, len];
  };
  const es = descriptor();
  if (es?.[0] !== 3) return null;
  const flags = b[off + 2];
  off += 3;
  if (flags & 0x80) off += 2;
  if (flags & 0x40) off += 1 + b[off];
  if (flags & 0x20) off += 2;
  const dc = descriptor();
  if (dc?.[0] !== 4) return null;
  const oti = b[off];
  off += 13;
  if (oti !== 0x40) return oti === 0x69 || oti === 0x6b ? 34 : null;
  const dsi = descriptor();
  if (dsi?.[0] !== 5 || off >= end) return 2;
  return b[off] >> 3;
}

/** The tracks of an fMP4 init segment (ftyp + moov). */
export function mediaInfoFromInit(b: Uint8Array): MediaInfo {
  let video: { codec: string; width: number; height: number } | null = null;
  let audio: string | null = null;
  let complete = true;
  try {
    const moov = child(b, 0, b.length, "moov");
    if (!moov) return finish(null, null, false);
    for (const [t, s, e] of boxes(b, moov[0], moov[1])) {
      if (t !== "trak") continue;
      const stsd = ["mdia", "minf", "stbl", "stsd"].reduce<[number, number] | null>(
        (at, name) => (at ? child(b, at[0], at[1], name) : null),
        [s, e],
      );
      if (!stsd) {
        complete = false;
        continue;
      }
      for (const [entry, es, ee] of boxes(b, stsd[0] + 8, stsd[1])) {
        if ((entry === "avc1" || entry === "avc3") && !video) {
          const avcC = child(b, es + 78, ee, "avcC");
          if (!avcC) {
            complete = false;
            continue;
          }
          const p = avcC[0];
          const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
          const spsLen = b[p + 5] & 0x1f ? dv.getUint16(p + 6) : 0;
          const sps = spsLen ? parseAvcSps(b.subarray(p + 8, p + 8 + spsLen)) : null;
          const codec = `${entry}.${hex2(b[p + 1])}${hex2(b[p + 2])}${hex2(b[p + 3])}`;
          // The sample entry's width/height are the display size ffmpeg writes; prefer the SPS's cropped size.
          video = {
            codec,
            width: sps?.width || dv.getUint16(es + 24),
            height: sps?.height || dv.getUint16(es + 26),
          };
        } else if (entry === "mp4a" && !audio) {
          const esds = child(b, es + 28, ee, "esds");
          const ot = esds ? esdsObjectType(b, esds[0], esds[1]) : null;
          audio = ot === 34 ? "mp4a.40.34" : aac(ot ?? 2);
        } else if (entry === "Opus" && !audio) audio = "opus";
        else if (entry === "ac-3" && !audio) audio = "ac-3";
        else if (entry === "ec-3" && !audio) audio = "ec-3";
        else complete = false;
      }
    }
  } catch {
    // A truncated box: sizes may still be right, CODECS is not.
    complete = false;
  }
  return finish(video, audio, complete);
}

// ---------------------------------------------------------------- MPEG-TS segments

/** The first PES payload bytes of each PID (up to `cap` bytes each), from the segment's packets. */
function firstPayloads(b: Uint8Array, pids: Set<number>, cap: number): Map<number, Uint8Array> {
  const parts = new Map<number, number[]>();
  const done = new Set<number>();
  for (let off = 0; off + 188 <= b.length; off += 188) {
    if (b[off] !== 0x47) break;
    const pid = ((b[off + 1] & 0x1f) << 8) | b[off + 2];
    if (!pids.has(pid) || done.has(pid)) continue;
    const start = (b[off + 1] & 0x40) !== 0;
    const afc = (b[off + 3] >> 4) & 3;
    let p = off + 4;
    if (afc === 2) continue;
    if (afc === 3) p += 1 + b[p];
    if (p >= off + 188) continue;
    let acc = parts.get(pid);
    if (start) {
      if (acc) {
        done.add(pid);
        continue;
      }
      // PES header: 00 00 01 stream_id, length(2), flags(2), header_data_length.
      if (b[p] !== 0 || b[p + 1] !== 0 || b[p + 2] !== 1) continue;
      p += 9 + b[p + 8];
      acc = [];
      parts.set(pid, acc);
    }
    if (!acc) continue;
    for (let i = p; i < off + 188 && acc.length < cap; i++) acc.push(b[i]);
    if (acc.length >= cap) done.add(pid);
  }
  return new Map([...parts].map(([pid, bytes]) => [pid, Uint8Array.from(bytes)]));
}

/** The elementary streams of the first PMT: PID → stream_type. */
function pmtStreams(b: Uint8Array): Map<number, number> {
  const section = (pid: number): Uint8Array | null => {
    for (let off = 0; off + 188 <= b.length; off += 188) {
      if (b[off] !== 0x47 || (((b[off + 1] & 0x1f) << 8) | b[off + 2]) !== pid || !(b[off + 1] & 0x40)) continue;
      const afc = (b[off + 3] >> 4) & 3;
      let p = off + 4;
      if (afc === 2) continue;
      if (afc === 3) p += 1 + b[p];
      p += 1 + b[p]; // pointer_field
      return b.subarray(p, off + 188);
    }
    return null;
  };
  const out = new Map<number, number>();
  const pat = section(0);
  if (pat?.[0] !== 0) return out;
  const patEnd = Math.min(pat.length, 3 + (((pat[1] & 0x0f) << 8) | pat[2]) - 4);
  let pmtPid = -1;
  for (let i = 8; i + 4 <= patEnd; i += 4) {
    const program = (pat[i] << 8) | pat[i + 1];
    if (program !== 0) {
      pmtPid = ((pat[i + 2] & 0x1f) << 8) | pat[i + 3];
      break;
    }
  }
  const pmt = pmtPid >= 0 ? section(pmtPid) : null;
  if (pmt?.[0] !== 2) return out;
  const end = Math.min(pmt.length, 3 + (((pmt[1] & 0x0f) << 8) | pmt[2]) - 4);
  let i = 12 + (((pmt[10] & 0x0f) << 8) | pmt[11]);
  while (i + 5 <= end) {
    out.set(((pmt[i + 1] & 0x1f) << 8) | pmt[i + 2], pmt[i]);
    i += 5 + (((pmt[i + 3] & 0x0f) << 8) | pmt[i + 4]);
  }
  return out;
}

/** The SPS NAL unit in an Annex B byte stream, if any. */
function annexBSps(es: Uint8Array): Uint8Array | null {
  for (let i = 0; i + 3 < es.length; i++) {
    if (es[i] !== 0 || es[i + 1] !== 0 || es[i + 2] !== 1) continue;
    const start = i + 3;
    if ((es[start] & 0x1f) !== 7) continue;
    let end = start + 1;
    while (end + 2 < es.length && !(es[end] === 0 && es[end + 1] === 0 && (es[end + 2] === 1 || es[end + 2] === 0)))
      end++;
    return es.subarray(start, end + 2 >= es.length ? es.length : end);
  }
  return null;
}

/** The tracks of an MPEG-TS segment. */
export function mediaInfoFromTs(b: Uint8Array): MediaInfo {
  try {
    const streams = pmtStreams(b);
    const payloads = firstPayloads(b, new Set(streams.keys()), 4096);
    let video: { codec: string; width: number; height: number } | null = null;
    let audio: string | null = null;
    let complete = streams.size > 0;
    for (const [pid, type] of streams) {
      const es = payloads.get(pid);
      if (type === 0x1b && !video) {
        const sps = es ? annexBSps(es) : null;
        video = sps ? parseAvcSps(sps) : null;
        if (!video) complete = false;
      } else if (type === 0x0f && !audio && es && es.length >= 3 && es[0] === 0xff && (es[1] & 0xf0) === 0xf0) {
        audio = aac(((es[2] >> 6) & 3) + 1);
      } else if ((type === 0x03 || type === 0x04) && !audio) audio = "mp4a.40.34";
      else if (type === 0x81 && !audio) audio = "ac-3";
      else if (type !== 0x15 && type !== 0x06) complete = false; // ID3 timed metadata / private data carry no codec
    }
    return finish(video, audio, complete);
  } catch {
    return finish(null, null, false);
  }
}
