/** A live stream's playback IDs: the same verbs as an asset's (../playback-ids/verbs.ts), owned by the stream. */
import type { ServiceContext, Verb } from "../context";
import type { CreatePlaybackIdInput } from "../playback-ids/schemas";
import {
  createOwnedPlaybackId,
  deleteOwnedPlaybackId,
  getOwnedPlaybackId,
  listOwnedPlaybackIds,
  type PlaybackOwner,
} from "../playback-ids/verbs";
import { loadLiveStreamRow } from "./load";

async function streamOwner(ctx: ServiceContext, id: string): Promise<PlaybackOwner> {
  const stream = await loadLiveStreamRow(ctx, id);
  return { kind: "live_stream", id: stream.id, correlationId: stream.correlationId };
}

export async function createLivePlaybackId({ ctx, input }: Verb<{ id: string; body: CreatePlaybackIdInput }>) {
  return createOwnedPlaybackId(ctx, await streamOwner(ctx, input.id), input.body);
}

export async function getLivePlaybackId({ ctx, input }: Verb<{ id: string; playbackId: string }>) {
  return getOwnedPlaybackId(ctx, await streamOwner(ctx, input.id), input.playbackId);
}

export async function listLivePlaybackIds({ ctx, input }: Verb<{ id: string }>) {
  return listOwnedPlaybackIds(ctx, await streamOwner(ctx, input.id));
}

export async function deleteLivePlaybackId({ ctx, input }: Verb<{ id: string; playbackId: string }>) {
  return deleteOwnedPlaybackId(ctx, await streamOwner(ctx, input.id), input.playbackId);
}
