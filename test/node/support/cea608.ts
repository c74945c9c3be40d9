/**
 * A test source with CEA-608 captions, made offline: ffmpeg has no 608 encoder, so libx264 writes an Annex-B
 * stream and this module inserts, before every picture, an SEI `user_data_registered_itu_t_t35` message
 * (ATSC A/53 "GA94", cc_data) carrying one byte pair of field-1 608 data — the way broadcast encoders
 * carry captions in H.264. The pairs spell a pop-on caption: RCL, the text, EOC (shown), each control code
 * twice as 608 decoders expect, then padding.
 */

/** Odd parity in bit 7, as every 608 byte carries it. */
function parity(b: number): number {
  let ones = 0;
  for (let i = 0; i < 7; i++) ones += (b >> i) & 1;
  return ones % 2 === 0 ? b | 0x80 : b & 0x7f;
}

/**
 * The 608 byte pairs, one per frame, that show `text` (printable ASCII) as a pop-on caption for `holdFrames`
 * frames, then erase it (players such as hls.js emit a cue only once its display ends).
 */
export function popOnPairs(text: string, holdFrames = 45): [number, number][] {
  const ctrl = (a: number, b: number): [number, number][] => [
    [parity(a), parity(b)],
    [parity(a), parity(b)],
  ];
  const pairs: [number, number][] = [
    ...ctrl(0x14, 0x20), // RCL: resume caption loading
    ...ctrl(0x14, 0x70), // PAC: row 15, column 0
  ];
  const chars = [...text].map((c) => c.charCodeAt(0) & 0x7f);
  for (let i = 0; i < chars.length; i += 2) pairs.push([parity(chars[i]), parity(chars[i + 1] ?? 0)]);
  pairs.push(...ctrl(0x14, 0x2f)); // EOC: end of caption, display it
  for (let i = 0; i < holdFrames; i++) pairs.push([0x80, 0x80]);
  pairs.push(...ctrl(0x14, 0x2c)); // EDM: erase displayed memory
  return pairs;
}

const NULL_PAIR: [number, number] = [0x80, 0x80];

/** Inserts emulation-prevention bytes (00 00 0x → 00 00 03 0x for x ≤ 3). */
function escapeRbsp(rbsp: number[]): number[] {
  const out: number[] = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out;
}

/** One SEI NAL unit (with start code) carrying one 608 field-1 pair. */
export function ccSei(pair: [number, number]): Buffer {
  const payload = [
    0xb5, // itu_t_t35_country_code: United States
    0x00,
    0x31, // provider code: ATSC
    0x47,
    0x41,
    0x39,
    0x34, // "GA94"
    0x03, // user_data_type_code: cc_data
    0x40 | 0x01, // process_cc_data_flag = 1, cc_count = 1
    0xff, // em_data
    0xfc, // marker bits, cc_valid = 1, cc_type = 0 (NTSC field 1)
    pair[0],
    pair[1],
    0xff, // marker_bits
  ];
  const rbsp = [0x04, payload.length, ...payload, 0x80];
  return Buffer.from([0, 0, 0, 1, 0x06, ...escapeRbsp(rbsp)]);
}

/** Splits an Annex-B stream into NAL units (without start codes). */
function nalUnits(stream: Buffer): Buffer[] {
  const starts: { at: number; len: number }[] = [];
  for (let i = 0; i + 2 < stream.length; i++) {
    if (stream[i] === 0 && stream[i + 1] === 0) {
      if (stream[i + 2] === 1) {
        starts.push({ at: i, len: 3 });
        i += 2;
      } else if (stream[i + 2] === 0 && stream[i + 3] === 1) {
        starts.push({ at: i, len: 4 });
        i += 3;
      }
    }
  }
  return starts.map((s, n) => stream.subarray(s.at + s.len, n + 1 < starts.length ? starts[n + 1].at : stream.length));
}

/**
 * Returns the Annex-B stream with a cc_data SEI before each picture's slice: picture n carries
 * `pairs[n - startFrame]`, or padding outside that range. Assumes one slice per picture (x264's default).
 */
export function injectCaptions(stream: Buffer, pairs: [number, number][], startFrame: number): Buffer {
  const out: Buffer[] = [];
  let frame = 0;
  for (const nal of nalUnits(stream)) {
    const type = nal[0] & 0x1f;
    if (type === 1 || type === 5) {
      out.push(ccSei(pairs[frame - startFrame] ?? NULL_PAIR));
      frame++;
    }
    out.push(Buffer.from([0, 0, 0, 1]), nal);
  }
  return Buffer.concat(out);
}
