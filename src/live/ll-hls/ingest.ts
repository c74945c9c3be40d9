/**
 * Drives one CMAF chunked push (ffmpeg `-f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof+cmaf
 * -frag_duration 500000 -method PUT …/cmaf.mp4`): the body is read as it arrives, cut into parts at
 * `moof`+`mdat` boundaries (./splitter.ts), and handed to the LiveStream DO through the same three verbs an
 * HLS push uses — the init segment, each whole segment (the parts from one independent part to the next),
 * and a one-entry playlist that lists it — so sessions, reconnects, the recording and the standard
 * playlists work exactly as for `-f hls`. Each part is also handed over as it completes, for LL-HLS.
 *
 * A push is one connection: its segments are numbered from 0, so a new PUT is a reconnect. When the body
 * ends with ffmpeg's trailer (`mfra`, written when it stops cleanly) the last segment is listed with ENDLIST
 * (the broadcast ended); otherwise (killed, network gone) what was complete is kept and the reconnect
 * window runs. A refusal (not CMAF, a fragment out of order, oversize,
 * a second encoder) stops reading at once; whole segments already taken stay, and the segment in progress
 * is closed with the whole fragments it has, so every stored segment is whole fragments and a published
 * part always belongs to the segment stored under its number.
 */
import type { IngestResult } from "../live-stream";
import { CmafError, type CmafPart, CmafSplitter } from "./splitter";

export const MAX_CMAF_SEGMENT_BYTES = 16 * 1024 * 1024;

export interface CmafHost {
  init(bytes: Uint8Array): Promise<IngestResult>;
  /** Stores segment `idx` of this push and lists it (`ended`: the broadcast is over). */
  segment(idx: number, bytes: Uint8Array, duration: number, ended: boolean): Promise<IngestResult>;
  /** Part `k` of segment `idx`; `conn` is the DO's connection number once the push's first segment was taken. */
  part(conn: number | null, idx: number, k: number, part: CmafPart): Promise<void>;
  /** The push is over: no part of it is in progress any more (`conn`: its connection, null if none was opened). */
  closed(conn: number | null): void;
}

const fail = (code: CmafError["code"], message: string): IngestResult => ({ ok: false, code, message });

export async function ingestCmaf(body: ReadableStream<Uint8Array>, host: CmafHost): Promise<IngestResult> {
  const splitter = new CmafSplitter();
  const reader = body.getReader();
  let idx = 0;
  let open: CmafPart[] = [];
  let openBytes = 0;
  let conn: number | null = null;
  let result: IngestResult = { ok: true, status: 201 };

  const flush = async (ended: boolean): Promise<IngestResult> => {
    if (open.length === 0) return { ok: true, status: 201 };
    const bytes = new Uint8Array(openBytes);
    let off = 0;
    for (const p of open) {
      bytes.set(p.bytes, off);
      off += p.bytes.byteLength;
    }
    const duration = open.reduce((s, p) => s + p.duration, 0);
    open = [];
    openBytes = 0;
    const r = await host.segment(idx, bytes, duration, ended);
    if (r.ok && r.connection !== undefined) conn = r.connection;
    idx++;
    return r;
  };

  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        // The encoder went away mid-push: keep what is whole, the reconnect window decides the rest.
        return await flush(false);
      }
      if (chunk.done) {
        if (splitter.pending > 0 && !splitter.init) {
          return fail("unsupported_media_type", "The push ended before its init segment (ftyp, moov) was complete.");
        }
        if (!splitter.init) return fail("unsupported_media_type", "The push carried no CMAF init segment.");
        // Only ffmpeg's trailer (mfra, written on a clean stop) ends the broadcast: a killed encoder's body may
        // also just end (a proxy closes it cleanly), and that is a disconnect, for the reconnect window.
        return await flush(splitter.trailer);
      }
      const { init, parts } = splitter.push(chunk.value);
      if (init) {
        const r = await host.init(init);
        if (!r.ok) return r;
      }
      for (const part of parts) {
        if (open.length === 0 && idx === 0 && !part.independent) {
          throw new CmafError("bad_request", "The first fragment of a push must start with a keyframe.");
        }
        if (part.independent && open.length > 0) {
          const r = await flush(false);
          if (!r.ok) return r;
        }
        if (openBytes + part.bytes.byteLength > MAX_CMAF_SEGMENT_BYTES) {
          throw new CmafError(
            "payload_too_large",
            `A segment (keyframe to keyframe) is limited to ${MAX_CMAF_SEGMENT_BYTES} bytes; shorten the keyframe interval.`,
          );
        }
        await host.part(conn, idx, open.length, part);
        open.push(part);
        openBytes += part.bytes.byteLength;
      }
    }
  } catch (err) {
    if (!(err instanceof CmafError)) throw err;
    result = fail(err.code, err.message);
    const r = await flush(false);
    return r.ok ? result : r;
  } finally {
    await reader.cancel().catch(() => {});
    host.closed(conn);
  }
}
