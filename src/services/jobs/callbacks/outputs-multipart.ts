/**
 * Large transcoder outputs (the MP4 download) written through an R2 multipart upload, one part per
 * request, because a Worker request body is capped far below a long video's size.
 *
 * Stateless on our side: at create time the API fixes the part size and the part count from the
 * announced file size and hands back an opaque `upload_id` that carries R2's upload ID with those
 * numbers, HMAC-signed for this key. Every later call re-derives what part N must be from it, so a
 * wrong size or number is refused before a byte reaches R2, and a forged or foreign handle is unknown.
 */
import { KeyframeError } from "../../../lib/errors";
import { base64url } from "../../../lib/ids";
import { contentTypeFor } from "../../../lib/media-types";
import { hmacToken, verifyHmacToken } from "../../../lib/signing";
import {
  MAX_MULTIPART_OUTPUT_BYTES,
  MULTIPART_DEFAULT_PART_BYTES,
  MULTIPART_MAX_PARTS,
  type MultipartComplete,
  type MultipartCompleted,
  type MultipartCreate,
  type MultipartCreated,
  type MultipartPartReply,
} from "../../../lib/transcoder-protocol";
import { type JobCall, requireBodyAttempt, requireRunning } from "./authorize";
import { outputKey } from "./outputs";

interface UploadHandle {
  /** R2's upload ID. */
  u: string;
  /** Total size, part size. */
  s: number;
  p: number;
}

interface Target {
  key: string;
  contentType: string;
}

function target(call: JobCall, path: string): Target {
  const key = outputKey(call, path);
  requireRunning(call, "write outputs");
  return { key, contentType: contentTypeFor(path) };
}

function partCount(h: UploadHandle): number {
  return Math.ceil(h.s / h.p);
}

/** Bytes part `n` (1-based) must carry: the part size, except the last, which has the remainder. */
export function expectedPartBytes(size: number, partSize: number, n: number): number {
  return Math.min(partSize, size - (n - 1) * partSize);
}

// The handle is signed with the job-token secret under its own domain string, bound to the object key.
function handleMessage(key: string, payload: string) {
  return `keyframe-outputs-multipart\n${key}\n${payload}`;
}

async function encodeHandle(env: Env, key: string, h: UploadHandle): Promise<string> {
  const payload = base64url(new TextEncoder().encode(JSON.stringify(h)));
  return `${payload}.${await hmacToken(env.JOB_TOKEN_SECRET, handleMessage(key, payload))}`;
}

function unknownUpload(): KeyframeError {
  return new KeyframeError("not_found", "No multipart upload with this upload_id exists for this output path.");
}

async function decodeHandle(env: Env, key: string, uploadId: string | undefined): Promise<UploadHandle> {
  if (!uploadId) {
    throw new KeyframeError("validation_failed", "Name the multipart upload with ?upload_id=.", [
      { location: "query.upload_id", message: "required" },
    ]);
  }
  const [payload, sig, extra] = uploadId.split(".");
  if (!payload || !sig || extra !== undefined || payload.length > 2048) throw unknownUpload();
  if (!(await verifyHmacToken(env.JOB_TOKEN_SECRET, handleMessage(key, payload), sig))) throw unknownUpload();
  try {
    const b64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const json = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const h = JSON.parse(json) as UploadHandle;
    if (typeof h.u !== "string" || !Number.isSafeInteger(h.s) || !Number.isSafeInteger(h.p)) throw unknownUpload();
    return h;
  } catch {
    throw unknownUpload();
  }
}

/** R2's error for an upload it does not know (aborted, completed, or never created). */
function isNoSuchUpload(err: unknown): boolean {
  return err instanceof Error && /10024|multipart upload does not exist|NoSuchUpload/i.test(err.message);
}

/** R2's errors for a completion naming parts it does not have (or with the wrong etag / sizes). */
function isBadParts(err: unknown): boolean {
  return err instanceof Error && /10025|10048|10011|part|EntityTooSmall/i.test(err.message);
}

export async function createMultipartOutput(
  call: JobCall,
  path: string,
  input: MultipartCreate,
): Promise<MultipartCreated> {
  const t = target(call, path);
  requireBodyAttempt(call, input.attempt);
  if (input.size > MAX_MULTIPART_OUTPUT_BYTES) {
    throw new KeyframeError(
      "payload_too_large",
      `Output files are limited to ${MAX_MULTIPART_OUTPUT_BYTES} bytes; this one is ${input.size}.`,
    );
  }
  const partSize = input.part_size ?? MULTIPART_DEFAULT_PART_BYTES;
  const count = Math.ceil(input.size / partSize);
  if (count > MULTIPART_MAX_PARTS) {
    throw new KeyframeError(
      "validation_failed",
      `${input.size} bytes in parts of ${partSize} would take ${count} parts; at most ${MULTIPART_MAX_PARTS}.`,
      [
        {
          location: "body.part_size",
          message: `too small for this size; use at least ${Math.ceil(input.size / MULTIPART_MAX_PARTS)}`,
        },
      ],
    );
  }
  const upload = await call.ctx.env.MEDIA.createMultipartUpload(t.key, {
    httpMetadata: { contentType: t.contentType },
  });
  const handle: UploadHandle = { u: upload.uploadId, s: input.size, p: partSize };
  return {
    upload_id: await encodeHandle(call.ctx.env, t.key, handle),
    key: t.key,
    part_size: partSize,
    part_count: count,
  };
}

