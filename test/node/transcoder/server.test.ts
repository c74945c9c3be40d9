/** The transcoder's HTTP server, with a stub runner so no ffmpeg runs here. */
import { afterEach, describe, expect, it } from "vitest";
import type { JobDispatch } from "../../../src/lib/transcoder-protocol.js";
import { silentLogger } from "../../../transcoder/src/log.js";
import type { RunJobOptions } from "../../../transcoder/src/runner.js";
import { type RunningServer, startServer } from "../../../transcoder/src/server.js";

let running: RunningServer | undefined;
afterEach(async () => {
  await running?.close({ graceMs: 1000 });
  running = undefined;
});

/** A runner whose jobs finish only when the test says so. */
function stubRunner() {
  const calls: { dispatch: JobDispatch; options: RunJobOptions }[] = [];
  const releases: (() => void)[] = [];
  const runJob = (dispatch: JobDispatch, options: RunJobOptions) => {
    calls.push({ dispatch, options });
    return new Promise<void>((resolve) => {
      releases.push(resolve);
      options.signal?.addEventListener("abort", () => resolve());
    });
  };
  return { calls, releases, runJob };
}

function dispatch(over: Partial<JobDispatch> = {}): JobDispatch {
  return {
    job_id: "job_1",
    asset_id: "as_1",
    attempt: 1,
    settings: { max_resolution: "1080p", fast_path: true, source_size_bytes: 10 },
    api_url: "http://127.0.0.1:9/",
    token: "token-0123456789abcdefghij",
    ...over,
  };
}

async function post(body: string | object, headers: Record<string, string> = {}) {
  const res = await fetch(`${running!.url}/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const json: any = await res.json();
  return { status: res.status, type: res.headers.get("content-type"), body: json };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe("transcoder server", () => {
  it("answers 400 problem+json for malformed JSON and invalid dispatches", async () => {
    const stub = stubRunner();
    running = await startServer({ port: 0, logger: silentLogger, runJob: stub.runJob });
    const malformed = await post("{not json");
    expect(malformed.status).toBe(400);
    expect(malformed.type).toBe("application/problem+json");
    expect(malformed.body).toMatchObject({
      status: 400,
      code: "malformed_json",
      type: "https://keyframe.dev/errors/malformed_json",
    });
    expect(typeof malformed.body.request_id).toBe("string");

    const invalid = await post({ ...dispatch(), job_id: "nope", token: "short" });
    expect(invalid.status).toBe(400);
    expect(invalid.type).toBe("application/problem+json");
    expect(invalid.body.code).toBe("validation_failed");
    expect(invalid.body.errors.map((e: { location: string }) => e.location).sort()).toEqual([
      "body.job_id",
      "body.token",
    ]);
    expect(stub.calls).toHaveLength(0);
  });

  it("answers 413 over 64 KB", async () => {
    const stub = stubRunner();
    running = await startServer({ port: 0, logger: silentLogger, runJob: stub.runJob });
    const big = await post({ ...dispatch(), padding: "x".repeat(70 * 1024) });
    expect(big.status).toBe(413);
    expect(big.body.code).toBe("payload_too_large");
  });

  it("accepts with 202, runs once per job attempt, and queues beyond the concurrency", async () => {
    const stub = stubRunner();
    running = await startServer({ port: 0, logger: silentLogger, runJob: stub.runJob, concurrency: 1 });
    const first = await post(dispatch());
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ accepted: true, duplicate: false, job_id: "job_1", attempt: 1 });
    const again = await post(dispatch());
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ duplicate: true, state: "running" });
    await tick();
    expect(stub.calls).toHaveLength(1);

    // A second job waits; a duplicate of the queued one is not queued twice; a new attempt is a new run.
    expect((await post(dispatch({ job_id: "job_2" }))).body).toMatchObject({ duplicate: false, state: "queued" });
    expect((await post(dispatch({ job_id: "job_2" }))).body).toMatchObject({ duplicate: true, state: "queued" });
    const health = (await (await fetch(`${running.url}/health`)).json()) as Record<string, unknown> & {
      ffmpeg: { path: string; version: string };
    };
    expect(health).toMatchObject({ ok: true, running: 1, queued: 1 });
    expect(health.ffmpeg.path).toMatch(/ffmpeg$/);
    expect(typeof health.ffmpeg.version).toBe("string");

    stub.releases[0]();
    await tick();
    expect(stub.calls.map((c) => c.dispatch.job_id)).toEqual(["job_1", "job_2"]);
    expect((await post(dispatch({ attempt: 2 }))).body).toMatchObject({ duplicate: false });
    stub.releases[1]();
    await tick();
    expect(stub.calls.map((c) => `${c.dispatch.job_id}#${c.dispatch.attempt}`)).toEqual([
      "job_1#1",
      "job_2#1",
      "job_1#2",
    ]);
  });

  it("aborts running jobs with a shutdown reason after the grace period", async () => {
    const stub = stubRunner();
    running = await startServer({ port: 0, logger: silentLogger, runJob: stub.runJob });
    await post(dispatch());
    await tick();
    const started = Date.now();
    await running.close({ graceMs: 100 });
    expect(Date.now() - started).toBeLessThan(2000);
    const signal = stub.calls[0].options.signal as AbortSignal;
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).name).toBe("ShutdownError");
    running = undefined;
  });

  it("404s unknown routes", async () => {
    running = await startServer({ port: 0, logger: silentLogger, runJob: stubRunner().runJob });
    const res = await fetch(`${running.url}/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});
