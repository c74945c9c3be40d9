/**
 * Subtitle bytes → text. UTF-8 (with or without BOM) and UTF-16 LE/BE (BOM required, as every editor
 * that writes UTF-16 writes one) are accepted; anything else that is not valid UTF-8 is refused with the
 * byte offset and line of the first bad sequence, because guessing a legacy code page silently garbles text.
 */
import { SUBTITLE_LIMITS, type SubtitleError } from "./parse";

export type DecodeResult =
  | { ok: true; text: string; encoding: "utf-8" | "utf-16le" | "utf-16be" }
  | {
      ok: false;
      error: SubtitleError;
    };

export function decodeSubtitleBytes(bytes: Uint8Array): DecodeResult {
  if (bytes.byteLength > SUBTITLE_LIMITS.maxBytes) {
    return {
      ok: false,
      error: {
        code: "text_too_large",
        message: `The file is ${bytes.byteLength} bytes; the limit is ${SUBTITLE_LIMITS.maxBytes} bytes.`,
      },
    };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return utf16(bytes.subarray(2), "utf-16le");
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return utf16(bytes.subarray(2), "utf-16be");
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  try {
    return {
      ok: true,
      text: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body),
      encoding: "utf-8",
    };
  } catch {
    const at = firstInvalidUtf8(body);
    const offset = at + (body === bytes ? 0 : 3);
    let line = 1;
    for (let k = 0; k < at; k++) if (body[k] === 0x0a) line++;
    return {
      ok: false,
      error: {
        code: "text_encoding_invalid",
        message: `The file is not valid UTF-8: byte 0x${body[at]?.toString(16).padStart(2, "0") ?? "??"} at offset ${offset} (line ${line}) does not decode. Save it as UTF-8 (or UTF-16 with a BOM).`,
        line,
      },
    };
  }
}

function utf16(body: Uint8Array, encoding: "utf-16le" | "utf-16be"): DecodeResult {
  if (body.byteLength % 2 !== 0) {
    return {
      ok: false,
      error: { code: "text_encoding_invalid", message: `The file has a ${encoding} BOM but an odd number of bytes.` },
    };
  }
  try {
    return { ok: true, text: new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(body), encoding };
  } catch {
    return {
      ok: false,
      error: { code: "text_encoding_invalid", message: `The file has a ${encoding} BOM but is not valid ${encoding}.` },
    };
  }
}

/** Offset of the first byte that starts an invalid UTF-8 sequence (the decoder only says "invalid"). */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let n = 0;
    let min = 0;
    if (c < 0x80) n = 0;
    else if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      min = 0x10000;
    } else return i;
    let cp = n === 0 ? c : c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (n > 0 && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) return i;
    i += n + 1;
  }
  return b.length;
}
