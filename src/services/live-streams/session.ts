/**
 * What the LiveStream Durable Object projects into D1: the stream's settings (read), and its
 * milestones (written): a session starting (status `active`, the recording asset created), an encoder
 * connecting or going away, the session ending (status `idle`, the recording `ready`). Each milestone
 * is one `db.batch` with its events, so webhooks, the feed and the timeline see exactly what changed.
 */
import { and, eq, sql } from "drizzle-orm";
import { schema } from "../../db/client";
import { newId } from "../../lib/ids";
import { nowIso } from "../../lib/time";
import type { MaxResolution } from "../../lib/transcoder-protocol";
import type { RecordingSourceResult } from "../../live/recording-source";
import { assetEventData } from "../assets/load";
import { serializeAsset } from "../assets/serialize";
import type { ServiceContext } from "../context";
import { commit, type EventInput, type Statement } from "../events/record";
import { rowWithDefaults, withResource } from "../events/snapshot";
import { enqueueJob, newJobStatement } from "../jobs/create";
import { systemContext } from "../jobs/system";
import { serializePlaybackId } from "../playback-ids/verbs";
import { generatedTrackRows, settleGeneratedTracks } from "../tracks/generated";
import type { GeneratedSubtitlesInput } from "../tracks/schemas";
import { stopLiveLadder } from "./ladder-job";
import { type LiveStreamRow, liveStreamEventData } from "./load";
import { startSessionJobs } from "./session-jobs";
import { stopSimulcast } from "./simulcast";

export type IngestConfig = LiveStreamRow;

/** The stream's row, deleted or not (the DO needs to know it was deleted); null if it never existed. */
export async function loadIngestConfig(env: Env, streamId: string): Promise<IngestConfig | null> {
  const ctx = systemContext(env, "", () => {});
  return (await ctx.db.query.liveStreams.findFirst({ where: eq(schema.liveStreams.id, streamId) })) ?? null;
}

/** The stream whose key hashes to `keyHash` (not deleted), for the ingest route. */
export async function findStreamByKeyHash(env: Env, keyHash: string): Promise<{ id: string } | null> {
  const ctx = systemContext(env, "", () => {});
  const row = await ctx.db.query.liveStreams.findFirst({
    columns: { id: true, deletedAt: true },
    where: eq(schema.liveStreams.streamKeyHash, keyHash),
  });
  return row && row.deletedAt === null ? { id: row.id } : null;
}

type StreamSet = Partial<Omit<LiveStreamRow, "status">>;

/**
 * A milestone's update of the stream row, and the row as it will read after it (for the events' `data`):
 * read from D1 now (the DO's copy of the settings may be older) with `set` applied. `to` moves the status
 * unless the stream is disabled, which it stays (decided in SQL, mirrored here).
 */
async function streamChange(ctx: ServiceContext, cfg: IngestConfig, set: StreamSet, to?: "active" | "idle") {
  const t = schema.liveStreams;
  const changed = { ...set, updatedAt: nowIso() };
  const statement = ctx.db
    .update(t)
    .set(
      to
        ? {
            ...changed,
            status: sql`CASE WHEN status = 'disabled' THEN 'disabled' ELSE ${to} END` as unknown as typeof to,
          }
        : changed,
    )
    .where(and(eq(t.id, cfg.id), eq(t.environmentId, cfg.environmentId)));
  const current = (await ctx.db.query.liveStreams.findFirst({ where: eq(t.id, cfg.id) })) ?? cfg;
  const after: LiveStreamRow = {
    ...current,
    ...changed,
    ...(to ? { status: current.status === "disabled" ? "disabled" : to } : {}),
  };
  return { statement, after };
}

async function liveEvent(
  ctx: ServiceContext,
  row: LiveStreamRow,
  type: EventInput["type"],
  extra: Record<string, unknown> = {},
): Promise<EventInput> {
  return {
    type,
    subjectId: row.id,
    correlationId: row.correlationId,
    data: await liveStreamEventData(ctx, row, extra),
  };
}

type Wait = (p: Promise<unknown>) => void;

/**
 * The first segment of a session: status `active`, connected, and with recording on a new asset in
 * `processing` whose HLS the segments are written into. Returns the recording asset's ID (or null).
 */
