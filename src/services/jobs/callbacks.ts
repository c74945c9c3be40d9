/**
 * What a transcoder may do with its job-scoped token, and nothing more: read its job's source, write
 * files under its run prefix, report progress (the heartbeat), publish (fast, then complete) and
 * fail. Every callback is fenced by the job's current attempt (a stale run is refused) and is
 * idempotent: repeated callbacks re-apply the same state and never repeat an event.
 */

import { and, eq, inArray, or, sql } from "drizzle-orm";
import { schema } from "../../db/client";
import { KeyframeError } from "../../lib/errors";
import { verifyJobToken } from "../../lib/job-token";
import { log } from "../../lib/log";
import { contentTypeFor } from "../../lib/media-types";
import { nowIso } from "../../lib/time";
import {
  DOWNLOADS_DIR,
  type JobFailure,
  type JobProgress,
  type JobPublish,
  OUTPUT_PATH_RE,
} from "../../lib/transcoder-protocol";
import { recordingSessionOf, serveAssetSource } from "../../live/recording-source";
import type { ServiceContext } from "../context";
import { type AssetRow, cancelJob, failJob, findAsset, findJob, type JobRow, requeueAttempt } from "./lifecycle";
import { backoffSeconds, commitOnce, d1Batch, systemContext } from "./system";

const j = schema.jobs;
const a = schema.assets;

/** Largest single output file the transcoder may PUT. */
export const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

export interface JobCall {
  ctx: ServiceContext;
  job: JobRow;
  asset: AssetRow;
  attempt: number;
}

export function runPrefix(assetId: string, jobId: string) {
  return `assets/${assetId}/runs/${jobId}/`;
}

/**
 * Authenticates a callback: a valid token for this job (401/403), the job's current attempt (409:
 * a superseded run must never overwrite a newer one), and an asset that still exists (410).
 */
export async function authorizeJobCall(
  env: Env,
  jobId: string,
  authorization: string | undefined,
  requestId: string,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<JobCall> {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
  if (!token) throw new KeyframeError("unauthenticated", "Send the job token as 'Authorization: Bearer …'.");
  const claims = await verifyJobToken(env, token);
  if (!claims) throw new KeyframeError("unauthenticated", "The job token is invalid or expired.");
  if (claims.jobId !== jobId) throw new KeyframeError("forbidden", "The job token is for another job.");
  const ctx0 = systemContext(env, "", waitUntil, requestId);
  const job = await findJob(ctx0, jobId);
  if (!job) throw new KeyframeError("not_found", `No job with id '${jobId}' exists.`);
  if (claims.attempt !== job.attempt) {
    throw new KeyframeError(
      "conflict",
      `The token is for attempt ${claims.attempt}, but the job is on attempt ${job.attempt}; this run is superseded.`,
    );
  }
  const ctx = systemContext(env, job.environmentId, waitUntil, requestId);
  const asset = await findAsset(ctx, job.assetId);
  if (!asset || asset.status === "deleted") {
    await cancelJob(ctx, job.id);
    throw new KeyframeError("gone", "The asset was deleted; stop processing this job.");
  }
  return { ctx, job, asset, attempt: claims.attempt };
}

export function requireRunning(call: JobCall, action: string) {
  if (call.job.status !== "running") {
    throw new KeyframeError("invalid_state", `Cannot ${action}: the job is '${call.job.status}', not running.`);
  }
}

export function requireBodyAttempt(call: JobCall, bodyAttempt: number) {
  if (bodyAttempt !== call.attempt) {
    throw new KeyframeError("conflict", `The body names attempt ${bodyAttempt}, but the token is for ${call.attempt}.`);
  }
}

// ---------------------------------------------------------------- source

export interface ByteRange {
  offset: number;
  length: number;
}

/** Parses a single `bytes=` range against a known size. undefined = no range; null = unsatisfiable. */
export function parseRange(header: string | undefined | null, size: number): ByteRange | null | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return null;
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return null;
  return { offset: start, length: end - start + 1 };
}

export async function readSource(call: JobCall, rangeHeader: string | undefined): Promise<Response> {
  requireRunning(call, "read the source");
  return serveAssetSource(call.ctx.env, call.asset, rangeHeader);
}

