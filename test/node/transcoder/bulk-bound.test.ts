/**
 * Where a streamed source's download turns bulk (transcoder/src/job/ingest.ts): the provisional bound set from
 * the file's average rate while its index is probed, and the pacing that holds bytes past the bound while a
 * fast phase runs — woken when the probe moves the bound, never starved.
 */
import { describe, expect, it } from "vitest";
import { createPriorityGovernor } from "../../../transcoder/src/concurrency.js";
import { BulkBound, provisionalBulkOffset } from "../../../transcoder/src/job/ingest.js";

const MiB = 1024 * 1024;

describe("the bulk bound of a streamed download", () => {
  it("estimates the first segments' bytes from the average rate, with the margin", () => {
    // 60 s in 60 MiB after a 100 KiB moov: 12 s of media is ~12 MiB, plus the 1 MiB margin.
    const offset = provisionalBulkOffset({ moovEnd: 100 * 1024, duration: 60 }, 100 * 1024 + 60 * MiB);
    expect(offset).toBe(100 * 1024 + 12 * MiB + MiB);
    // No duration, or a file shorter than the window: nothing is bulk.
    expect(provisionalBulkOffset({ moovEnd: 1000 }, 50 * MiB)).toBe(Number.POSITIVE_INFINITY);
    expect(provisionalBulkOffset({ moovEnd: 1000, duration: 8 }, 50 * MiB)).toBe(Number.POSITIVE_INFINITY);
  });

  it("holds bytes past the bound while a fast phase runs, and lets them go when the bound moves past them", async () => {
    const governor = createPriorityGovernor(() => undefined);
    const endUrgent = governor.urgent();
    const bound = new BulkBound(10 * MiB);
    const signal = new AbortController().signal;
    expect(bound.pace(10 * MiB, governor, signal)).toBeUndefined();
    let released = false;
    const held = bound.pace(11 * MiB, governor, signal)?.then(() => {
      released = true;
    });
    expect(held).toBeDefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(released).toBe(false);
    bound.set(10.5 * MiB); // moved, but not past these bytes: still held
    await new Promise((r) => setTimeout(r, 50));
    expect(released).toBe(false);
    bound.set(12 * MiB);
    await held;
    expect(released).toBe(true);
    expect(bound.pace(11.5 * MiB, governor, signal)).toBeUndefined();
    // Past the new bound, the end of the fast phase releases them too.
    const second = bound.pace(13 * MiB, governor, signal);
    endUrgent();
    await expect(second).resolves.toBeUndefined();
  });
});
