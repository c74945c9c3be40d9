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
import type { ServiceContext } from "../context";
import { commit, type EventInput, type Statement } from "../events/record";
import { systemContext } from "../jobs/system";
import { type LiveStreamRow, liveEventData } from "./load";
import { startSimulcast, stopSimulcast } from "./simulcast";

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

function streamUpdate(ctx: ServiceContext, cfg: IngestConfig, set: Partial<typeof schema.liveStreams.$inferInsert>) {
  const t = schema.liveStreams;
  return ctx.db
    .update(t)
    .set({ ...set, updatedAt: nowIso() })
    .where(and(eq(t.id, cfg.id), eq(t.environmentId, cfg.environmentId)));
}

function liveEvent(cfg: IngestConfig, type: EventInput["type"], extra: Record<string, unknown> = {}): EventInput {
  return { type, subjectId: cfg.id, correlationId: cfg.correlationId, data: liveEventData(cfg, extra) };
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
    statements.push(
      ctx.db.insert(schema.assets).values({
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
        source: { type: "live", live_stream_id: cfg.id, session_id: session.id },
        progress: { stage: "live", percent: 0 },
      }),
    );
    events.push({
      type: "asset.created",
      subjectId: assetId,
      assetId,
      correlationId: cfg.correlationId,
      data: { asset_id: assetId, status: "processing", live_stream_id: cfg.id, passthrough: s.passthrough ?? null },
    });
    if (s.playback_policy === "public" || s.playback_policy === "signed") {
      const playbackId = newId("playbackId");
      statements.push(
        ctx.db
          .insert(schema.playbackIds)
          .values({ id: playbackId, environmentId: cfg.environmentId, assetId, policy: s.playback_policy }),
      );
      events.push({
        type: "playback_id.created",
        subjectId: playbackId,
        assetId,
        correlationId: cfg.correlationId,
        data: { playback_id: playbackId, asset_id: assetId, live_stream_id: cfg.id, policy: s.playback_policy },
      });
    }
  }
  statements.push(
    streamUpdate(ctx, cfg, {
      status: sql`CASE WHEN status = 'disabled' THEN 'disabled' ELSE 'active' END` as unknown as "active",
      connection: "connected",
      connectedAt: at,
      activeAssetId: assetId,
    }),
  );
  events.unshift(
    liveEvent(cfg, "live_stream.connected", { session_id: session.id, reconnect: false }),
    liveEvent(cfg, "live_stream.active", { session_id: session.id, active_asset_id: assetId }),
  );
  await commit(ctx, statements, events);
  waitUntil(startSimulcast(env, waitUntil, cfg.id, cfg.environmentId, session.id));
  return assetId;
}

export async function markReconnected(env: Env, waitUntil: Wait, cfg: IngestConfig, sessionId: string) {
  const ctx = systemContext(env, cfg.environmentId, waitUntil);
  await commit(
    ctx,
    [streamUpdate(ctx, cfg, { connection: "connected", connectedAt: nowIso() })],
    [liveEvent(cfg, "live_stream.connected", { session_id: sessionId, reconnect: true })],
  );
}

export async function markDisconnected(env: Env, waitUntil: Wait, cfg: IngestConfig, sessionId: string) {
  const ctx = systemContext(env, cfg.environmentId, waitUntil);
  await commit(
    ctx,
    [streamUpdate(ctx, cfg, { connection: "disconnected" })],
    [liveEvent(cfg, "live_stream.disconnected", { session_id: sessionId })],
  );
}

export async function warnLiveStream(env: Env, waitUntil: Wait, cfg: IngestConfig, message: string) {
  const ctx = systemContext(env, cfg.environmentId, waitUntil);
  await commit(ctx, [], [liveEvent(cfg, "live_stream.warning", { message })]);
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
  },
) {
  const ctx = systemContext(env, cfg.environmentId, waitUntil);
  const at = nowIso();
  const statements: Statement[] = [];
  const events: EventInput[] = [];
  if (input.wasConnected) events.push(liveEvent(cfg, "live_stream.disconnected", { session_id: input.sessionId }));
  const recent = input.assetId
    ? [input.assetId, ...(cfg.recentAssetIds ?? []).filter((x) => x !== input.assetId)].slice(0, 10)
    : (cfg.recentAssetIds ?? []);
  statements.push(
    streamUpdate(ctx, cfg, {
      status: sql`CASE WHEN status = 'disabled' THEN 'disabled' ELSE 'idle' END` as unknown as "idle",
      connection: "disconnected",
      activeAssetId: null,
      recentAssetIds: recent,
    }),
  );
  events.push(liveEvent(cfg, "live_stream.idle", { session_id: input.sessionId, reason: input.reason }));
  const recording = input.assetId
    ? await ctx.db.query.assets.findFirst({ columns: { status: true }, where: eq(schema.assets.id, input.assetId) })
    : undefined;
  // A recording deleted while the session ran stays deleted: no `ready`, no event.
  if (input.assetId && recording?.status === "processing") {
    const a = schema.assets;
    const guard = and(eq(a.id, input.assetId), eq(a.status, "processing"));
    if (input.durationMs !== null) {
      statements.push(
        ctx.db
          .update(a)
          .set({
            status: "ready",
            currentRunId: input.sessionId,
            duration: input.durationMs,
            renditionsStatus: "complete",
            progress: null,
            readyAt: at,
            updatedAt: at,
          })
          .where(guard),
      );
      events.push({
        type: "asset.ready",
        subjectId: input.assetId,
        assetId: input.assetId,
        correlationId: cfg.correlationId,
        data: { asset_id: input.assetId, status: "ready", live_stream_id: cfg.id, duration: input.durationMs / 1000 },
      });
    } else {
      const error = { code: "input_no_media", message: "The broadcast ended before any segment was complete." };
      statements.push(ctx.db.update(a).set({ status: "errored", error, progress: null, updatedAt: at }).where(guard));
      events.push({
        type: "asset.errored",
        subjectId: input.assetId,
        assetId: input.assetId,
        correlationId: cfg.correlationId,
        data: { asset_id: input.assetId, status: "errored", live_stream_id: cfg.id, error },
      });
    }
  }
  await commit(ctx, statements, events);
  waitUntil(stopSimulcast(env, waitUntil, cfg.id, cfg.environmentId));
}
