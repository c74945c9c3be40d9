/** The transcoder's HTTP server, with a stub runner so no ffmpeg runs here. */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ProblemDocument } from "../../../src/lib/problem";
import { transcoderSigner } from "../../../src/lib/transcoder-auth.js";
import type { JobDispatch } from "../../../src/lib/transcoder-protocol.js";
import { silentLogger } from "../../../transcoder/src/log.js";
import type { RunJobOptions } from "../../../transcoder/src/runner.js";
import { type RunningServer, startServer } from "../../../transcoder/src/server.js";
import { signedFetch, TEST_TRANSCODER_SECRET } from "./helpers/signed.js";

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
  const res = await signedFetch(running!.url, "/jobs", {
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  // A problem document, or the accept reply.
  const json = (await res.json()) as Partial<ProblemDocument> & { duplicate?: boolean; state?: string };
  return { status: res.status, type: res.headers.get("content-type"), body: json };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe("transcoder server", () => {
  it("answers 400 problem+json for malformed JSON and invalid dispatches", async () => {
    const stub = stubRunner();
    running = await startServer({
      port: 0,
      authSecret: TEST_TRANSCODER_SECRET,
      logger: silentLogger,
      runJob: stub.runJob,
    });
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
    expect(invalid.body.errors?.map((e) => e.location).sort()).toEqual(["body.job_id", "body.token"]);
    expect(stub.calls).toHaveLength(0);
  });

  it("answers 413 over 64 KB", async () => {
    const stub = stubRunner();
    running = await startServer({
      port: 0,
      authSecret: TEST_TRANSCODER_SECRET,
      logger: silentLogger,
      runJob: stub.runJob,
    });
    const big = await post({ ...dispatch(), padding: "x".repeat(70 * 1024) });
    expect(big.status).toBe(413);
    expect(big.body.code).toBe("payload_too_large");
  });

  it("accepts with 202, runs once per job attempt, and queues beyond the concurrency", async () => {
    const stub = stubRunner();
    running = await startServer({
      port: 0,
      authSecret: TEST_TRANSCODER_SECRET,
      logger: silentLogger,
      runJob: stub.runJob,
      concurrency: 1,
    });
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
      ffmpeg: { path: string; version: string; source: string };
      ffprobe: { path: string; version: string; source: string };
    };
    expect(health).toMatchObject({ ok: true, running: 1, queued: 1, pid: process.pid });
    expect(health.fast_lane).toEqual({ running: 1, concurrency: 1 });
    expect(health.ladder_lane).toEqual({ running: 0, waiting: 0, concurrency: 1 });
    expect(health.ffmpeg.path).toMatch(/ffmpeg$/);
    expect(health.ffprobe.path).toMatch(/ffprobe$/);
    for (const b of [health.ffmpeg, health.ffprobe]) {
      expect(["env", "system", "npm"]).toContain(b.source);
      expect(b.version).not.toBe("unknown");
    }

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
    running = await startServer({
      port: 0,
      authSecret: TEST_TRANSCODER_SECRET,
      logger: silentLogger,
      runJob: stub.runJob,
    });
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

  it("404s unknown routes (signed)", async () => {
    running = await startServer({
      port: 0,
      authSecret: TEST_TRANSCODER_SECRET,
      logger: silentLogger,
      runJob: stubRunner().runJob,
    });
    const res = await signedFetch(running.url, "/nope", { method: "GET" });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });

  it("lets the next job's fast path start while a job waits for (or holds) the ladder lane", async () => {
    const stub = stubRunner();
    running = await startServer({
      port: 0,
      authSecret: TEST_TRANSCODER_SECRET,
      logger: silentLogger,
      runJob: stub.runJob,
      concurrency: 1,
    });
    await post(dispatch({ job_id: "job_a" }));
    await post(dispatch({ job_id: "job_b" }));
    await tick();
    expect(stub.calls.map((c) => c.dispatch.job_id)).toEqual(["job_a"]);
    // job_a's fast phase is over (it now waits for or runs its ladder): job_b starts at once.
    stub.calls[0].options.onFastPhaseDone?.();
    stub.calls[0].options.onFastPhaseDone?.(); // twice is once
    await tick();
    expect(stub.calls.map((c) => c.dispatch.job_id)).toEqual(["job_a", "job_b"]);
    const health = (await (await fetch(`${running.url}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ running: 2, queued: 0, fast_lane: { running: 1, concurrency: 1 } });
    // Both jobs share the server's one ladder lane.
    expect(stub.calls[0].options.ladderLane).toBe(stub.calls[1].options.ladderLane);
    for (const release of stub.releases) release();
  });

  it("fails the jobs a killed process left in its journal as retryable, once, on the next start", async () => {
    const journalDir = await mkdtemp(path.join(os.tmpdir(), "kf-journal-"));
    const fails: { url: string; body: unknown }[] = [];
    const api = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (d) => {
        raw += d;
      });
      req.on("end", () => {
        fails.push({ url: req.url ?? "", body: JSON.parse(raw) });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ ok: true }));
      });
    });
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
    const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/`;
    try {
      // A first server accepts a job (journaled) and "dies" without finishing it: its journal stays.
      const stub = stubRunner();
      running = await startServer({
        port: 0,
        authSecret: TEST_TRANSCODER_SECRET,
        logger: silentLogger,
        runJob: stub.runJob,
        journalDir,
      });
      await post(dispatch({ job_id: "job_orphan", attempt: 3, api_url: apiUrl }));
      expect(await readdir(journalDir)).toHaveLength(1);
      // Stop listening without close(): close() would abort the job and forget it, a SIGKILL does neither.
      running.server.closeAllConnections();
      running.server.close();
      running = undefined;

      running = await startServer({
        port: 0,
        authSecret: TEST_TRANSCODER_SECRET,
        logger: silentLogger,
        runJob: stubRunner().runJob,
        journalDir,
      });
      for (let i = 0; i < 100 && fails.length === 0; i++) await tick();
      expect(fails).toHaveLength(1);
      expect(fails[0].url).toContain("job_orphan");
      expect(fails[0].url).toMatch(/fail$/);
      expect(fails[0].body).toMatchObject({ attempt: 3, retryable: true, code: "internal_error" });
      for (let i = 0; i < 50 && (await readdir(journalDir)).length > 0; i++) await tick();
      expect(await readdir(journalDir)).toEqual([]);
    } finally {
      api.close();
      await rm(journalDir, { recursive: true, force: true });
    }
  });
});

describe("transcoder authentication", () => {
  it("refuses unsigned, forged, stale, replayed-elsewhere and tampered requests with 401; only GET /health is open", async () => {
    const stub = stubRunner();
    running = await startServer({
      port: 0,
      authSecret: TEST_TRANSCODER_SECRET,
      logger: silentLogger,
      runJob: stub.runJob,
    });
    const url = running.url;
    const body = JSON.stringify(dispatch({ job_id: "job_auth" }));
    const thumb = JSON.stringify({
      asset_id: "as_x",
      source_url: "http://127.0.0.1:9/s",
      source_token: "t".repeat(24),
      time: 1,
    });
    const signedJobs = await transcoderSigner.sign(TEST_TRANSCODER_SECRET, "POST", "/jobs", body);
    const cases: [string, Promise<Response>][] = [
      [
        "unsigned /jobs",
        fetch(`${url}/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body }),
      ],
      // A page's "simple" cross-origin POST: text/plain, no custom headers.
      ["text/plain /jobs", fetch(`${url}/jobs`, { method: "POST", headers: { "content-type": "text/plain" }, body })],
      ["unsigned /thumbnails", fetch(`${url}/thumbnails`, { method: "POST", body: thumb })],
      ["unsigned unknown path", fetch(`${url}/anything`, { method: "DELETE" })],
      ["forged key", signedFetch(url, "/jobs", { body, secret: "not-the-transcoder-secret-0123456789" })],
      ["stale", signedFetch(url, "/jobs", { body, nowMs: Date.now() - 5 * 60_000 })],
      ["future", signedFetch(url, "/jobs", { body, nowMs: Date.now() + 5 * 60_000 })],
      // A valid /jobs signature presented on another path.
      ["other path", fetch(`${url}/thumbnails`, { method: "POST", headers: signedJobs, body })],
      // Valid headers, another body.
      [
        "tampered body",
        fetch(`${url}/jobs`, { method: "POST", headers: signedJobs, body: body.replace("job_auth", "job_evil") }),
      ],
      [
        "bad signature",
        fetch(`${url}/jobs`, {
          method: "POST",
          headers: { ...signedJobs, "x-keyframe-transcoder-signature": "v2=AAAA" },
          body,
        }),
      ],
    ];
    for (const [name, pending] of cases) {
      const res = await pending;
      expect(res.status, name).toBe(401);
      expect(res.headers.get("content-type"), name).toBe("application/problem+json");
      const problem = (await res.json()) as { code: string; status: number };
      expect(problem, name).toMatchObject({ code: "unauthenticated", status: 401 });
    }
    expect(stub.calls).toHaveLength(0);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    // The genuine request goes through.
    const ok = await fetch(`${url}/jobs`, { method: "POST", headers: signedJobs, body });
    expect(ok.status).toBe(202);
    await vi.waitUntil(() => stub.calls.length === 1);
    expect(stub.calls[0].dispatch.job_id).toBe("job_auth");
  });

  it("will not start without a key", async () => {
    const saved = process.env.TRANSCODER_AUTH_SECRET;
    delete process.env.TRANSCODER_AUTH_SECRET;
    try {
      await expect(startServer({ port: 0, logger: silentLogger })).rejects.toThrow(/TRANSCODER_AUTH_SECRET/);
    } finally {
      if (saved !== undefined) process.env.TRANSCODER_AUTH_SECRET = saved;
    }
  });
});