/** Streams an asset's source from R2, whole or one byte range (206/416). Shared by job and thumbnail reads. */
export async function serveSource(env: Env, key: string | null, rangeHeader: string | undefined): Promise<Response> {
  const head = key ? await env.MEDIA.head(key) : null;
  if (!key || !head) throw new KeyframeError("not_found", "The asset's source is not in storage.");
  const range = parseRange(rangeHeader, head.size);
  if (range === null) {
    throw new KeyframeError(
      "range_not_satisfiable",
      `The range is not satisfiable; the source is ${head.size} bytes.`,
      [],
      { "content-range": `bytes */${head.size}` },
    );
  }
  const obj = await env.MEDIA.get(key, range ? { range } : {});
  if (!obj) throw new KeyframeError("not_found", "The asset's source is not in storage.");
  const headers = new Headers({
    "content-type": head.httpMetadata?.contentType ?? "application/octet-stream",
    "accept-ranges": "bytes",
    etag: head.httpEtag,
  });
  if (!range) {
    headers.set("content-length", String(head.size));
    return new Response(obj.body, { status: 200, headers });
  }
  headers.set("content-length", String(range.length));
  headers.set("content-range", `bytes ${range.offset}-${range.offset + range.length - 1}/${head.size}`);
  return new Response(obj.body, { status: 206, headers });
}

// ---------------------------------------------------------------- outputs

export function outputContentType(path: string): string {
  return contentTypeFor(path);
}

/** Relative output paths: the protocol's pattern, and no `.`/`..` segments. */
export function isValidOutputPath(path: string): boolean {
  return OUTPUT_PATH_RE.test(path) && path.split("/").every((seg) => seg !== "." && seg !== "..");
}

export async function writeOutput(
  call: JobCall,
  path: string,
  body: ReadableStream<Uint8Array> | null,
  length: number | null,
  put: (key: string, body: ReadableStream<Uint8Array>, length: number, contentType: string) => Promise<unknown>,
): Promise<{ key: string; size: number; content_type: string }> {
  const key = outputKey(call, path);
  requireRunning(call, "write outputs");
  if (length === null) throw new KeyframeError("length_required", "Send a Content-Length with every output file.");
  if (length > MAX_OUTPUT_BYTES) {
    throw new KeyframeError("payload_too_large", `Output files are limited to ${MAX_OUTPUT_BYTES} bytes.`);
  }
  const contentType = outputContentType(path);
  await put(key, body ?? new ReadableStream({ start: (c) => c.close() }), length, contentType);
  await dropIfAssetDeleted(call, key);
  return { key, size: length, content_type: contentType };
}

/** The R2 key of an output path under this job's run prefix; a path outside the protocol's pattern is refused. */
export function outputKey(call: JobCall, path: string): string {
  if (!isValidOutputPath(path)) {
    throw new KeyframeError("validation_failed", `'${path}' is not an allowed output path.`, [
      { location: "path", message: "must match ^(dir/)?file with [A-Za-z0-9_.-] names and no '.' or '..' segments" },
    ]);
  }
  return `${runPrefix(call.asset.id, call.job.id)}${path}`;
}

/** After an output landed: if the asset was deleted meanwhile (the media sweep may have run), remove it. */
export async function dropIfAssetDeleted(call: JobCall, key: string): Promise<void> {
  const after = await findAsset(call.ctx, call.asset.id);
  if (!after || after.status === "deleted") {
    await call.ctx.env.MEDIA.delete(key);
    throw new KeyframeError("gone", "The asset was deleted; stop processing this job.");
  }
}

// ---------------------------------------------------------------- progress

export async function recordProgress(call: JobCall, input: JobProgress): Promise<{ cancel: boolean }> {
  requireBodyAttempt(call, input.attempt);
  const { ctx, job } = call;
  if (job.status !== "running") return { cancel: true };
  const at = nowIso();
  const progress = { stage: input.stage, percent: Math.round(input.percent * 10) / 10 };
  await d1Batch(ctx.env, [
    ctx.db
      .update(j)
      .set({ stage: input.stage, percent: Math.round(input.percent), lastHeartbeatAt: at, updatedAt: at })
      .where(and(eq(j.id, job.id), eq(j.status, "running"), eq(j.attempt, call.attempt))),
    // Progress shows while processing, and while the ladder is still landing after a fast publish.
    ctx.db
      .update(a)
      .set({ progress, updatedAt: at })
      .where(
        and(
          eq(a.id, job.assetId),
          or(
            eq(a.status, "processing"),
            and(eq(a.status, "ready"), eq(a.currentRunId, job.id), eq(a.renditionsStatus, "preparing")),
          ),
        ),
      ),
  ]);
  return { cancel: false };
}

