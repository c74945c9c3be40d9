/** A live stream's playback IDs: the same policies and allow-lists as an asset's, pointing at the stream. */
import { and, asc, eq, isNull } from "drizzle-orm";
import { schema } from "../../db/client";
import { NotFoundError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { nowIso } from "../../lib/time";
import type { ServiceContext, Verb } from "../context";
import { commit } from "../events/record";
import { rowWithDefaults, withResource } from "../events/snapshot";
import type { CreatePlaybackIdInput } from "../playback-ids/schemas";
import { serializePlaybackId } from "../playback-ids/verbs";
import { loadLiveStreamRow } from "./load";

async function loadRow(ctx: ServiceContext, streamId: string, playbackId: string) {
  const pb = schema.playbackIds;
  const row = await ctx.db.query.playbackIds.findFirst({
    where: and(
      eq(pb.id, playbackId),
      eq(pb.liveStreamId, streamId),
      eq(pb.environmentId, ctx.caller.environmentId),
      isNull(pb.deletedAt),
    ),
  });
  if (!row) throw new NotFoundError("playback ID", playbackId);
  return row;
}

export async function createLivePlaybackId({ ctx, input }: Verb<{ id: string; body: CreatePlaybackIdInput }>) {
  const stream = await loadLiveStreamRow(ctx, input.id);
  const id = newId("playbackId");
  const row = rowWithDefaults(schema.playbackIds, {
    id,
    environmentId: ctx.caller.environmentId,
    liveStreamId: stream.id,
    policy: input.body.policy,
    allowedOrigins: (input.body.allowed_origins ?? []).map((o) => o.toLowerCase()),
    allowNoReferrer: input.body.allow_no_referrer ?? true,
  });
  await commit(
    ctx,
    [ctx.db.insert(schema.playbackIds).values(row)],
    [
      {
        type: "playback_id.created",
        subjectId: id,
        correlationId: stream.correlationId,
        data: withResource(
          { playback_id: id, live_stream_id: stream.id, policy: input.body.policy },
          serializePlaybackId(ctx.env, row),
        ),
      },
    ],
    [{ action: "playback_id.create", resourceType: "playback_id", resourceId: id }],
  );
  return serializePlaybackId(ctx.env, await loadRow(ctx, stream.id, id));
}

export async function getLivePlaybackId({ ctx, input }: Verb<{ id: string; playbackId: string }>) {
  const stream = await loadLiveStreamRow(ctx, input.id);
  return serializePlaybackId(ctx.env, await loadRow(ctx, stream.id, input.playbackId));
}

export async function listLivePlaybackIds({ ctx, input }: Verb<{ id: string }>) {
  const stream = await loadLiveStreamRow(ctx, input.id);
  const pb = schema.playbackIds;
  const rows = await ctx.db
    .select()
    .from(pb)
    .where(and(eq(pb.liveStreamId, stream.id), isNull(pb.deletedAt)))
    .orderBy(asc(pb.id));
  return { data: rows.map((r) => serializePlaybackId(ctx.env, r)), next_cursor: null };
}

export async function deleteLivePlaybackId({ ctx, input }: Verb<{ id: string; playbackId: string }>) {
  const stream = await loadLiveStreamRow(ctx, input.id);
  const row = await loadRow(ctx, stream.id, input.playbackId);
  await commit(
    ctx,
    [ctx.db.update(schema.playbackIds).set({ deletedAt: nowIso() }).where(eq(schema.playbackIds.id, row.id))],
    [
      {
        type: "playback_id.deleted",
        subjectId: row.id,
        correlationId: stream.correlationId,
        // The last state: the playback ID as GET showed it just before the delete.
        data: withResource({ playback_id: row.id, live_stream_id: stream.id }, serializePlaybackId(ctx.env, row)),
      },
    ],
    [{ action: "playback_id.delete", resourceType: "playback_id", resourceId: row.id }],
  );
}
