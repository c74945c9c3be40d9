/**
 * A worker deployed with development leftovers refuses work and says why, in workerd with the bindings
 * such a deploy would have: the production KEYFRAME_ENV with a loopback TRANSCODER_URL and public URLs,
 * no JOB_TOKEN_SECRET, no container binding, an unknown KEYFRAME_ENV. Health reports the problems, API
 * calls answer 503 problem+json, and queued jobs are held (retried later) instead of dispatched.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { apiConfigProblems, parseKeyframeEnv } from "../../src/lib/config";
import { isRetryableD1Error, withRetryingDb } from "../../src/lib/d1-retry";
import type { Health } from "../support/api-types";
import { createKey } from "./factories";
import { assetRow, jobRow, runQueue, seedJob, TRANSCODE_QUEUE } from "./pipeline-helpers";

const GOOD_PROD = {
  KEYFRAME_ENV: "production",
  API_PUBLIC_URL: "https://api.video.test",
  EDGE_PUBLIC_URL: "https://cdn.video.test",
  TRANSCODER_URL: "",
} as Partial<Env>;

async function call<T = Record<string, unknown>>(overrides: Partial<Env>, path: string, init: RequestInit = {}) {
  const res = await worker.fetch(
    new Request(`https://api.video.test${path}`, init) as Parameters<typeof worker.fetch>[0],
    { ...env, ...overrides } as Env,
    createExecutionContext(),
  );
  return { status: res.status, type: res.headers.get("content-type"), body: (await res.json()) as T };
}

describe("deployment configuration", () => {
  it("a well-configured production worker is healthy and takes work", async () => {
    const health = await call<Health>(GOOD_PROD, "/v1/health");
    expect(health.status).toBe(200);
    expect(health.body.config).toEqual({ env: "production", ok: true, problems: [] });
  });

  it("production with development values: health is 503 and names each problem; API calls are refused", async () => {
    const leftovers = {
      KEYFRAME_ENV: "production",
      API_PUBLIC_URL: "http://127.0.0.1:8787",
      EDGE_PUBLIC_URL: "",
      TRANSCODER_URL: "http://127.0.0.1:8790",
      JOB_TOKEN_SECRET: "",
    } as Partial<Env>;
    const health = await call<Health>(leftovers, "/v1/health");
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ ok: false, database: "ok", config: { env: "production", ok: false } });
    const problems = health.body.config.problems.join("\n");
    expect(problems).toMatch(/JOB_TOKEN_SECRET is missing/);
    expect(problems).toMatch(/API_PUBLIC_URL=http:\/\/127\.0\.0\.1:8787 is a loopback address/);
    expect(problems).toMatch(/EDGE_PUBLIC_URL is not set/);
    expect(problems).toMatch(/TRANSCODER_URL=http:\/\/127\.0\.0\.1:8790 is a development value/);

    const key = await createKey();
    const create = await call(leftovers, "/v1/uploads", {
      method: "POST",
      headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(create.status).toBe(503);
    expect(create.type).toMatch(/application\/problem\+json/);
    expect(create.body.code).toBe("service_unavailable");
    expect(create.body.detail).toMatch(/misconfigured.*TRANSCODER_URL/);
    // The spec stays readable: an operator can still see what the deployment is.
    expect((await call(leftovers, "/v1/openapi.json")).status).toBe(200);
  });

  it("a deployed worker without its container binding, or with http public URLs, is refused", () => {
    const base = { ...env, ...GOOD_PROD } as Env;
    expect(apiConfigProblems(base)).toEqual([]);
    expect(apiConfigProblems({ ...base, TRANSCODER: undefined } as never)).toEqual([
      expect.stringMatching(/TRANSCODER container binding is missing/),
    ]);
    expect(apiConfigProblems({ ...base, API_PUBLIC_URL: "http://api.video.test" })).toEqual([
      expect.stringMatching(/must be https/),
    ]);
    // Development is lax about URLs (they are loopback by design) but still needs its secret.
    expect(apiConfigProblems({ ...env, KEYFRAME_ENV: "development" } as Env)).toEqual([]);
  });

  it("KEYFRAME_ENV is a closed set", async () => {
    expect(parseKeyframeEnv("staging")).toBe("staging");
    expect(parseKeyframeEnv("prod")).toBeNull();
    expect(parseKeyframeEnv(undefined)).toBeNull();
    const health = await call<Health>({ ...GOOD_PROD, KEYFRAME_ENV: "prod" }, "/v1/health");
    expect(health.status).toBe(503);
    expect(health.body.config.problems).toEqual([
      'KEYFRAME_ENV="prod" is not one of development | staging | production',
    ]);
  });

  it("a misconfigured deployment holds queued jobs instead of dispatching them", async () => {
    const key = await createKey();
    const s = await seedJob(key, { assetStatus: "queued", jobStatus: "queued", attempt: 0, dispatchedAt: null });
    const held = await runQueue(TRANSCODE_QUEUE, [{ kind: "transcode", job_id: s.jobId }], {
      KEYFRAME_ENV: "staging",
      API_PUBLIC_URL: "http://127.0.0.1:8787",
    });
    expect(held.retryBatch).toMatchObject({ retry: true });
    expect(held.explicitAcks).toEqual([]);
    // Nothing was claimed: the job keeps all its attempts for when the deployment is fixed.
    expect(await jobRow(s.jobId)).toMatchObject({ status: "queued", attempt: 0 });
    expect(await assetRow(s.assetId)).toMatchObject({ status: "queued" });
  });

  it("the local SQLite-lock retry is keyed to development only", () => {
    const lock = new Error("D1_ERROR: internal error; reference = abc");
    expect(isRetryableD1Error(lock, true)).toBe(true);
    expect(isRetryableD1Error(lock, false)).toBe(false);
    // Which of the two withRetryingDb picks: observed through a DB whose first call fails with the lock.
    const attempts = (kind: string) => {
      let calls = 0;
      const db = {
        prepare: () => ({
          first: () => (++calls === 1 ? Promise.reject(lock) : Promise.resolve({ ok: 1 })),
        }),
      } as unknown as D1Database;
      const wrapped = withRetryingDb({ DB: db, KEYFRAME_ENV: kind });
      return wrapped.DB.prepare("select 1")
        .first()
        .then(
          () => calls,
          () => -calls,
        );
    };
    return Promise.all(["development", "staging", "production"].map(attempts)).then((r) =>
      expect(r).toEqual([2, -1, -1]),
    );
  });
});
