/**
 * The tus 1.0.0 wire rules that do not need storage: version and extension constants, header parsing
 * (Upload-Length, Upload-Offset, Upload-Metadata, Upload-Checksum), content-type policy matching, and
 * the R2 part-size arithmetic. Pure functions, shared by the tus routes and the UploadSession DO.
 */
import { MAX_UPLOAD_BYTES } from "../services/uploads/schemas";

export const TUS_VERSION = "1.0.0";
export const TUS_EXTENSIONS = "creation,creation-with-upload,creation-defer-length,expiration,termination,checksum";
export const TUS_CHECKSUM_ALGORITHMS = "sha1";

const MiB = 1024 * 1024;
/** Every R2 part except the last has one size; R2 needs ≥ 5 MiB and allows 10,000 parts. */
export const MIN_PART_SIZE = 8 * MiB;
/** The DO holds the part it fills plus the ones uploading (partsInFlight), so parts stay well under its 128 MB. */
export const MAX_PART_SIZE = 32 * MiB;
/** Part count we size for; R2's hard limit is 10,000, the rest is headroom. */
export const TARGET_PARTS = 9000;
export const R2_MAX_PARTS = 10_000;
/** Part size for deferred-length uploads without a max_size_bytes policy: 16 MiB × 10,000 ≈ 156 GiB. */
export const DEFERRED_PART_SIZE = 16 * MiB;
/** Largest file one session can hold: 32 MiB × 9,000 ≈ 288 GiB (well above the 50 GB goal). */
export const TUS_MAX_SIZE = MAX_PART_SIZE * TARGET_PARTS;
/** Workers cap request bodies at 100 MB; one PATCH must be smaller (clients: chunkSize ≤ 50 MB). */
export const MAX_PATCH_BODY = 100 * 1000 * 1000;
/**
 * R2 part uploads a PATCH keeps in flight while the next part fills: 2 for parts up to 16 MiB, 1 for
 * bigger ones, so a session holds at most (1 + in flight) × part size = 64 MiB of body (32 MiB parts)
 * and 48 MiB for 16 MiB parts, 24 MiB for 8 MiB parts.
 */
export function partsInFlight(partSize: number): number {
  return partSize <= 16 * MiB ? 2 : 1;
}
/** Largest single read from a PATCH body (BYOB); everything already queued arrives in one piece. */
export const READ_BUFFER_BYTES = 1 * MiB;
/** The buffered tail lives in DO SQLite rows; a row (or value) may not exceed 2 MB, so rows are 1 MiB. */
export const TAIL_ROW_BYTES = 1 * MiB;

/** Part size for a known length: at least 8 MiB, rounded up to whole MiB so ~9,000 parts cover it. */
export function partSizeFor(length: number): number {
  const needed = Math.ceil(Math.ceil(length / TARGET_PARTS) / MiB) * MiB;
  return Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, needed));
}

/** The most bytes this upload may ever hold: the policy, capped by what the session can store. */
export function maxSizeFor(policyMax: number | null | undefined): number {
  return Math.min(policyMax ?? TUS_MAX_SIZE, TUS_MAX_SIZE);
}

export type HeaderResult<T> = { ok: true; value: T } | { ok: false; status: 400 | 413; message: string };

/** Upload-Length / Upload-Offset are non-negative decimal integers (no sign, no exponent). */
export function parseNonNegative(name: string, raw: string | null | undefined): HeaderResult<number | null> {
  if (raw === null || raw === undefined) return { ok: true, value: null };
  const v = raw.trim();
  if (!/^\d{1,20}$/.test(v)) return { ok: false, status: 400, message: `${name} must be a non-negative integer.` };
  const n = Number(v);
  // Anything past 2^53 or the absolute ceiling is refused as too large rather than silently rounded.
  if (!Number.isSafeInteger(n) || n > MAX_UPLOAD_BYTES) {
    return { ok: false, status: 413, message: `${name} ${v} exceeds the largest supported upload.` };
  }
  return { ok: true, value: n };
}

