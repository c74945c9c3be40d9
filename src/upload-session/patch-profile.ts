/**
 * Where one PATCH spends its time inside the UploadSession, logged as one `tus_patch` line per PATCH
 * (bench/upload.ts aggregates them). Waits are wall-clock: `read_wait_ms` is time spent waiting for
 * the next body chunk while no part upload was holding us up, `part_wait_ms` time spent waiting for
 * an R2 part upload to finish before more of the body could be read. Part latency itself
 * (`part_ms`, summed over parts) overlaps reading once parts are pipelined, so the two do not add up.
 */
export class PatchProfile {
  private readonly start = performance.now();
  bytes = 0;
  reads = 0;
  /** 1 when the body was read BYOB (a byte stream), 0 when chunk by chunk. */
  byob = 0;
  readWaitMs = 0;
  copyBytes = 0;
  copyMs = 0;
  parts = 0;
  partMs = 0;
  partMaxMs = 0;
  partWaitMs = 0;
  maxInFlight = 0;
  /** Part uploads still in flight when the body ended (or was cut off). */
  inFlightAtEnd = 0;
  sqlMs = 0;
  tailWriteBytes = 0;
  tailReadBytes = 0;
  d1Writes = 0;
  d1Ms = 0;
  finalizeMs = 0;

  /** Times `fn` into the given counter. */
  async time<T>(field: "partWaitMs" | "d1Ms" | "finalizeMs", fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this[field] += performance.now() - t;
    }
  }

  timeSync<T>(field: "sqlMs" | "copyMs", fn: () => T): T {
    const t = performance.now();
    try {
      return fn();
    } finally {
      this[field] += performance.now() - t;
    }
  }

  part(ms: number) {
    this.parts++;
    this.partMs += ms;
    this.partMaxMs = Math.max(this.partMaxMs, ms);
  }

  fields(): Record<string, number> {
    const r = (n: number) => Math.round(n);
    return {
      total_ms: r(performance.now() - this.start),
      bytes: this.bytes,
      reads: this.reads,
      byob: this.byob,
      read_wait_ms: r(this.readWaitMs),
      copy_bytes: this.copyBytes,
      copy_ms: r(this.copyMs),
      parts: this.parts,
      part_ms: r(this.partMs),
      part_max_ms: r(this.partMaxMs),
      part_wait_ms: r(this.partWaitMs),
      max_in_flight: this.maxInFlight,
      in_flight_at_end: this.inFlightAtEnd,
      sql_ms: r(this.sqlMs),
      tail_write_bytes: this.tailWriteBytes,
      tail_read_bytes: this.tailReadBytes,
      d1_writes: this.d1Writes,
      d1_ms: r(this.d1Ms),
      finalize_ms: r(this.finalizeMs),
    };
  }
}