export async function startSession(
  env: Env,
  waitUntil: Wait,
  cfg: IngestConfig,
  session: { id: string; recording: boolean },
): Promise<string | null> {
  const ctx = systemContext(env, cfg.environmentId, waitUntil);
  const at = nowIso();
  const statements: Statement[] = [];
  const events: EventInput[] = [];
  let assetId: string | null = null;
  if (session.recording) {
    assetId = newId("asset");
    const s = cfg.recording.new_asset_settings as Record<string, unknown>;
    const asset = rowWithDefaults(schema.assets, {
      id: assetId,
      environmentId: cfg.environmentId,
      status: "processing",
      title: (s.title as string | undefined) ?? null,
      description: (s.description as string | undefined) ?? null,
      tags: (s.tags as string[] | undefined) ?? [],
      externalId: (s.external_id as string | undefined) ?? null,
      metadata: (s.metadata as Record<string, string> | undefined) ?? {},
      passthrough: (s.passthrough as string | undefined) ?? null,
      correlationId: cfg.correlationId,
      playbackPolicy: (s.playback_policy as "public" | "signed" | undefined) ?? null,
      mp4Support: s.mp4_support === "standard" ? "standard" : "none",
      staticRenditions: s.mp4_support === "standard" ? { status: "preparing", files: [] } : null,
      maxResolution: (s.max_resolution as MaxResolution | undefined) ?? "1080p",
      source: { type: "live", live_stream_id: cfg.id, session_id: session.id },
      progress: { stage: "live", percent: 0 },
    });
    const playback =
      s.playback_policy === "public" || s.playback_policy === "signed"
        ? rowWithDefaults(schema.playbackIds, {
            id: newId("playbackId"),
            environmentId: cfg.environmentId,
            assetId,
            policy: s.playback_policy,
          })
        : null;
    statements.push(ctx.db.insert(schema.assets).values(asset));
    events.push({
      type: "asset.created",
      subjectId: assetId,
      assetId,
      correlationId: cfg.correlationId,
      data: withResource(
        { asset_id: assetId, status: "processing", live_stream_id: cfg.id, passthrough: s.passthrough ?? null },
        serializeAsset(ctx.env, asset, playback ? [playback] : []),
      ),
    });
    if (playback) {
      statements.push(ctx.db.insert(schema.playbackIds).values(playback));
      events.push({
        type: "playback_id.created",
        subjectId: playback.id,
        assetId,
        correlationId: cfg.correlationId,
        data: withResource(
          { playback_id: playback.id, asset_id: assetId, live_stream_id: cfg.id, policy: playback.policy },
          serializePlaybackId(ctx.env, playback),
        ),
      });
    }
    const generated = generatedTrackRows(ctx, asset, s.generated_subtitles as GeneratedSubtitlesInput | undefined);
    statements.push(...generated.statements);
    events.push(...generated.events);
  }
  const stream = await streamChange(
    ctx,
    cfg,
    { connection: "connected", connectedAt: at, activeAssetId: assetId },
    "active",
  );
  statements.push(stream.statement);
  events.unshift(
    await liveEvent(ctx, stream.after, "live_stream.connected", { session_id: session.id, reconnect: false }),
    await liveEvent(ctx, stream.after, "live_stream.active", { session_id: session.id, active_asset_id: assetId }),
  );
  await commit(ctx, statements, events);
  waitUntil(startSessionJobs(env, waitUntil, cfg.id, cfg.environmentId, session.id));
  return assetId;
}

export async function markReconnected(env: Env, waitUntil: Wait, cfg: IngestConfig, sessionId: string) {
  const ctx = systemContext(env, cfg.environmentId, waitUntil);
  const stream = await streamChange(ctx, cfg, { connection: "connected", connectedAt: nowIso() });
  await commit(
    ctx,
    [stream.statement],
    [await liveEvent(ctx, stream.after, "live_stream.connected", { session_id: sessionId, reconnect: true })],
  );
}

export async function markDisconnected(env: Env, waitUntil: Wait, cfg: IngestConfig, sessionId: string) {
  const ctx = systemContext(env, cfg.environmentId, waitUntil);
  const stream = await streamChange(ctx, cfg, { connection: "disconnected" });
  await commit(
    ctx,
    [stream.statement],
    [await liveEvent(ctx, stream.after, "live_stream.disconnected", { session_id: sessionId })],
  );
}

export async function warnLiveStream(env: Env, waitUntil: Wait, cfg: IngestConfig, message: string) {
  const ctx = systemContext(env, cfg.environmentId, waitUntil);
  const current = (await ctx.db.query.liveStreams.findFirst({ where: eq(schema.liveStreams.id, cfg.id) })) ?? cfg;
  await commit(ctx, [], [await liveEvent(ctx, current, "live_stream.warning", { message })]);
}

/**
 * The session is over: the stream goes `idle` (a disabled stream stays `disabled`), and the recording
 * (whose VOD playlist the DO has already written) becomes `ready` at once, playing from
 * `assets/{asset}/runs/{session}/`. A recording deleted meanwhile stays deleted. `durationMs` null
 * means nothing was recorded: the asset ends `errored`.
 */
