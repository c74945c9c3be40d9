/**
 * The LiveStream DO's LL-HLS bookkeeping for the push in progress, in memory (a push lives as long as the
 * request that carries it, in this DO instance; a restarted DO starts the next push afresh): the parts of
 * the segment being received, and of the last few listed ones, for the published live state.
 */
import type { PublishedLlHls } from "./playlist";

export interface PartRef {
  uri: string;
  duration: number;
  independent: boolean;
}

/** Listed segments whose parts stay in the playlist (the spec asks for parts within 3 target durations of the end). */
const KEEP_SEGMENTS = 3;

export class LlParts {
  partTarget = 0;
  private done: { seq: number; parts: PartRef[] }[] = [];
  private open: { conn: number; idx: number; parts: PartRef[] } | null = null;

  /** File name of part `k` of the push's segment `idx` (under the session's `stream/` folder). */
  static partName(conn: number, idx: number, k: number): string {
    return `c${conn}-${idx}.${k}.m4s`;
  }

  add(conn: number, idx: number, k: number, part: Omit<PartRef, "uri">): string {
    if (!this.open || this.open.conn !== conn || this.open.idx !== idx) this.open = { conn, idx, parts: [] };
    const uri = LlParts.partName(conn, idx, k);
    this.open.parts.push({ ...part, uri });
    this.partTarget = Math.max(this.partTarget, Math.ceil(part.duration * 1000) / 1000);
    return uri;
  }

  /** Segment `idx` of connection `conn` is about to be listed as `seq`: its parts belong to that number now. */
  listed(conn: number, idx: number, seq: number) {
    if (this.open?.conn === conn && this.open.idx === idx) {
      this.done.push({ seq, parts: this.open.parts });
      this.done = this.done.slice(-KEEP_SEGMENTS);
    }
    // The next segment has begun (its first part is on its way): the hint points at it.
    this.open = { conn, idx: idx + 1, parts: [] };
  }

  /**
   * The push of connection `conn` ended: nothing of it is in progress. Another push's end (one refused as a
   * second encoder, conn null) leaves the current one's parts alone.
   */
  close(conn: number | null) {
    if (conn !== null && this.open?.conn === conn) this.open = null;
  }

  /**
   * What the edge needs: parts of the listed segments from `fromSeq` on, the segment in progress (it will
   * be `nextSeq`) when it is the current connection's, and the part expected next (PRELOAD-HINT).
   */
  published(conn: number | null, fromSeq: number, nextSeq: number): PublishedLlHls | null {
    if (this.partTarget === 0) return null;
    const parts: PublishedLlHls["parts"] = [];
    for (const d of this.done) {
      if (d.seq < fromSeq || d.seq >= nextSeq) continue;
      for (const p of d.parts) parts.push({ msn: d.seq, ...p });
    }
    let preload: string | null = null;
    if (this.open && this.open.conn === conn) {
      for (const p of this.open.parts) parts.push({ msn: nextSeq, ...p });
      preload = LlParts.partName(this.open.conn, this.open.idx, this.open.parts.length);
    }
    return { part_target: this.partTarget, parts, preload };
  }
}