/** Streams one part into R2: exactly the bytes the handle says part `n` has, never buffered. */
export async function uploadMultipartPart(
  call: JobCall,
  path: string,
  query: { uploadId: string | undefined; part: string | undefined },
  body: ReadableStream<Uint8Array> | null,
  length: number | null,
): Promise<MultipartPartReply> {
  const t = target(call, path);
  const h = await decodeHandle(call.ctx.env, t.key, query.uploadId);
  const count = partCount(h);
  const n = query.part !== undefined && /^\d{1,5}$/.test(query.part) ? Number(query.part) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > count) {
    throw new KeyframeError("validation_failed", `'part' must be an integer from 1 to ${count} for this upload.`, [
      { location: "query.part", message: `must be 1..${count}` },
    ]);
  }
  if (length === null) throw new KeyframeError("length_required", "Send a Content-Length with every part.");
  const expected = expectedPartBytes(h.s, h.p, n);
  if (length !== expected) {
    const detail = `Part ${n} of ${count} must be exactly ${expected} bytes; the Content-Length says ${length}.`;
    if (length > expected) throw new KeyframeError("payload_too_large", detail);
    throw new KeyframeError("validation_failed", detail, [
      { location: "header.content-length", message: `must be ${expected}` },
    ]);
  }
  const upload = call.ctx.env.MEDIA.resumeMultipartUpload(t.key, h.u);
  const fixed = new FixedLengthStream(expected);
  const pump = (body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() })).pipeTo(fixed.writable);
  const [put, piped] = await Promise.allSettled([upload.uploadPart(n, fixed.readable), pump]);
  if (put.status === "rejected" && isNoSuchUpload(put.reason)) throw unknownUpload();
  if (piped.status === "rejected") {
    throw new KeyframeError("bad_request", `The body of part ${n} did not carry the announced ${expected} bytes.`);
  }
  if (put.status === "rejected") throw put.reason;
  return { part: n, etag: put.value.etag, size: expected };
}

export async function completeMultipartOutput(
  call: JobCall,
  path: string,
  input: MultipartComplete,
): Promise<MultipartCompleted> {
  const t = target(call, path);
  requireBodyAttempt(call, input.attempt);
  const h = await decodeHandle(call.ctx.env, t.key, input.upload_id);
  const count = partCount(h);
  // Exactly parts 1..count, once each: anything else would store a file of the wrong size.
  const seen = new Set(input.parts.map((p) => p.part));
  const missing: number[] = [];
  for (let n = 1; n <= count && missing.length < 20; n++) if (!seen.has(n)) missing.push(n);
  const extra = input.parts.filter((p) => p.part > count).map((p) => p.part);
  if (missing.length > 0 || extra.length > 0 || seen.size !== input.parts.length) {
    const why = [
      missing.length > 0 ? `missing part(s) ${missing.join(", ")}` : "",
      extra.length > 0 ? `part(s) ${extra.join(", ")} beyond ${count}` : "",
      seen.size !== input.parts.length ? "a part listed twice" : "",
    ]
      .filter(Boolean)
      .join("; ");
    throw new KeyframeError("validation_failed", `This upload has exactly ${count} parts: ${why}.`, [
      { location: "body.parts", message: `must list parts 1..${count} once each` },
    ]);
  }
  const upload = call.ctx.env.MEDIA.resumeMultipartUpload(t.key, h.u);
  const parts = [...input.parts].sort((a, b) => a.part - b.part).map((p) => ({ partNumber: p.part, etag: p.etag }));
  let size: number;
  try {
    size = (await upload.complete(parts)).size;
  } catch (err) {
    if (isNoSuchUpload(err)) {
      // A retried complete whose first reply was lost: R2 no longer knows the upload because it became
      // the object. The handle is bound to this key and size, so an assembled object of that size is it.
      const stored = await call.ctx.env.MEDIA.head(t.key);
      if (stored && stored.size === h.s && /-\d+$/.test(stored.etag)) {
        return { key: t.key, size: stored.size, content_type: t.contentType };
      }
      throw unknownUpload();
    }
    if (isBadParts(err)) {
      throw new KeyframeError(
        "validation_failed",
        `R2 refused to assemble the parts (a listed part was not uploaded, or its etag is wrong): ${(err as Error).message}`,
        [{ location: "body.parts", message: "every part must be uploaded and carry the etag its upload returned" }],
      );
    }
    throw err;
  }
  return { key: t.key, size, content_type: t.contentType };
}

/** Aborts an upload: its parts are dropped and no object appears. Allowed whatever the job's state. */
export async function abortMultipartOutput(call: JobCall, path: string, uploadId: string | undefined): Promise<void> {
  const key = outputKey(call, path);
  const h = await decodeHandle(call.ctx.env, key, uploadId);
  try {
    await call.ctx.env.MEDIA.resumeMultipartUpload(key, h.u).abort();
  } catch (err) {
    if (isNoSuchUpload(err)) throw unknownUpload();
    throw err;
  }
}
