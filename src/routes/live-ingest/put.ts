/**
 * HLS push ingest: ffmpeg's `-f hls -method PUT` output. `PUT /live/{stream_key}/{file}` carries a
 * segment (`index7.ts`, `index7.m4s`), an fMP4 init segment (`init.mp4`) or the encoder's playlist
 * (`index.m3u8`); `DELETE` (ffmpeg's `delete_segments`) is answered 204 and changes nothing (the
 * recording keeps every segment). The stream key is the authority: it is looked up by its SHA-256 in
 * D1 (the secret is never compared in SQL), then the stream's Durable Object — the only writer —
 * compares hashes in constant time and takes the bytes. Bodies are read fully, with a cap: segments
 * are small, and R2 needs a known length. `PUT /live/{stream_key}/cmaf.mp4` is a CMAF chunked push (one
 * long-lived fragmented-MP4 body, read as it arrives by the DO: src/live/ll-hls/ingest.ts), the LL-HLS source.
 */
import type { App, AppContext } from "../../app";
import { problemResponse } from "../../lib/errors";
import { sha256Hex } from "../../lib/ids";
import { MAX_PLAYLIST_BYTES, MAX_SEGMENT_BYTES } from "../../live/live-stream";
import { liveStub } from "../../services/live-streams/load";
import { findStreamByKeyHash } from "../../services/live-streams/session";

/** The file name of a CMAF chunked push (`ingest.cmaf_url`). */
export const CMAF_PUSH_FILE = "cmaf.mp4";
const KEY_RE = /^[A-Za-z0-9_-]{20,100}$/;
const FILE_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;
/** Key hash → stream, per isolate: the DO re-checks the hash on every call, so a stale entry grants nothing. */
const keyCache = new Map<string, { id: string; until: number }>();
const KEY_CACHE_MS = 10_000;

async function resolveKey(env: Env, streamKey: string): Promise<{ id: string; keyHash: string } | null> {
  const keyHash = await sha256Hex(streamKey);
  const hit = keyCache.get(keyHash);
  if (hit && hit.until > Date.now()) return { id: hit.id, keyHash };
  const row = await findStreamByKeyHash(env, keyHash);
  if (!row) return null;
  if (keyCache.size > 10_000) keyCache.clear();
  keyCache.set(keyHash, { id: row.id, until: Date.now() + KEY_CACHE_MS });
  return { id: row.id, keyHash };
}

/** The whole body, or null once it exceeds `cap` (reading stops there). */
async function readCapped(req: Request, cap: number): Promise<ArrayBuffer | null> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > cap) return null;
  if (!req.body) return new ArrayBuffer(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > cap) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out.buffer;
}

async function authenticate(c: AppContext) {
  const key = c.req.param("key") ?? "";
  const file = c.req.param("file") ?? "";
  const rid = c.get("requestId");
  if (!KEY_RE.test(key)) return problemResponse("unauthenticated", "Unknown stream key.", rid);
  if (!FILE_RE.test(file)) return problemResponse("bad_request", `'${file}' is not a valid file name.`, rid);
  const stream = await resolveKey(c.env, key);
  if (!stream) return problemResponse("unauthenticated", "Unknown stream key.", rid);
  return { ...stream, file };
}

export function registerLiveIngest(app: App) {
  app.put("/live/:key/:file", async (c) => {
    const auth = await authenticate(c);
    if (auth instanceof Response) return auth;
    const rid = c.get("requestId");
    const stub = liveStub(c.env, auth.id);
    if (auth.file === CMAF_PUSH_FILE) {
      if (!c.req.raw.body) return problemResponse("unsupported_media_type", "A CMAF push needs a body.", rid);
      const pushed = await stub.acceptCmaf({ streamId: auth.id, keyHash: auth.keyHash, body: c.req.raw.body });
      if (!pushed.ok) return problemResponse(pushed.code, pushed.message, rid);
      return c.body(null, 201);
    }
    if (auth.file.endsWith(".mpd")) {
      // ffmpeg -f dash: one representation per elementary stream, which LL-HLS cannot carry muxed (README).
      return problemResponse(
        "unsupported_media_type",
        "MPEG-DASH pushes are not accepted: push HLS to ingest.hls_url or CMAF (fragmented MP4) to ingest.cmaf_url.",
        rid,
      );
    }
    const isPlaylist = auth.file.endsWith(".m3u8");
    const body = await readCapped(c.req.raw, isPlaylist ? MAX_PLAYLIST_BYTES : MAX_SEGMENT_BYTES);
    if (!body) {
      return problemResponse(
        "payload_too_large",
        `${isPlaylist ? "Playlists" : "Segments"} are limited to ${isPlaylist ? MAX_PLAYLIST_BYTES : MAX_SEGMENT_BYTES} bytes.`,
        rid,
      );
    }
    const common = { streamId: auth.id, keyHash: auth.keyHash };
    const result = isPlaylist
      ? await stub.acceptPlaylist({ ...common, text: new TextDecoder().decode(body) })
      : /^init[^/]*\.mp4$/.test(auth.file)
        ? await stub.acceptInit({ ...common, body })
        : await stub.acceptSegment({ ...common, name: auth.file, body });
    if (!result.ok) return problemResponse(result.code, result.message, rid);
    return c.body(null, result.status);
  });

  // ffmpeg's delete_segments: the recording keeps every segment, so there is nothing to delete.
  app.delete("/live/:key/:file", async (c) => {
    const auth = await authenticate(c);
    if (auth instanceof Response) return auth;
    return c.body(null, 204);
  });
}
