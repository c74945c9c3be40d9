import { schema } from "../../db/client";
import { newId, randomToken, sha256Hex } from "../../lib/ids";
import type { Verb } from "../context";
import { commit, type EventInput, type Statement } from "../events/record";
import { rowWithDefaults, withResource } from "../events/snapshot";
import { serializePlaybackId } from "../playback-ids/verbs";
import { checkLadder } from "./ladder";
import { getLiveStreamView, liveStreamEventData } from "./load";
import type { CreateLiveStreamInput } from "./schemas";

/** Stream keys are 32 random bytes (base64url): a guessable key would let anyone broadcast. */
export function newStreamKey(): string {
  return randomToken(32);
}

export async function createLiveStream({ ctx, input }: Verb<CreateLiveStreamInput>) {
  const renditions = checkLadder({
    renditions: input.renditions ?? [],
    latencyMode: input.latency_mode ?? "standard",
    newAssetSettings: input.recording?.new_asset_settings,
    sent: true,
  });
  const id = newId("liveStream");
  const streamKey = newStreamKey();
  const row = rowWithDefaults(schema.liveStreams, {
    id,
    environmentId: ctx.caller.environmentId,
    status: "idle" as const,
    streamKeyHash: await sha256Hex(streamKey),
    latencyMode: input.latency_mode ?? "standard",
    reconnectWindow: input.reconnect_window ?? 60,
    maxContinuousDuration: input.max_continuous_duration ?? 43200,
    dvrWindow: input.dvr_window ?? 0,
    renditions,
    recording: {
      mode: input.recording?.mode ?? "automatic",
      new_asset_settings: (input.recording?.new_asset_settings ?? {}) as Record<string, unknown>,
    },
    passthrough: input.passthrough ?? null,
    correlationId: input.correlation_id ?? null,
  });
  const playback = input.playback_policy
    ? rowWithDefaults(schema.playbackIds, {
        id: newId("playbackId"),
        environmentId: ctx.caller.environmentId,
        liveStreamId: id,
        policy: input.playback_policy,
      })
    : null;
  const statements: Statement[] = [ctx.db.insert(schema.liveStreams).values(row)];
  const events: EventInput[] = [
    {
      type: "live_stream.created",
      subjectId: id,
      correlationId: row.correlationId,
      data: await liveStreamEventData(ctx, row, { status: "idle" }, playback ? [playback] : []),
    },
  ];
  if (playback) {
    statements.push(ctx.db.insert(schema.playbackIds).values(playback));
    events.push({
      type: "playback_id.created",
      subjectId: playback.id,
      correlationId: row.correlationId,
      data: withResource(
        { playback_id: playback.id, live_stream_id: id, policy: playback.policy },
        serializePlaybackId(ctx.env, playback),
      ),
    });
  }
  await commit(ctx, statements, events, [
    { action: "live_stream.create", resourceType: "live_stream", resourceId: id },
  ]);
  return getLiveStreamView(ctx, id, streamKey);
}
