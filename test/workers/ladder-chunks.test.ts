/**
 * Remote ladder chunks (issue 14, goal 5) against real D1 and R2 in workerd:
 * `POST /internal/jobs/{id}/ladder-chunks/{index}` checks the job token, the job's state and attempt and the
 * body, then forwards a signed request to the container instance named after the chunk and relays its
 * answer; `GET /internal/jobs/{id}/outputs/{path}` reads a run's output back. The container namespace is a
 * recording fake (the real one needs Docker); forwarding for real is e2e-chunked-ladder's job.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { LadderChunkDispatch, LadderChunkRequest, LadderChunkResult } from "../../src/lib/ladder-chunk-protocol";
import { deriveTranscoderSecret, transcoderSigner } from "../../src/lib/transcoder-auth";
import type { Problem } from "../support/api-types";
import { createKey } from "./factories";
import { internal, seedJob } from "./pipeline-helpers";

function request(index = 1, attempt = 1): LadderChunkRequest {
  return {
    attempt,
    chunk: {
      index,
      start_frame: 360 * index,
      frames: 360,
      start_seconds: 12.012 * index,
      seconds: 12,
      first_segment: 2 * index,
      segments: 2,
    },
    video: {
      stream_index: 0,
      rungs: [{ name: "v360", size: 360, width: 480, height: 360, maxrate_kbps: 700, bufsize_kbps: 1400 }],
      frame_rate: { num: 30000, den: 1001 },
      deinterlace: false,
    },
  };
}

const RESULT: LadderChunkResult = {
  renditions: [
    {
      name: "v360",
      init: "AAAA",
      segments: [
        { number: 2, duration: 6.006, bytes: 1000 },
        { number: 3, duration: 6.006, bytes: 900 },
      ],
    },
  ],
  encode_ms: 10,
  upload_ms: 2,
};

interface Forwarded {
  instance: string;
  url: string;
  headers: Headers;
  body: string;
}

/** A TRANSCODER namespace that records what reaches each instance and answers `answer`. */
function fakeTranscoder(answer: () => Response | Promise<Response>) {
  const seen: Forwarded[] = [];
  const namespace = {
    idFromName: (name: string) => name,
    get: (instance: string) => ({
      fetch: async (url: string, init: RequestInit) => {
        seen.push({ instance, url, headers: new Headers(init.headers), body: String(init.body) });
        return answer();
      },
    }),
  };
  return { seen, namespace };
}

/** The worker with the production transport (container binding) and `transcoder` as that binding. */
async function callChunk<T = Record<string, unknown>>(
  transcoder: ReturnType<typeof fakeTranscoder>,
  jobId: string,
  token: string | null,
  index: number | string,
  body: unknown,
) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await worker.fetch(
    new Request(`https://api.video.test/internal/jobs/${jobId}/ladder-chunks/${index}`, {
      method: "POST",
      headers,
      body: typeof body === "string" ? body : JSON.stringify(body),
    }) as Parameters<typeof worker.fetch>[0],
    {
      ...env,
      KEYFRAME_ENV: "production",
      TRANSCODER_URL: "",
      API_PUBLIC_URL: "https://api.video.test",
      TRANSCODER: transcoder.namespace,
    } as unknown as Env,
    createExecutionContext(),
  );
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: (await res.json()) as T };
}