export async function endSession(
  env: Env,
  waitUntil: Wait,
  cfg: IngestConfig,
  input: {
    sessionId: string;
    assetId: string | null;
    durationMs: number | null;
    wasConnected: boolean;
    reason: string;
    /** The recording read back as one source for the pipeline (poster, storyboard, ladder, MP4), or why not. */
    source?: RecordingSourceResult;
  },
): Promise<{ recordingKept: boolean }> {
  const ctx = systemContext(env, cfg.environmentId, waitUntil);
  const at = nowIso();
  const statements: Statement[] = [];
  const events: EventInput[] = [];
  const recent = input.assetId
    ? [input.assetId, ...(cfg.recentAssetIds ?? []).filter((x) => x !== input.assetId)].slice(0, 10)
    : (cfg.recentAssetIds ?? []);
  const stream = await streamChange(
    ctx,
    cfg,
    { connection: "disconnected", activeAssetId: null, recentAssetIds: recent },
    "idle",
  );
  statements.push(stream.statement);
  if (input.wasConnected) {
    events.push(await liveEvent(ctx, stream.after, "live_stream.disconnected", { session_id: input.sessionId }));
  }
  events.push(
    await liveEvent(ctx, stream.after, "live_stream.idle", { session_id: input.sessionId, reason: input.reason }),
  );
  const recording = input.assetId
    ? await ctx.db.query.assets.findFirst({ where: eq(schema.assets.id, input.assetId) })
    : undefined;
  let jobId: string | null = null;
  // A recording deleted while the session ran stays deleted: no `ready`, no event.
  if (input.assetId && recording?.status === "processing") {
    const a = schema.assets;
    const guard = and(eq(a.id, input.assetId), eq(a.status, "processing"));
    if (input.durationMs !== null) {
      const ready = {
        status: "ready" as const,
        currentRunId: input.sessionId,
        duration: input.durationMs,
        // Playable now from the broadcast's own segments; when the pipeline takes the recording, its ladder
        // (with a poster and storyboard) is still to come, and says so — the edge re-checks such an asset sooner.
        renditionsStatus: input.source?.ok ? ("preparing" as const) : ("complete" as const),
        progress: null,
        readyAt: at,
        updatedAt: at,
      };
      statements.push(ctx.db.update(a).set(ready).where(guard));
      if (input.source?.ok) {
        // The existing pipeline takes the recording from here: poster, storyboard, the ladder and the MP4
        // download land as for an upload, and the asset stays `ready` (playing the recording) meanwhile.
        const job = newJobStatement(ctx, {
          assetId: input.assetId,
          correlationId: cfg.correlationId,
          settings: {
            max_resolution: recording.maxResolution as MaxResolution,
            fast_path: false,
            source_size_bytes: input.source.plan.size,
            source_content_type: input.source.plan.container === "mpegts" ? "video/mp2t" : "video/mp4",
            mp4_support: recording.mp4Support,
          },
        });
        jobId = job.jobId;
        statements.push(job.statement);
      } else if (input.source && recording.mp4Support === "standard") {
        const error = `the recording could not be processed: ${input.source.reason}`;
        statements.push(
          ctx.db
            .update(a)
            .set({ staticRenditions: { status: "errored", files: [], error } })
            .where(eq(a.id, input.assetId)),
        );
      }
      events.push({
        type: "asset.ready",
        subjectId: input.assetId,
        assetId: input.assetId,
        correlationId: cfg.correlationId,
        data: await assetEventData(ctx, recording, ready, {
          asset_id: input.assetId,
          status: "ready",
          live_stream_id: cfg.id,
          duration: input.durationMs / 1000,
        }),
      });
    } else {
      const error = { code: "input_no_media", message: "The broadcast ended before any segment was complete." };
      const errored = { status: "errored" as const, error, progress: null, updatedAt: at };
      statements.push(ctx.db.update(a).set(errored).where(guard));
      events.push({
        type: "asset.errored",
        subjectId: input.assetId,
        assetId: input.assetId,
        correlationId: cfg.correlationId,
        data: await assetEventData(ctx, recording, errored, {
          asset_id: input.assetId,
          status: "errored",
          live_stream_id: cfg.id,
          error,
        }),
      });
    }
  }
  await commit(ctx, statements, events);
  // The recording is ready (its audio can be transcribed) or errored: its generated subtitles move on.
  if (input.assetId) await settleGeneratedTracks(ctx, input.assetId);
  waitUntil(stopSimulcast(env, waitUntil, cfg.id, cfg.environmentId));
  waitUntil(stopLiveLadder(env, cfg.id, cfg.renditions ?? []));
  if (jobId) await enqueueJob(env, jobId);
  return { recordingKept: recording?.status === "processing" };
}
