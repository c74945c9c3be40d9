/**
 * tus creation on an existing upload (POST {tus_url}): the backend created the upload with
 * POST /v1/uploads and handed the browser only the tus_url. Sets Upload-Length (or defers it) and
 * Upload-Metadata; with creation-with-upload the body carries the first bytes. Location is the
 * tus_url itself, token included, so clients that store and replay it keep their authorization.
 */
import { KeyframeError } from "../../lib/errors";
import { uploadUrlToken } from "../../services/uploads/verbs";
import { uploadSession } from "../../upload-session/client";
import {
  contentTypeAllowed,
  parseNonNegative,
  parseUploadChecksum,
  parseUploadMetadata,
} from "../../upload-session/tus-protocol";
import { completedError, isOffsetOctetStream, patchContentLength } from "./patch";
import { badHeader, sessionError, type TusRequest } from "./shared";

export async function tusCreate(t: TusRequest): Promise<Response> {
  const length = parseNonNegative("Upload-Length", t.header("upload-length"));
  if (!length.ok) throw badHeader(length.status, length.message);
  const deferRaw = t.header("upload-defer-length");
  if (deferRaw !== undefined && deferRaw.trim() !== "1") throw badHeader(400, "Upload-Defer-Length must be 1.");
  const deferred = deferRaw !== undefined;
  if (deferred === (length.value !== null)) {
    throw badHeader(400, "Send exactly one of Upload-Length and Upload-Defer-Length: 1.");
  }
  const checksum = parseUploadChecksum(t.header("upload-checksum"));
  if (!checksum.ok) throw badHeader(checksum.status, checksum.message);
  const metadata = parseUploadMetadata(t.header("upload-metadata"));
  if (!metadata.ok) throw badHeader(400, metadata.message);
  const contentType = metadata.value
    ? (metadata.value.values.filetype ?? metadata.value.values.type ?? metadata.value.values.content_type ?? null)
    : null;

  const contentLength = patchContentLength(t);
  const hasBody = t.c.req.raw.body !== null && contentLength !== 0;
  if (hasBody && !isOffsetOctetStream(t.header("content-type"))) {
    throw new KeyframeError(
      "unsupported_media_type",
      "A creation request that carries data must be Content-Type: application/offset+octet-stream.",
    );
  }

  const row = await t.loadRow();
  t.assertOpen(row);
  if (row.status === "completed") throw completedError(row);
  if (contentType !== null && !contentTypeAllowed(contentType, row.allowedContentTypes)) {
    throw new KeyframeError(
      "unsupported_media_type",
      `filetype '${contentType}' is not allowed for this upload (allowed: ${(row.allowedContentTypes ?? []).join(", ")}).`,
    );
  }
  if (contentType !== null && !/^[a-z]+\/[a-z0-9.+-]+(;.*)?$/i.test(contentType)) {
    throw badHeader(400, `Upload-Metadata filetype '${contentType}' is not a MIME type.`);
  }

  const session = uploadSession(t.env, row.id);
  const policy = t.policy(row);
  let view = await session.create(policy, {
    length: length.value,
    metadata: metadata.value?.raw ?? null,
    contentType,
  });
  if (!view.ok) throw sessionError(view);
  // creation-with-upload: the body is the first chunk (only when nothing arrived yet; else HEAD and resume).
  if (hasBody && view.offset === 0 && !view.completed) {
    const patched = await session.patch(
      policy,
      { offset: 0, length: null, checksum: checksum.value, contentLength },
      t.c.req.raw.body,
    );
    // A body cut off mid-way still created the upload and kept its bytes: report where to resume.
    if (!patched.ok && patched.code !== "bad_request") throw sessionError(patched);
    view = patched.ok ? patched : { ...view, offset: patched.offset ?? view.offset };
  }
  return new Response(null, {
    status: 201,
    headers: {
      Location: t.tusUrl(row, await uploadUrlToken(t.env, row.id)),
      "Upload-Offset": String(view.offset),
      ...t.expiresHeader(row),
    },
  });
}
