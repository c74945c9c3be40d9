/**
 * `PUT /internal/live/ladder/{live_stream_id}/{session_id}/{rendition}/{seq}`: the transcoder's live ladder
 * delivers one rendition segment (MPEG-TS) for the source segment `seq`, signed with the transcoder key
 * (src/lib/transcoder-auth.ts) over the exact bytes; the headers are checked before the body is read. The
 * stream's DO decides whether it belongs to the running session and records it.
 */
import type { App } from "../../app";
import { KeyframeError, problemResponse } from "../../lib/errors";
import { LiveRenditionSchema, MAX_LADDER_SEGMENT_BYTES } from "../../lib/live-ladder-protocol";
import { bodyMatches, readBodyUpTo } from "../../lib/signed-requests";
import { deriveTranscoderSecret, transcoderSigner } from "../../lib/transcoder-auth";
import { liveStub } from "../../services/live-streams/load";

export function registerLiveLadder(app: App) {
  app.put("/internal/live/ladder/:stream/:session/:rendition/:seq", async (c) => {
    const verified = await transcoderSigner.verifyHeaders(await deriveTranscoderSecret(c.env.JOB_TOKEN_SECRET), {
      method: c.req.method,
      path: c.req.path,
      header: (name) => c.req.header(name),
    });
    if (!verified.ok) {
      await c.req.raw.body?.cancel().catch(() => undefined);
      throw new KeyframeError("unauthenticated", `This endpoint is for the transcoder only (${verified.reason}).`);
    }
    const rendition = LiveRenditionSchema.safeParse(c.req.param("rendition"));
    const seq = Number(c.req.param("seq"));
    if (!rendition.success || !Number.isSafeInteger(seq) || seq < 0) {
      await c.req.raw.body?.cancel().catch(() => undefined);
      throw new KeyframeError("bad_request", "Not a live ladder rendition and sequence number.");
    }
    if (Number(c.req.header("content-length") ?? "0") > MAX_LADDER_SEGMENT_BYTES) {
      await c.req.raw.body?.cancel().catch(() => undefined);
      throw new KeyframeError(
        "payload_too_large",
        `Rendition segments are limited to ${MAX_LADDER_SEGMENT_BYTES} bytes.`,
      );
    }
    const bytes = await readBodyUpTo(c.req.raw.body, MAX_LADDER_SEGMENT_BYTES);
    if (!bytes)
      throw new KeyframeError(
        "payload_too_large",
        `Rendition segments are limited to ${MAX_LADDER_SEGMENT_BYTES} bytes.`,
      );
    if (!(await bodyMatches(verified.bodySha256, bytes))) {
      throw new KeyframeError("unauthenticated", "This endpoint is for the transcoder only (body_mismatch).");
    }
    const streamId = c.req.param("stream");
    const result = await liveStub(c.env, streamId).acceptRendition({
      streamId,
      sessionId: c.req.param("session"),
      rendition: rendition.data,
      seq,
      body: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    });
    if (!result.ok) return problemResponse(result.code, result.message, c.get("requestId"));
    return c.body(null, result.status);
  });
}
