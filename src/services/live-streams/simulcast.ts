/**
 * Simulcast targets: where a live stream is restreamed while on air. Targets are added and removed while the
 * stream is idle (a broadcast's set of destinations is fixed when it starts). When a session starts, the API
 * hands the transcoder one job — the stream's live playlist at the edge plus every target's publish URL — and
 * the transcoder pushes each target with stream copy and reports its status here; when the session ends the
 * job is stopped. Target URLs follow the outbound URL rules (rtmp/rtmps only, no credentials, public hosts
 * unless ALLOW_PRIVATE_WEBHOOK_URLS, as for webhooks: both push to a destination the customer names).
 */
import { z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { schema } from "../../db/client";
import { isDevelopment } from "../../lib/config";
import { InvalidStateError, KeyframeError, NotFoundError, ValidationError } from "../../lib/errors";
import { idPattern, newId } from "../../lib/ids";
import { log } from "../../lib/log";
import { signPlaybackToken } from "../../lib/playback-token";
import { seal, unseal } from "../../lib/seal";
import {
  SIMULCAST_STATUS_PATH,
  SIMULCAST_STATUSES,
  type SimulcastStart,
  type SimulcastStatusReport,
} from "../../lib/simulcast-protocol";
import { nowIso } from "../../lib/time";
import { signTranscoderRequest } from "../../lib/transcoder-auth";
import { nonPublicReason } from "../../lib/url-safety";
import type { ServiceContext, Verb } from "../context";
import { commit, type EventType } from "../events/record";
import { withResource } from "../events/snapshot";
import { systemContext } from "../jobs/system";
import { systemSigningKey } from "../signing-keys/verbs";
import { type LiveStreamRow, loadLiveStreamRow } from "./load";
import type { SessionJobInput } from "./session-jobs";

export const MAX_SIMULCAST_TARGETS = 5;
const SEAL_PURPOSE = "simulcast-key";

export const SimulcastTargetIdSchema = z
  .string()
  .regex(idPattern("simulcastTarget"), "must be a simulcast target ID (st_…)")
  .openapi({ param: { name: "simulcast_target_id", in: "path" }, example: "st_0kzq3h1x2a00abcdefghjkmnpq" });

export const CreateSimulcastTargetSchema = z
  .object({
    url: z.string().max(2048).openapi({
      description: "The target's RTMP server, `rtmp://` or `rtmps://`, without the key.",
      example: "rtmps://a.rtmps.youtube.com/live2",
    }),
    stream_key: z
      .string()
      .min(1)
      .max(512)
      .regex(/^[^\s/?#]+$/, "must not contain spaces, '/', '?' or '#'")
      .openapi({ description: "The key the target gave you. Write-only: stored encrypted, never returned." }),
    passthrough: z.string().max(255).optional(),
  })
  .strict()
  .openapi("CreateSimulcastTargetRequest");
export type CreateSimulcastTargetInput = z.infer<typeof CreateSimulcastTargetSchema>;

export const SimulcastTargetSchema = z
  .object({
    id: z.string(),
    live_stream_id: z.string(),
    url: z.string(),
    status: z.enum(SIMULCAST_STATUSES).openapi({
      description:
        "`idle` off air; `starting` connecting to the target; `broadcasting` media is flowing; `errored` the last attempt failed and it is being retried with backoff (see `error`).",
    }),
    error: z.string().nullable(),
    passthrough: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("SimulcastTarget");
export type SimulcastTargetView = z.infer<typeof SimulcastTargetSchema>;

type TargetRow = typeof schema.liveSimulcastTargets.$inferSelect;

function serialize(row: TargetRow): SimulcastTargetView {
  return {
    id: row.id,
    live_stream_id: row.liveStreamId,
    url: row.url,
    status: row.status,
    error: row.error,
    passthrough: row.passthrough,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

/** rtmp(s) only, no credentials, a public host unless this deployment allows private destinations. */
export function checkTargetUrl(env: Env, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError("url is not a valid URL.", [{ location: "body.url", message: "not a valid URL" }]);
  }
  const fail = (message: string) => new ValidationError(`url: ${message}.`, [{ location: "body.url", message }]);
  if (url.protocol !== "rtmp:" && url.protocol !== "rtmps:") throw fail("only rtmp:// and rtmps:// URLs are allowed");
  if (url.username || url.password) throw fail("credentials in URLs are not allowed");
  if (url.search || url.hash) throw fail("query strings and fragments are not allowed");
  if (env.ALLOW_PRIVATE_WEBHOOK_URLS !== "true") {
    const why = nonPublicReason(url.hostname);
    if (why) throw fail(why);
  }
  return url.toString().replace(/\/+$/, "");
}

function sealScope(env: Env, row: { id: string; environmentId: string }) {
  return { secret: env.JOB_TOKEN_SECRET, purpose: SEAL_PURPOSE, environmentId: row.environmentId, rowId: row.id };
}

function targetEvent(
  stream: Pick<LiveStreamRow, "id" | "passthrough" | "correlationId">,
  type: EventType,
  row: TargetRow,
  extra = {},
) {
  return {
    type,
    subjectId: row.id,
    correlationId: stream.correlationId,
    // The target as GET shows it in the state the event announces, over the ids (status/error from `extra`).
    data: withResource({ live_stream_id: stream.id, simulcast_target_id: row.id }, { ...serialize(row), ...extra }),
  };
}

async function loadTarget(ctx: ServiceContext, streamId: string, targetId: string): Promise<TargetRow> {
  const t = schema.liveSimulcastTargets;
  const row = await ctx.db.query.liveSimulcastTargets.findFirst({
    where: and(eq(t.id, targetId), eq(t.liveStreamId, streamId), eq(t.environmentId, ctx.caller.environmentId)),
  });
  if (!row) throw new NotFoundError("simulcast target", targetId);
  return row;
}

async function targetsOf(ctx: ServiceContext, streamId: string): Promise<TargetRow[]> {
  const t = schema.liveSimulcastTargets;
  return ctx.db.select().from(t).where(eq(t.liveStreamId, streamId)).orderBy(asc(t.id));
}

export async function createSimulcastTarget({
  ctx,
  input,
}: Verb<{ id: string; body: CreateSimulcastTargetInput }>): Promise<SimulcastTargetView> {
  const stream = await loadLiveStreamRow(ctx, input.id);
  if (stream.status === "active")
    throw new InvalidStateError("live stream", stream.id, "active", "add a simulcast target to");
  const url = checkTargetUrl(ctx.env, input.body.url);
  if ((await targetsOf(ctx, stream.id)).length >= MAX_SIMULCAST_TARGETS) {
    throw new KeyframeError("conflict", `A live stream has at most ${MAX_SIMULCAST_TARGETS} simulcast targets.`);
  }
  const id = newId("simulcastTarget");
  const row = {
    id,
    environmentId: ctx.caller.environmentId,
    liveStreamId: stream.id,
    url,
    streamKeySealed: await seal(
      sealScope(ctx.env, { id, environmentId: ctx.caller.environmentId }),
      input.body.stream_key,
    ),
    passthrough: input.body.passthrough ?? null,
  };
  const at = nowIso();
  const view: TargetRow = { ...row, status: "idle", error: null, createdAt: at, updatedAt: at };
  await commit(
    ctx,
    [ctx.db.insert(schema.liveSimulcastTargets).values({ ...row, createdAt: at, updatedAt: at })],
    [targetEvent(stream, "live_stream.simulcast_target.created", view)],
    [
      {
        action: "live_stream.simulcast_target.create",
        resourceType: "simulcast_target",
        resourceId: id,
        details: { live_stream_id: stream.id, url },
      },
    ],
  );
  return serialize(view);
}

export async function listSimulcastTargets({ ctx, input }: Verb<{ id: string }>) {
  const stream = await loadLiveStreamRow(ctx, input.id);
  return { data: (await targetsOf(ctx, stream.id)).map(serialize), next_cursor: null };
}

export async function getSimulcastTarget({ ctx, input }: Verb<{ id: string; targetId: string }>) {
  const stream = await loadLiveStreamRow(ctx, input.id);
  return serialize(await loadTarget(ctx, stream.id, input.targetId));
}

export async function deleteSimulcastTarget({ ctx, input }: Verb<{ id: string; targetId: string }>) {
  const stream = await loadLiveStreamRow(ctx, input.id);
  const row = await loadTarget(ctx, stream.id, input.targetId);
  if (stream.status === "active")
    throw new InvalidStateError("live stream", stream.id, "active", "delete a simulcast target of");
  await commit(
    ctx,
    [ctx.db.delete(schema.liveSimulcastTargets).where(eq(schema.liveSimulcastTargets.id, row.id))],
    [targetEvent(stream, "live_stream.simulcast_target.deleted", row)],
    [
      {
        action: "live_stream.simulcast_target.delete",
        resourceType: "simulcast_target",
        resourceId: row.id,
        details: { live_stream_id: stream.id },
      },
    ],
  );
}

// ------------------------------------------------------------ the session's job

/**
 * POST/DELETE to the transcoder: the local process in development, a container named per stream otherwise
 * (the live ladder's job, services/live-streams/ladder-job.ts, runs in the same container as the simulcast).
 */
export async function callTranscoder(
  env: Env,
  method: "POST" | "DELETE",
  path: string,
  body: string,
): Promise<Response> {
  const init: RequestInit = {
    method,
    headers: { "content-type": "application/json", ...(await signTranscoderRequest(env, method, path, body)) },
    body: method === "POST" ? body : undefined,
  };
  if (isDevelopment(env) && env.TRANSCODER_URL) {
    return fetch(`${env.TRANSCODER_URL.replace(/\/$/, "")}${path}`, { ...init, signal: AbortSignal.timeout(15_000) });
  }
  const streamId =
    method === "POST" ? (JSON.parse(body) as { live_stream_id: string }).live_stream_id : path.split("/").pop();
  const stub = env.TRANSCODER.get(env.TRANSCODER.idFromName(`simulcast:${streamId}`));
  return stub.fetch(`http://transcoder${path}`, init);
}

/** The live media playlist at the edge, with a viewer token when the stream has no public playback ID. */
export async function sourceUrl(ctx: ServiceContext, stream: LiveStreamRow): Promise<string | null> {
  const pb = schema.playbackIds;
  const ids = await ctx.db.query.playbackIds.findMany({ where: and(eq(pb.liveStreamId, stream.id)) });
  const live = ids.filter((p) => p.deletedAt === null);
  const edge = ctx.env.EDGE_PUBLIC_URL.replace(/\/+$/, "");
  const pub = live.find((p) => p.policy === "public");
  if (pub) return `${edge}/${pub.id}/live.m3u8`;
  const signed = live[0];
  if (!signed) return null;
  const { kid, privateJwk } = await systemSigningKey(ctx);
  const token = await signPlaybackToken({
    privateKey: privateJwk,
    kid,
    playbackId: signed.id,
    audience: "v",
    expiresInSeconds: Math.min(7 * 24 * 3600, stream.maxContinuousDuration + 3600),
    now: Date.now(),
  });
  return `${edge}/${signed.id}/live.m3u8?token=${token}`;
}

async function setStatus(
  ctx: ServiceContext,
  stream: LiveStreamRow,
  rows: TargetRow[],
  status: SimulcastStatusReport["status"],
  error: string | null,
) {
  const changed = rows.filter((r) => r.status !== status || (status === "errored" && r.error !== error));
  if (changed.length === 0) return;
  const t = schema.liveSimulcastTargets;
  await commit(
    ctx,
    changed.map((r) => ctx.db.update(t).set({ status, error, updatedAt: nowIso() }).where(eq(t.id, r.id))),
    changed
      .filter((r) => r.status !== status)
      .map((r) => targetEvent(stream, `live_stream.simulcast_target.${status}` as EventType, r, { status, error })),
  );
}

/** A session started: hand its targets to the transcoder. Never throws (the broadcast goes on regardless). */
export async function startSimulcast({ ctx, stream, sessionId, source }: SessionJobInput) {
  const { env } = ctx;
  try {
    const rows = await targetsOf(ctx, stream.id);
    if (rows.length === 0) return;
    const sourceUrl = await source();
    if (!sourceUrl) return setStatus(ctx, stream, rows, "errored", "the live stream has no playback ID to read from");
    const targets: SimulcastStart["targets"] = [];
    for (const r of rows) {
      const key = await unseal(sealScope(env, r), r.streamKeySealed);
      if (key === null)
        await setStatus(ctx, stream, [r], "errored", "the stream key could not be decrypted; add the target again");
      else targets.push({ id: r.id, publish_url: `${r.url}/${key}` });
    }
    if (targets.length === 0) return;
    const job: SimulcastStart = {
      live_stream_id: stream.id,
      session_id: sessionId,
      source_url: sourceUrl,
      status_url: `${env.API_PUBLIC_URL.replace(/\/$/, "")}${SIMULCAST_STATUS_PATH}`,
      targets,
    };
    const res = await callTranscoder(env, "POST", "/simulcast", JSON.stringify(job));
    if (res.status !== 202) throw new Error(`transcoder answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    await res.body?.cancel();
  } catch (err) {
    log.error("simulcast.start_failed", { live_stream_id: stream.id, error: (err as Error).message });
    await setStatus(ctx, stream, await targetsOf(ctx, stream.id), "errored", "the simulcast job could not start").catch(
      () => undefined,
    );
  }
}

/** A session ended: stop its job; every target is idle. Never throws. */
export async function stopSimulcast(
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  streamId: string,
  environmentId: string,
) {
  const ctx = systemContext(env, environmentId, waitUntil);
  try {
    const rows = await targetsOf(ctx, streamId);
    if (rows.length === 0) return;
    const res = await callTranscoder(env, "DELETE", `/simulcast/${streamId}`, "");
    await res.body?.cancel();
    const stream = await ctx.db.query.liveStreams.findFirst({ where: eq(schema.liveStreams.id, streamId) });
    if (stream) await setStatus(ctx, stream, rows, "idle", null);
  } catch (err) {
    log.error("simulcast.stop_failed", { live_stream_id: streamId, error: (err as Error).message });
  }
}

/** The transcoder's report for one target, applied only while that session is the stream's current one. */
export async function applySimulcastStatus(
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  report: SimulcastStatusReport,
) {
  const t = schema.liveSimulcastTargets;
  const probe = systemContext(env, "", waitUntil);
  const row = await probe.db.query.liveSimulcastTargets.findFirst({
    where: and(eq(t.id, report.target_id), eq(t.liveStreamId, report.live_stream_id)),
  });
  if (!row) return;
  const ctx = systemContext(env, row.environmentId, waitUntil);
  const stream = await ctx.db.query.liveStreams.findFirst({ where: eq(schema.liveStreams.id, row.liveStreamId) });
  if (!stream) return;
  // A late report from a job that was stopped must not bring an idle target back to life.
  if (stream.status !== "active" && report.status !== "idle") return;
  await setStatus(ctx, stream, [row], report.status, report.error);
}