// ---------------------------------------------------------------- publish

export async function publishRun(
  call: JobCall,
  input: JobPublish,
): Promise<{ asset_id: string; status: string; renditions_status: string | null; run_id: string | null }> {
  requireBodyAttempt(call, input.attempt);
  const { ctx, job, asset } = call;
  // Complete already landed: a repeated callback (fast or complete) changes nothing.
  if (job.status !== "succeeded") requireRunning(call, `publish (${input.phase})`);
  const at = nowIso();
  const facts = {
    // A live recording's length is what was broadcast (its segments' durations); a probe of its
    // concatenated segments cannot tell once a reconnect restarted the encoder's clock.
    duration: recordingSessionOf(asset) && asset.duration ? asset.duration : Math.round(input.duration * 1000),
    aspectRatio: input.aspect_ratio,
    resolution: input.resolution,
    maxFrameRate: input.max_frame_rate === null ? null : String(input.max_frame_rate),
    tracks: input.tracks,
    renditions: input.renditions,
    source: input.source,
    hasPoster: !!input.poster,
    hasStoryboard: !!input.storyboard,
    currentRunId: job.id,
    status: "ready" as const,
    error: null,
    readyAt: sql`coalesce(${a.readyAt}, ${at})`,
    updatedAt: at,
  };
  const liveStates = inArray(a.status, ["queued", "processing", "ready"]);
  const downloads = input.phase === "complete" ? await staticRenditionsOutcome(call, input) : undefined;
  const readyEvent = {
    event: {
      type: "asset.ready" as const,
      subjectId: asset.id,
      assetId: asset.id,
      correlationId: asset.correlationId,
      data: { asset_id: asset.id, job_id: job.id, status: "ready", duration: input.duration },
    },
    guard: sql`EXISTS (SELECT 1 FROM assets WHERE id = ${asset.id} AND status = 'ready' AND current_run_id = ${job.id})`,
  };
  if (input.phase === "fast" && job.status === "running") {
    await commitOnce(
      ctx,
      [
        ctx.db
          .update(a)
          .set({ ...facts, renditionsStatus: "preparing" })
          .where(
            and(
              eq(a.id, asset.id),
              liveStates,
              sql`NOT (coalesce(${a.currentRunId}, '') = ${job.id} AND coalesce(${a.renditionsStatus}, '') = 'complete')`,
            ),
          ),
      ],
      [readyEvent],
    );
  } else if (input.phase === "complete") {
    await commitOnce(
      ctx,
      [
        ctx.db
          .update(j)
          .set({ status: "succeeded", stage: "finalizing", percent: 100, error: null, finishedAt: at, updatedAt: at })
          .where(and(eq(j.id, job.id), eq(j.status, "running"), eq(j.attempt, call.attempt))),
        ctx.db
          .update(a)
          .set({
            ...facts,
            renditionsStatus: "complete",
            progress: null,
            ...(downloads ? { staticRenditions: downloads } : {}),
          })
          .where(
            and(
              eq(a.id, asset.id),
              liveStates,
              sql`EXISTS (SELECT 1 FROM jobs WHERE id = ${job.id} AND status = 'succeeded' AND attempt = ${call.attempt})`,
            ),
          ),
      ],
      [
        readyEvent,
        {
          event: {
            type: "asset.renditions_ready",
            subjectId: asset.id,
            assetId: asset.id,
            correlationId: asset.correlationId,
            data: {
              asset_id: asset.id,
              job_id: job.id,
              renditions: input.renditions.map((r) => ({
                name: r.name,
                type: r.type,
                width: r.width,
                height: r.height,
              })),
            },
          },
          perJob: job.id,
          guard: sql`EXISTS (SELECT 1 FROM assets WHERE id = ${asset.id} AND current_run_id = ${job.id} AND renditions_status = 'complete')`,
        },
        ...(downloads ? [staticRenditionsEvent(call, downloads)] : []),
      ],
    );
  }
  const now = await findAsset(ctx, asset.id);
  if (input.phase === "complete" && now?.currentRunId === job.id && now.status === "ready") {
    ctx.waitUntil(collectOldRuns(ctx.env, asset.id, job.id, recordingSessionOf(asset)));
  }
  log.info("job_published", { job_id: job.id, asset_id: asset.id, phase: input.phase, attempt: call.attempt });
  return {
    asset_id: asset.id,
    status: now?.status ?? "deleted",
    renditions_status: now?.renditionsStatus ?? null,
    run_id: now?.currentRunId ?? null,
  };
}

