/**
 * Settings and lifecycle verbs. Each commits D1 (row, event, audit) first, then tells the stream's
 * Durable Object to re-read its settings (`refresh`): D1 holds the settings, the DO the runtime. A
 * disabled or deleted stream's DO ends any running session at once (recording finalised).
 */
import { and, eq, isNull } from "drizzle-orm";
import { schema } from "../../db/client";
import { InvalidStateError } from "../../lib/errors";
import { sha256Hex } from "../../lib/ids";
import { nowIso } from "../../lib/time";
import type { ServiceContext, Verb } from "../context";
import type { EventType, Statement } from "../events/record";
import { commit } from "../events/record";
import { newStreamKey } from "./create";
import { assertLadderChangeAllowed, checkLadder } from "./ladder";
import { getLiveStreamView, type LiveStreamRow, liveStreamEventData, liveStub, loadLiveStreamRow } from "./load";
import type { UpdateLiveStreamInput } from "./schemas";

async function change(
  ctx: ServiceContext,
  row: LiveStreamRow,
  set: Partial<typeof schema.liveStreams.$inferInsert>,
  type: EventType,
  action: string,
  extra: { statements?: Statement[]; data?: Record<string, unknown>; lastState?: boolean } = {},
) {
  const t = schema.liveStreams;
  const changed = { ...set, updatedAt: nowIso() };
  // A delete announces the last state (the stream as GET showed it just before); any other change the new one.
  const data = await liveStreamEventData(ctx, extra.lastState ? row : { ...row, ...changed }, extra.data);
  await commit(
    ctx,
    [
      ctx.db
        .update(t)
        .set(changed)
        .where(and(eq(t.id, row.id), eq(t.environmentId, ctx.caller.environmentId))),
      ...(extra.statements ?? []),
    ],
    [{ type, subjectId: row.id, correlationId: row.correlationId, data }],
    [{ action, resourceType: "live_stream", resourceId: row.id }],
  );
  await liveStub(ctx.env, row.id).refresh(row.id);
}

export async function updateLiveStream({ ctx, input }: Verb<{ id: string; patch: UpdateLiveStreamInput }>) {
  const row = await loadLiveStreamRow(ctx, input.id);
  const p = input.patch;
  const set: Partial<typeof schema.liveStreams.$inferInsert> = {};
  if (p.reconnect_window !== undefined) set.reconnectWindow = p.reconnect_window;
  if (p.max_continuous_duration !== undefined) set.maxContinuousDuration = p.max_continuous_duration;
  if (p.latency_mode !== undefined) set.latencyMode = p.latency_mode;
  if (p.dvr_window !== undefined) set.dvrWindow = p.dvr_window;
  if (p.passthrough !== undefined) set.passthrough = p.passthrough;
  if (p.recording !== undefined) {
    set.recording = {
      mode: p.recording.mode,
      new_asset_settings: (p.recording.new_asset_settings ?? {}) as Record<string, unknown>,
    };
  }
  if (p.renditions !== undefined || p.latency_mode !== undefined || p.recording !== undefined) {
    const renditions = checkLadder({
      renditions: p.renditions ?? row.renditions ?? [],
      latencyMode: set.latencyMode ?? row.latencyMode,
      newAssetSettings: (set.recording ?? row.recording).new_asset_settings,
      sent: p.renditions !== undefined,
    });
    if (p.renditions !== undefined) {
      if (renditions.join() !== (row.renditions ?? []).join()) assertLadderChangeAllowed(row);
      set.renditions = renditions;
    }
  }
  await change(ctx, row, set, "live_stream.updated", "live_stream.update", { data: { changed: Object.keys(p) } });
  return getLiveStreamView(ctx, row.id);
}

export async function disableLiveStream({ ctx, input }: Verb<{ id: string }>) {
  const row = await loadLiveStreamRow(ctx, input.id);
  if (row.status !== "disabled") {
    await change(ctx, row, { status: "disabled" }, "live_stream.disabled", "live_stream.disable");
  }
  return getLiveStreamView(ctx, row.id);
}

export async function enableLiveStream({ ctx, input }: Verb<{ id: string }>) {
  const row = await loadLiveStreamRow(ctx, input.id);
  if (row.status === "disabled") {
    await change(ctx, row, { status: "idle" }, "live_stream.enabled", "live_stream.enable");
  }
  return getLiveStreamView(ctx, row.id);
}

export async function resetStreamKey({ ctx, input }: Verb<{ id: string }>) {
  const row = await loadLiveStreamRow(ctx, input.id);
  const streamKey = newStreamKey();
  await change(
    ctx,
    row,
    { streamKeyHash: await sha256Hex(streamKey) },
    "live_stream.stream_key_reset",
    "live_stream.reset_stream_key",
  );
  return getLiveStreamView(ctx, row.id, streamKey);
}

/** Deletes the stream and its playback IDs. Recording assets stay: they are ordinary assets. */
export async function deleteLiveStream({ ctx, input }: Verb<{ id: string }>) {
  const row = await loadLiveStreamRow(ctx, input.id);
  const at = nowIso();
  const pb = schema.playbackIds;
  await change(ctx, row, { deletedAt: at }, "live_stream.deleted", "live_stream.delete", {
    lastState: true,
    statements: [
      ctx.db
        .update(pb)
        .set({ deletedAt: at })
        .where(and(eq(pb.liveStreamId, row.id), isNull(pb.deletedAt))),
    ],
  });
}

/** Ends the broadcast now instead of after the reconnect window. */
export async function completeLiveStream({ ctx, input }: Verb<{ id: string }>) {
  const row = await loadLiveStreamRow(ctx, input.id);
  if (row.status !== "active") throw new InvalidStateError("live stream", row.id, row.status, "complete");
  await liveStub(ctx.env, row.id).complete(row.id);
  return getLiveStreamView(ctx, row.id);
}

export async function liveStreamHealth({ ctx, input }: Verb<{ id: string }>) {
  const row = await loadLiveStreamRow(ctx, input.id);
  return liveStub(ctx.env, row.id).health(row.id);
}
