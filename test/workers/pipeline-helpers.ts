/**
 * Helpers for the pipeline tests: seed an asset with a job directly in D1 (no queue message, so
 * nothing races the test), act as the transcoder against the internal endpoints with a real job
 * token, and drive the queue handlers with real message batches.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult, SELF } from "cloudflare:test";
import worker from "../../src/index";
import { newId } from "../../src/lib/ids";
import { signJobToken } from "../../src/lib/job-token";
import type { JobPublish } from "../../src/lib/transcoder-protocol";
import { transcodeConsumer } from "../../src/services/jobs/transcode-consumer";
import type { TestKey } from "./factories";

export interface Seeded {
  assetId: string;
  jobId: string;
  token: string;
  attempt: number;
  sourceKey: string;
}

export async function seedJob(
  key: TestKey,
  opts: {
    assetStatus?: string;
    jobStatus?: string;
    attempt?: number;
    maxAttempts?: number;
    source?: Uint8Array;
    heartbeatAt?: string | null;
    dispatchedAt?: string | null;
    updatedAt?: string;
    /** Runs the job on an asset the test created through the API (moved to `assetStatus`), not a new one. */
    assetId?: string;
  } = {},
): Promise<Seeded> {
  const assetId = opts.assetId ?? newId("asset");
  const jobId = newId("job");
  const attempt = opts.attempt ?? 1;
  const sourceKey = `sources/${assetId}/source`;
  const now = new Date().toISOString();
  if (opts.assetId) {
    await env.DB.prepare("update assets set status = ?, source_key = ? where id = ?")
      .bind(opts.assetStatus ?? "processing", sourceKey, assetId)
      .run();
  } else {
    await env.DB.prepare(
      "insert into assets (id, environment_id, status, source_key, playback_policy) values (?, ?, ?, ?, 'public')",
    )
      .bind(assetId, key.environmentId, opts.assetStatus ?? "processing", sourceKey)
      .run();
  }
  await env.DB.prepare(
    `insert into jobs (id, environment_id, asset_id, status, attempt, max_attempts, settings, dispatched_at,
       last_heartbeat_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
    .bind(
      jobId,
      key.environmentId,
      assetId,
      opts.jobStatus ?? "running",
      attempt,
      opts.maxAttempts ?? 5,
      JSON.stringify({ max_resolution: "1080p", fast_path: true, source_size_bytes: opts.source?.byteLength ?? 0 }),
      opts.dispatchedAt === undefined ? now : opts.dispatchedAt,
      opts.heartbeatAt === undefined ? now : opts.heartbeatAt,
      opts.updatedAt ?? now,
    )
    .run();
  if (opts.source) await env.MEDIA.put(sourceKey, opts.source, { httpMetadata: { contentType: "video/mp4" } });
  const token = await signJobToken(env, { jobId, attempt });
  return { assetId, jobId, token, attempt, sourceKey };
}

/**
 * Calls a transcoder callback (`/internal/jobs/{id}/…`) through the worker. `T` is the JSON answer the caller
 * expects (a problem document, a transcoder-protocol reply); `body` is null when the answer is not JSON.
 */
export async function internal<T = Record<string, unknown>>(
  jobId: string,
  token: string | null,
  method: string,
  sub: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T; headers: Headers; bytes: Uint8Array }> {
  const h: Record<string, string> = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload: BodyInit | undefined;
  if (body instanceof Uint8Array || typeof body === "string") payload = body;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    h["content-type"] = "application/json";
  }
  const res = await SELF.fetch(`http://keyframe.test/internal/jobs/${jobId}/${sub}`, {
    method,
    headers: h,
    body: payload,
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  let parsed: unknown = null;
  if ((res.headers.get("content-type") ?? "").includes("json") && text) parsed = JSON.parse(text);
  return { status: res.status, body: parsed as T, headers: res.headers, bytes };
}

export function publishBody(phase: "fast" | "complete", attempt = 1): JobPublish {
  const fast = {
    name: "fast",
    type: "muxed" as const,
    playlist: "fast/index.m3u8",
    codecs: "avc1.64001f,mp4a.40.2",
    width: 1280,
    height: 720,
    frame_rate: 30,
    bandwidth: 2_000_000,
    average_bandwidth: 1_500_000,
    segments: 2,
  };
  const ladder = [
    { ...fast, name: "v720", type: "video" as const, playlist: "v720/index.m3u8", codecs: "avc1.64001f" },
    {
      ...fast,
      name: "v360",
      type: "video" as const,
      playlist: "v360/index.m3u8",
      codecs: "avc1.64001e",
      width: 640,
      height: 360,
      bandwidth: 800_000,
      average_bandwidth: 600_000,
    },
    {
      name: "audio",
      type: "audio" as const,
      playlist: "audio/index.m3u8",
      codecs: "mp4a.40.2",
      bandwidth: 130_000,
      average_bandwidth: 128_000,
      segments: 2,
    },
  ];
  return {
    attempt,
    phase,
    master: "master.m3u8",
    duration: 12.345,
    aspect_ratio: "16:9",
    resolution: "720p",
    max_frame_rate: 30,
    tracks: [
      { type: "video", codec: "h264", width: 1280, height: 720, frame_rate: 30 },
      { type: "audio", codec: "aac", channels: 2, sample_rate: 48000 },
    ],
    renditions: phase === "fast" ? [fast] : ladder,
    source: {
      container: "mp4",
      size_bytes: 1000,
      duration: 12.345,
      remuxed: true,
      video_codec: "h264",
      audio_codec: "aac",
    },
    poster: phase === "complete" ? "poster.jpg" : null,
    storyboard: phase === "complete" ? { vtt: "storyboard.vtt", image: "storyboard.jpg" } : null,
  };
}

/** Rows as raw SQL returns them (snake_case columns, JSON columns as text); the columns tests compute with are typed. */
export interface AssetRow {
  id: string;
  status: string;
  progress: string | null;
  [column: string]: unknown;
}

export interface JobRow {
  id: string;
  asset_id: string;
  status: string;
  attempt: number;
  settings: string;
  error: string | null;
  updated_at: string;
  [column: string]: unknown;
}

export async function assetRow(assetId: string) {
  return env.DB.prepare("select * from assets where id = ?").bind(assetId).first<AssetRow>();
}

export async function jobRow(jobId: string) {
  return env.DB.prepare("select * from jobs where id = ?").bind(jobId).first<JobRow>();
}

export async function eventTypes(subjectId: string): Promise<string[]> {
  const { results } = await env.DB.prepare("select type from events where subject_id = ? order by id")
    .bind(subjectId)
    .all<{ type: string }>();
  return results.map((r) => r.type);
}

/** Runs the worker's real queue handler on one batch; `overrides` replace bindings/vars for this call. */
export async function runQueue(queue: string, bodies: unknown[], overrides: Partial<Env> = {}, attempts = 1) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `msg-${i}-${Math.random()}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...overrides } as Env, ctx);
  return getQueueResult(batch, ctx);
}

export const TRANSCODE_QUEUE = "keyframe-transcode-jobs";
export const TRANSCODE_DLQ = "keyframe-transcode-jobs-dlq";

/**
 * Runs the transcode-jobs consumer itself on one message, with a dispatch that accepts every job (no
 * transcoder): for the consumer's own steps (ingest, clip source copy) and the job rows they write.
 */
export async function consumeTranscodeMessage(body: unknown) {
  const handler = transcodeConsumer({ dispatch: async () => undefined });
  const batch = createMessageBatch(TRANSCODE_QUEUE, [{ id: "m0", timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await handler(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

/** The settings of the asset's job, as the transcoder would receive them; null when it has no job. */
export async function jobSettingsOf(assetId: string) {
  const row = await env.DB.prepare("select settings from jobs where asset_id = ?")
    .bind(assetId)
    .first<{ settings: string }>();
  return row ? JSON.parse(row.settings) : null;
}
