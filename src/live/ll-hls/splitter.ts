/**
 * Cuts a CMAF chunked push into its init segment and its parts as bytes arrive. A part is everything
 * from the end of the previous part up to and including the `mdat` that follows a `moof` (so a leading
 * `styp`/`prft`/`emsg` travels with its fragment): exactly the bytes an LL-HLS `EXT-X-PART` names.
 * Top-level boxes only; anything that is not CMAF (no `ftyp`+`moov` first, an unknown box, a box larger
 * than a part may be) is refused with a precise message, and nothing after the refusal is accepted.
 */
import { boxHeader, type FragmentTrack, fragmentTracks, initTracks, type TrackInfo } from "./boxes";

export const MAX_INIT_BYTES = 1024 * 1024;
export const MAX_PART_BYTES = 8 * 1024 * 1024;

export interface CmafPart {
  bytes: Uint8Array;
  /** Seconds, from the video track (or the first track when there is no video). */
  duration: number;
  /** Starts with a sync sample of that track: a segment may start here. */
  independent: boolean;
}

export class CmafError extends Error {
  constructor(
    readonly code: "unsupported_media_type" | "payload_too_large" | "bad_request",
    message: string,
  ) {
    super(message);
  }
}

const FRAGMENT_PREFIX = new Set(["styp", "sidx", "prft", "emsg", "free", "skip"]);

export class CmafSplitter {
  private buf = new Uint8Array(0);
  /** Offset in `buf` where the part being assembled starts, and where the next box starts. */
  private scan = 0;
  private moof: [number, number] | null = null;
  /** Where the previous fragment of the deciding track ended (decode time, its timescale). */
  private nextDecode: number | null = null;
  tracks: TrackInfo[] | null = null;
  init: Uint8Array | null = null;
  /** The push ended with ffmpeg's trailer (`mfra`): the encoder stopped on purpose. */
  trailer = false;

  /** Feeds bytes; returns the init segment (once) and every part completed by them. Throws CmafError. */
  push(chunk: Uint8Array): { init?: Uint8Array; parts: CmafPart[] } {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    this.buf = joined;
    const out: { init?: Uint8Array; parts: CmafPart[] } = { parts: [] };
    for (;;) {
      const h = boxHeader(this.buf, this.scan);
      const cap = this.tracks ? MAX_PART_BYTES : MAX_INIT_BYTES;
      if (h.size === -1) throw new CmafError("unsupported_media_type", "Malformed MP4 box header: this is not CMAF.");
      if (this.scan === 0 && h.size !== null && !this.tracks && h.type !== "ftyp") {
        throw new CmafError(
          "unsupported_media_type",
          `A CMAF push starts with its init segment (ftyp, moov); got a '${printable(h.type)}' box.`,
        );
      }
      // The unit in progress (init, or the part from its first box to this one's end) is what is capped.
      if (h.size !== null && this.scan + h.size > cap) {
        throw new CmafError(
          "payload_too_large",
          this.tracks
            ? `A CMAF fragment (part) is limited to ${MAX_PART_BYTES} bytes; fragment the stream more often (-frag_duration).`
            : `The init segment is limited to ${MAX_INIT_BYTES} bytes.`,
        );
      }
      if (h.size === null || this.scan + h.size > this.buf.length) break;
      const start = this.scan;
      const end = start + h.size;
      this.scan = end;
      if (!this.tracks) {
        if (h.type === "ftyp" || h.type === "free" || h.type === "skip") continue;
        if (h.type !== "moov") {
          throw new CmafError(
            "unsupported_media_type",
            `Expected the init segment's 'moov' box, got '${printable(h.type)}'.`,
          );
        }
        const init = this.buf.slice(0, end);
        const tracks = initTracks(init);
        if (!tracks)
          throw new CmafError("unsupported_media_type", "The init segment's moov box has no readable tracks.");
        if (!tracks.some((t) => t.handler === "vide" || t.handler === "soun")) {
          throw new CmafError("unsupported_media_type", "The init segment has neither a video nor an audio track.");
        }
        this.tracks = tracks;
        this.init = init;
        out.init = init;
        this.cut();
        continue;
      }
      if (h.type === "moof") {
        if (this.moof) throw new CmafError("bad_request", "Two 'moof' boxes without an 'mdat' between them.");
        this.moof = [start + h.header, end];
      } else if (h.type === "mdat") {
        if (!this.moof) throw new CmafError("bad_request", "An 'mdat' box without the 'moof' that describes it.");
        out.parts.push(this.part(end));
      } else if (h.type === "mfra") {
        this.trailer = true;
      } else if (!FRAGMENT_PREFIX.has(h.type)) {
        throw new CmafError(
          "unsupported_media_type",
          `Unexpected '${printable(h.type)}' box in a CMAF fragment stream.`,
        );
      }
    }
    return out;
  }

  /** Bytes received after the last complete part (a push that ends here ends mid-fragment). */
  get pending(): number {
    return this.buf.length;
  }

  private part(end: number): CmafPart {
    const tracks = this.tracks as TrackInfo[];
    const moof = this.moof as [number, number];
    const frag = fragmentTracks(this.buf, moof[0], moof[1], tracks);
    if (!frag) throw new CmafError("bad_request", "A 'moof' box is malformed or names a track the init segment lacks.");
    const main = pick(frag, tracks);
    const timescale = tracks.find((t) => t.id === main.id)?.timescale ?? 1;
    // Half a frame of slack: encoders round sample durations.
    if (main.decodeTime !== null && this.nextDecode !== null && main.decodeTime + timescale / 60 < this.nextDecode) {
      throw new CmafError(
        "bad_request",
        `Fragment out of order: it starts at ${(main.decodeTime / timescale).toFixed(3)} s, before the previous one ended (${(this.nextDecode / timescale).toFixed(3)} s).`,
      );
    }
    if (main.decodeTime !== null) this.nextDecode = main.decodeTime + main.duration;
    const part: CmafPart = {
      bytes: this.buf.slice(0, end),
      duration: main.duration / timescale,
      independent: main.startsWithSync,
    };
    this.moof = null;
    this.scan = end;
    this.cut();
    return part;
  }

  private cut() {
    this.buf = this.buf.slice(this.scan);
    this.scan = 0;
  }
}

/** The track that decides part duration and independence: video, else the first track present. */
function pick(frag: FragmentTrack[], tracks: TrackInfo[]): FragmentTrack {
  const video = frag.find((f) => tracks.find((t) => t.id === f.id)?.handler === "vide");
  return video ?? frag[0];
}

const printable = (t: string) => t.replace(/[^\x20-\x7e]/g, "?");
