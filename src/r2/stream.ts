/**
 * Streaming request/response bodies into R2 without holding them in memory. R2 needs to know a
 * stream's length up front: a known length goes through a FixedLengthStream (which also fails the
 * write if the body turns out shorter or longer than announced); an unknown length goes through a
 * multipart upload with fixed-size parts (R2 wants every part but the last to be the same size).
 */

export const MULTIPART_PART_BYTES = 8 * 1024 * 1024;

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/** Writes exactly `length` bytes from `body` to `key`; rejects if the body is shorter or longer. */
export async function putFixedLength(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  length: number,
  options: R2PutOptions = {},
): Promise<R2Object> {
  const fixed = new FixedLengthStream(length);
  const pump = body.pipeTo(fixed.writable);
  const [put, piped] = await Promise.allSettled([bucket.put(key, fixed.readable, options), pump]);
  if (piped.status === "rejected") throw piped.reason;
  if (put.status === "rejected") throw put.reason;
  return put.value;
}

/** Writes a body of unknown length, buffering at most one part at a time. Returns the size written. */
export async function putUnknownLength(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  options: R2MultipartOptions = {},
): Promise<number> {
  const reader = body.getReader();
  let part = new Uint8Array(MULTIPART_PART_BYTES);
  let filled = 0;
  let total = 0;
  let upload: R2MultipartUpload | null = null;
  const parts: R2UploadedPart[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new BodyTooLargeError(maxBytes);
      let offset = 0;
      while (offset < value.byteLength) {
        const take = Math.min(value.byteLength - offset, MULTIPART_PART_BYTES - filled);
        part.set(value.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === MULTIPART_PART_BYTES) {
          upload ??= await bucket.createMultipartUpload(key, options);
          parts.push(await upload.uploadPart(parts.length + 1, part));
          part = new Uint8Array(MULTIPART_PART_BYTES);
          filled = 0;
        }
      }
    }
    if (!upload) {
      // Smaller than one part: a plain put.
      await bucket.put(key, part.subarray(0, filled), options);
      return total;
    }
    if (filled > 0) parts.push(await upload.uploadPart(parts.length + 1, part.subarray(0, filled)));
    await upload.complete(parts);
    return total;
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    if (upload) await upload.abort().catch(() => undefined);
    throw err;
  }
}

export function parseContentLength(header: string | null | undefined): number | null {
  if (header === null || header === undefined || !/^\d{1,16}$/.test(header.trim())) return null;
  const n = Number(header.trim());
  return Number.isSafeInteger(n) ? n : null;
}
