/** The priority governor: ladders are niced only while some job is in its fast phase. */
import { describe, expect, it } from "vitest";
import { createPriorityGovernor } from "../../../transcoder/src/concurrency.js";

describe("priority governor", () => {
  it("nices every ladder while any fast phase runs and restores it when the last one ends", () => {
    const set: [number, number][] = [];
    const g = createPriorityGovernor((pid, nice) => set.push([pid, nice]));
    const endA = g.urgent();
    const stopLadder = g.ladder(101, 10);
    expect(set.at(-1)).toEqual([101, 10]);
    const endB = g.urgent();
    endA();
    endA(); // twice is harmless: B still runs
    expect(set.at(-1)).toEqual([101, 10]);
    endB();
    expect(set.at(-1)).toEqual([101, 0]);
    const endC = g.urgent();
    expect(set.at(-1)).toEqual([101, 10]);
    stopLadder();
    const before = set.length;
    endC();
    expect(set.length).toBe(before); // an exited ladder is left alone
  });

  it("keeps going when the OS refuses a change", () => {
    const g = createPriorityGovernor(() => {
      throw new Error("EACCES");
    });
    const end = g.urgent();
    expect(() => g.ladder(7, 10)).not.toThrow();
    expect(() => end()).not.toThrow();
  });

  it("holds bulk transfers while any fast phase runs: released when the last ends, by the time bound, or by abort", async () => {
    const g = createPriorityGovernor(() => undefined);
    const t0 = performance.now();
    expect(await g.calm(10_000)).toBe(true); // nothing urgent: at once
    expect(performance.now() - t0).toBeLessThan(50);

    const endA = g.urgent();
    const endB = g.urgent();
    let released = false;
    const waiting = g.calm(10_000).then(() => {
      released = true;
    });
    endA();
    await new Promise((r) => setTimeout(r, 30));
    expect(released).toBe(false); // B still runs
    endB();
    await waiting;
    expect(released).toBe(true);
    expect(await g.calm(10)).toBe(true);

    const endC = g.urgent();
    const t1 = performance.now();
    expect(await g.calm(120)).toBe(false); // C never ends in time: late, not starved
    expect(performance.now() - t1).toBeGreaterThanOrEqual(110);
    const abort = new AbortController();
    const aborted = g.calm(10_000, abort.signal);
    abort.abort();
    expect(await aborted).toBe(false); // a stopping job does not wait
    endC();
  });
});