describe("POST /internal/jobs/{id}/ladder-chunks/{index}", () => {
  it("forwards a signed chunk to the chunk's own instance and relays its answer", async () => {
    const s = await seedJob(await createKey());
    const t = fakeTranscoder(() => Response.json(RESULT));
    const res = await callChunk<LadderChunkResult>(t, s.jobId, s.token, 1, request(1));
    expect(res.status).toBe(200);
    expect(res.body).toEqual(RESULT);
    expect(t.seen).toHaveLength(1);
    const [f] = t.seen as [Forwarded];
    expect(f.instance).toBe(`chunk:${s.jobId}:1`);
    expect(f.url).toBe("http://transcoder/ladder-chunks");
    const forwarded = JSON.parse(f.body) as LadderChunkDispatch;
    expect(forwarded).toEqual({ ...request(1), job_id: s.jobId, api_url: "https://api.video.test", token: s.token });
    // Signed with the key the transcoder holds: it refuses anything else.
    const verified = await transcoderSigner.verifyHeaders(await deriveTranscoderSecret(env.JOB_TOKEN_SECRET), {
      method: "POST",
      path: "/ladder-chunks",
      header: (name) => f.headers.get(name),
    });
    expect(verified.ok).toBe(true);

    // Two chunks of one job go to two instances.
    await callChunk(t, s.jobId, s.token, 2, request(2));
    expect(t.seen.map((x) => x.instance)).toEqual([`chunk:${s.jobId}:1`, `chunk:${s.jobId}:2`]);
  });

  it("relays the instance's failure as it is, and an unreachable instance as 503", async () => {
    const s = await seedJob(await createKey());
    const failing = fakeTranscoder(
      () =>
        new Response(JSON.stringify({ code: "chunk_encode_failed", detail: "ffmpeg failed: exit 1" }), {
          status: 500,
          headers: { "content-type": "application/problem+json" },
        }),
    );
    const failed = await callChunk<Problem>(failing, s.jobId, s.token, 1, request(1));
    expect(failed.status).toBe(500);
    expect(failed.type).toContain("application/problem+json");
    expect(failed.body).toMatchObject({ code: "chunk_encode_failed", detail: "ffmpeg failed: exit 1" });

    const down = fakeTranscoder(() => {
      throw new Error("container could not start: max_instances reached");
    });
    const unreachable = await callChunk<Problem>(down, s.jobId, s.token, 1, request(1));
    expect(unreachable.status).toBe(503);
    expect(unreachable.type).toContain("application/problem+json");
    expect(unreachable.body.code).toBe("service_unavailable");
    expect(unreachable.body.detail).toMatch(/unreachable: container could not start/);
  });

  it("refuses a missing, wrong or stale token and a job that is not running, forwarding nothing", async () => {
    const key = await createKey();
    const s = await seedJob(key);
    const other = await seedJob(key);
    const done = await seedJob(key, { jobStatus: "succeeded" });
    const t = fakeTranscoder(() => Response.json(RESULT));
    const cases: [string, string | null, string, number, string][] = [
      ["no token", null, s.jobId, 401, "unauthenticated"],
      ["garbage token", "not-a-token-at-all-0123456789", s.jobId, 401, "unauthenticated"],
      ["another job's token", other.token, s.jobId, 403, "forbidden"],
      ["a finished job", done.token, done.jobId, 409, "invalid_state"],
    ];
    for (const [what, token, jobId, status, code] of cases) {
      const res = await callChunk<Problem>(t, jobId, token, 1, request(1));
      expect(res.status, what).toBe(status);
      expect(res.type, what).toContain("application/problem+json");
      expect(res.body.code, what).toBe(code);
    }
    const stale = await seedJob(key, { attempt: 2 });
    const body = await callChunk<Problem>(t, stale.jobId, stale.token, 1, request(1, 1));
    expect(body.status).toBe(409);
    expect(body.body.detail).toMatch(/attempt 1.*token is for 2/);
    expect(t.seen).toEqual([]);
  });

  it("answers a bad body or index with a precise problem+json, forwarding nothing", async () => {
    const s = await seedJob(await createKey());
    const t = fakeTranscoder(() => Response.json(RESULT));
    const { rungs: _, ...noRungs } = request(1).video;
    const cases: [string, number | string, unknown, string, RegExp][] = [
      ["malformed JSON", 1, "{nope", "malformed_json", /not valid JSON/],
      ["no chunk", 1, { attempt: 1, video: request(1).video }, "validation_failed", /chunk/],
      ["no rungs", 1, { ...request(1), video: noRungs }, "validation_failed", /rungs/],
      ["unknown field", 1, { ...request(1), input: "/etc/passwd" }, "validation_failed", /input|unrecognized/i],
      [
        "negative frames",
        1,
        { ...request(1), chunk: { ...request(1).chunk, frames: -5 } },
        "validation_failed",
        /frames/,
      ],
      ["index mismatch", 2, request(1), "validation_failed", /path names chunk 2.*body is chunk 1/],
      ["index not a number", "one", request(1), "validation_failed", /whole number/],
    ];
    for (const [what, index, body, code, detail] of cases) {
      const res = await callChunk<Problem>(t, s.jobId, s.token, index, body);
      expect(res.status, what).toBe(400);
      expect(res.type, what).toContain("application/problem+json");
      expect(res.body.code, what).toBe(code);
      expect(res.body.detail, what).toMatch(detail);
    }
    expect(t.seen).toEqual([]);
  });
});

describe("GET /internal/jobs/{id}/outputs/{path}", () => {
  it("reads back what the run wrote, only with the job's token and while it runs", async () => {
    const key = await createKey();
    const s = await seedJob(key);
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    expect((await internal(s.jobId, s.token, "PUT", "outputs/v360/seg_00002.m4s", bytes)).status).toBe(201);
    const read = await internal(s.jobId, s.token, "GET", "outputs/v360/seg_00002.m4s");
    expect(read.status).toBe(200);
    expect([...read.bytes]).toEqual([1, 2, 3, 4, 5]);

    const missing = await internal<Problem>(s.jobId, s.token, "GET", "outputs/v360/seg_00009.m4s");
    expect(missing.status).toBe(404);
    const outside = await internal<Problem>(s.jobId, s.token, "GET", "outputs/../../sources/x");
    expect([400, 404]).toContain(outside.status);
    const other = await seedJob(key);
    expect((await internal(s.jobId, other.token, "GET", "outputs/v360/seg_00002.m4s")).status).toBe(403);
    const done = await seedJob(key, { jobStatus: "succeeded" });
    expect((await internal(done.jobId, done.token, "GET", "outputs/v360/seg_00002.m4s")).status).toBe(409);
  });
});