type StaticRenditionsState = NonNullable<AssetRow["staticRenditions"]>;

/**
 * What the `complete` publish means for an mp4_support=standard asset's download (undefined for none).
 * A reported file counts only if it really is in storage under this run, at the size R2 says; a missing
 * report (a transcoder that ignored the setting) or a failed download is `errored`, never a job failure.
 */
async function staticRenditionsOutcome(call: JobCall, input: JobPublish): Promise<StaticRenditionsState | undefined> {
  if (call.asset.mp4Support !== "standard") return undefined;
  const report = input.static_renditions;
  if (!report) return { status: "errored", files: [], error: "the transcoder produced no download" };
  if (report.status === "errored" || report.files.length === 0) {
    return { status: "errored", files: [], error: report.error ?? "the download could not be produced" };
  }
  const files: StaticRenditionsState["files"] = [];
  for (const f of report.files) {
    const head = await call.ctx.env.MEDIA.head(`${runPrefix(call.asset.id, call.job.id)}${DOWNLOADS_DIR}/${f.name}`);
    if (!head) return { status: "errored", files: [], error: `${DOWNLOADS_DIR}/${f.name} was reported but not stored` };
    files.push({ ...f, filesize: head.size });
  }
  return { status: "ready", files };
}

function staticRenditionsEvent(call: JobCall, state: StaticRenditionsState) {
  const { asset, job } = call;
  const ready = state.status === "ready";
  return {
    event: {
      type: ready ? ("asset.static_renditions.ready" as const) : ("asset.static_renditions.errored" as const),
      subjectId: asset.id,
      assetId: asset.id,
      correlationId: asset.correlationId,
      data: ready
        ? { asset_id: asset.id, job_id: job.id, status: "ready", files: state.files }
        : { asset_id: asset.id, job_id: job.id, status: "errored", error: state.error ?? null },
    },
    perJob: job.id,
    guard: sql`EXISTS (SELECT 1 FROM assets WHERE id = ${asset.id} AND current_run_id = ${job.id}
      AND json_extract(static_renditions, '$.status') = ${state.status})`,
  };
}

/**
 * Removes every run prefix of the asset except the live one (and a live recording's session, which is
 * its source). Safe to repeat.
 */
export async function collectOldRuns(
  env: Env,
  assetId: string,
  keepJobId: string,
  keepSession: string | null = null,
): Promise<number> {
  const runs = `assets/${assetId}/runs/`;
  let removed = 0;
  try {
    const listing = await env.MEDIA.list({ prefix: runs, delimiter: "/" });
    for (const prefix of listing.delimitedPrefixes) {
      if (prefix === `${runs}${keepJobId}/` || prefix === `${runs}${keepSession}/`) continue;
      let cursor: string | undefined;
      do {
        const page = await env.MEDIA.list({ prefix, cursor, limit: 1000 });
        const keys = page.objects.map((o) => o.key);
        if (keys.length > 0) await env.MEDIA.delete(keys);
        removed += keys.length;
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
    }
    if (removed > 0) log.info("old_runs_collected", { asset_id: assetId, kept: keepJobId, objects: removed });
  } catch (err) {
    log.warn("old_runs_gc_failed", { asset_id: assetId, error: (err as Error).message });
  }
  return removed;
}

// ---------------------------------------------------------------- fail

export async function failRun(
  call: JobCall,
  input: JobFailure,
): Promise<{ job_status: string; retry: boolean; asset_status: string }> {
  requireBodyAttempt(call, input.attempt);
  const { ctx, job } = call;
  if (job.status === "running") {
    const error = { code: input.code, message: input.message };
    if (input.retryable && job.attempt < job.maxAttempts) {
      await requeueAttempt(ctx, job, call.attempt, error, {
        delaySeconds: backoffSeconds(call.attempt),
        enqueue: true,
      });
    } else {
      await failJob(ctx, job, error, call.attempt);
    }
  } else if (job.status === "succeeded") {
    throw new KeyframeError("invalid_state", "The job already succeeded; a late failure report is ignored.");
  }
  // Anything else (queued by this very report, failed, cancelled) is a repeat: report where things stand.
  const [jobNow, assetNow] = await Promise.all([findJob(ctx, job.id), findAsset(ctx, job.assetId)]);
  return {
    job_status: jobNow?.status ?? "unknown",
    retry: jobNow?.status === "queued",
    asset_status: assetNow?.status ?? "deleted",
  };
}