export interface UploadMetadata {
  /** Decoded values; key-only pairs have value null. */
  values: Record<string, string | null>;
  raw: string;
}

/**
 * Upload-Metadata: comma-separated `key base64value` pairs (value optional), keys unique, ASCII
 * without spaces or commas, values strict base64. Anything else is malformed.
 */
export function parseUploadMetadata(raw: string | null | undefined): HeaderResult<UploadMetadata | null> {
  if (raw === null || raw === undefined) return { ok: true, value: null };
  if (raw.length > 4096) return { ok: false, status: 400, message: "Upload-Metadata is longer than 4096 characters." };
  const values: Record<string, string | null> = {};
  if (raw.trim() === "") return { ok: true, value: { values, raw } };
  for (const pair of raw.split(",")) {
    const parts = pair.trim().split(" ");
    if (parts.length > 2 || parts[0] === "") {
      return { ok: false, status: 400, message: `Upload-Metadata pair '${pair.trim()}' is malformed.` };
    }
    const [key, encoded] = parts;
    if (!/^[\x21-\x7e]+$/.test(key)) {
      return { ok: false, status: 400, message: `Upload-Metadata key '${key}' must be printable ASCII.` };
    }
    if (key in values) return { ok: false, status: 400, message: `Upload-Metadata key '${key}' appears twice.` };
    if (encoded === undefined) {
      values[key] = null;
      continue;
    }
    const decoded = decodeBase64Utf8(encoded);
    if (decoded === null) {
      return { ok: false, status: 400, message: `Upload-Metadata value for '${key}' is not valid base64.` };
    }
    values[key] = decoded;
  }
  return { ok: true, value: { values, raw } };
}

function decodeBase64Utf8(s: string): string | null {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return null;
  try {
    const bin = atob(s);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

export interface UploadChecksum {
  algorithm: "sha1";
  /** Raw digest bytes, decoded from the header's base64. */
  digest: Uint8Array;
}

/** `Upload-Checksum: <algorithm> <base64 digest>`; unknown algorithm or bad base64 → 400. */
export function parseUploadChecksum(raw: string | null | undefined): HeaderResult<UploadChecksum | null> {
  if (raw === null || raw === undefined) return { ok: true, value: null };
  const parts = raw.trim().split(" ");
  if (parts.length !== 2) return { ok: false, status: 400, message: "Upload-Checksum must be '<algorithm> <base64>'." };
  const [algorithm, encoded] = parts;
  if (algorithm.toLowerCase() !== "sha1") {
    return {
      ok: false,
      status: 400,
      message: `Checksum algorithm '${algorithm}' is not supported; use one of: ${TUS_CHECKSUM_ALGORITHMS}.`,
    };
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    return { ok: false, status: 400, message: "Upload-Checksum digest is not valid base64." };
  }
  let digest: Uint8Array;
  try {
    digest = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  } catch {
    return { ok: false, status: 400, message: "Upload-Checksum digest is not valid base64." };
  }
  if (digest.length !== 20) return { ok: false, status: 400, message: "A sha1 digest is 20 bytes." };
  return { ok: true, value: { algorithm: "sha1", digest } };
}

/** Does `contentType` match one of the policy patterns (`video/mp4`, `video/*`)? Parameters are ignored. */
export function contentTypeAllowed(contentType: string, allowed: readonly string[] | null | undefined): boolean {
  if (!allowed || allowed.length === 0) return true;
  const ct = contentType.split(";")[0].trim().toLowerCase();
  return allowed.some((p) => {
    const pattern = p.toLowerCase();
    return pattern.endsWith("/*") ? ct.startsWith(pattern.slice(0, -1)) : ct === pattern;
  });
}

/** RFC 7231 IMF-fixdate, as Upload-Expires wants. */
export function httpDate(iso: string): string {
  return new Date(iso).toUTCString();
}
