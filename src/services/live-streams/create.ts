import { schema } from "../../db/client";
import { newId, randomToken, sha256Hex } from "../../lib/ids";
import type { Verb } from "../context";
import { commit, type EventInput, type Statement } from "../events/record";
import { getLiveStreamView, liveEventData } from "./load";
import type { CreateLiveStreamInput } from "./schemas";

/** Stream keys are 32 random bytes (base64url): a guessable key would let anyone broadcast. */
export function newStreamKey(): string {
  return randomToken(32);
}

export async function createLiveStream({ ctx, input }: Verb<CreateLiveStreamInput>) {
  const id = newId("liveStream");
  const streamKey = newStreamKey();
  const row = {
    id,
    environmentId: ctx.caller.environmentId,
    status: "idle" as const,
    streamKeyHash: await sha256Hex(streamKey),
    latencyMode: input.latency_mode ?? "standard",
    reconnectWindow: input.reconnect_window ?? 60,
    maxContinuousDuration: input.max_continuous_duration ?? 43200,
    dvrWindow: input.dvr_window ?? 0,
    recording: {
      mode: input.recording?.mode ?? "automatic",
      new_asset_settings: (input.recording?.new_asset_settings ?? {}) as Record<string, unknown>,
    },
    passthrough: input.passthrough ?? null,
    correlationId: input.correlation_id ?? null,
  };
  const statements: Statement[] = [ctx.db.insert(schema.liveStreams).values(row)];
  const events: EventInput[] = [
    {
      type: "live_stream.created",
      subjectId: id,
      correlationId: row.correlationId,
      data: liveEventData(row, { status: "idle" }),
    },
  ];
  if (input.playback_policy) {
    const playbackId = newId("playbackId");
    statements.push(
      ctx.db.insert(schema.playbackIds).values({
        id: playbackId,
        environmentId: ctx.caller.environmentId,
        liveStreamId: id,
        policy: input.playback_policy,
      }),
    );
    events.push({
      type: "playback_id.created",
      subjectId: playbackId,
      correlationId: row.correlationId,
      data: { playback_id: playbackId, live_stream_id: id, policy: input.playback_policy },
    });
  }
  await commit(ctx, statements, events, [
    { action: "live_stream.create", resourceType: "live_stream", resourceId: id },
  ]);
  return getLiveStreamView(ctx, id, streamKey);
}
