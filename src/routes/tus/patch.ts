/**
 * tus PATCH: append bytes at Upload-Offset. The body streams into the upload's Durable Object, which
 * serializes writers (a racing PATCH gets 409) and advances the offset only as bytes become durable.
 */
import { KeyframeError } from "../../lib/errors";
import { uploadSession } from "../../upload-session/client";
import { MAX_PATCH_BODY, parseNonNegative, parseUploadChecksum } from "../../upload-session/tus-protocol";
import { badHeader, sessionError, type TusRequest, type UploadRow } from "./shared";

export const OFFSET_OCTET_STREAM = "application/offset+octet-stream";

export function isOffsetOctetStream(contentType: string | undefined): boolean {
  return (contentType ?? "").split(";")[0].trim().toLowerCase() === OFFSET_OCTET_STREAM;
}

/** Content-Length, when sent; a single PATCH over the Workers body cap is refused with advice. */
export function patchContentLength(t: TusRequest): number | null {
  const cl = parseNonNegative("Content-Length", t.header("content-length"));
  if (!cl.ok) throw badHeader(cl.status, cl.message);
  if (cl.value !== null && cl.value > MAX_PATCH_BODY) {
    throw new KeyframeError(
      "payload_too_large",
      `A single PATCH is limited to ${MAX_PATCH_BODY} bytes by the Workers platform; set the client's chunkSize to 50 MB or less.`,
    );
  }
  return cl.value;
}

export async function tusPatch(t: TusRequest): Promise<Response> {
  if (!isOffsetOctetStream(t.header("content-type"))) {
    throw new KeyframeError(
      "unsupported_media_type",
      "PATCH bodies must be Content-Type: application/offset+octet-stream.",
    );
  }
  const offset = parseNonNegative("Upload-Offset", t.header("upload-offset"));
  if (!offset.ok) throw badHeader(400, offset.message);
  if (offset.value === null) throw badHeader(400, "Upload-Offset is required.");
  const length = parseNonNegative("Upload-Length", t.header("upload-length"));
  if (!length.ok) throw badHeader(length.status, length.message);
  const checksum = parseUploadChecksum(t.header("upload-checksum"));
  if (!checksum.ok) throw badHeader(checksum.status, checksum.message);
  const contentLength = patchContentLength(t);

  const row = await t.loadRow();
  t.assertOpen(row);
  if (row.status === "completed") throw completedError(row);
  const result = await uploadSession(t.env, row.id).patch(
    t.policy(row),
    { offset: offset.value, length: length.value, checksum: checksum.value, contentLength },
    t.c.req.raw.body,
  );
  if (!result.ok) throw sessionError(result);
  return new Response(null, {
    status: 204,
    headers: { "Upload-Offset": String(result.offset), ...t.expiresHeader(row) },
  });
}

/** PATCH after completion is a conflict (the resource exists, the request no longer fits it), not 410. */
export function completedError(row: UploadRow): KeyframeError {
  return new KeyframeError(
    "invalid_state",
    `This upload is already complete${row.assetId ? ` (asset ${row.assetId})` : ""}; it takes no more bytes.`,
    [],
    row.size === null ? {} : { "Upload-Offset": String(row.size) },
  );
}
