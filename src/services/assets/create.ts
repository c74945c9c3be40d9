import { schema } from "../../db/client";
import { newId } from "../../lib/ids";
import type { Verb } from "../context";
import { commit, type EventInput, type Statement } from "../events/record";
import { getAssetView } from "./load";
import type { CreateAssetInput } from "./schemas";

export async function createAsset({ ctx, input }: Verb<CreateAssetInput>) {
  const assetId = newId("asset");
  const statements: Statement[] = [
    ctx.db.insert(schema.assets).values({
      id: assetId,
      environmentId: ctx.caller.environmentId,
      status: "waiting",
      title: input.title ?? null,
      description: input.description ?? null,
      tags: input.tags ?? [],
      externalId: input.external_id ?? null,
      metadata: input.metadata ?? {},
      passthrough: input.passthrough ?? null,
      correlationId: input.correlation_id ?? null,
      playbackPolicy: input.playback_policy ?? null,
      maxResolution: input.max_resolution ?? "1080p",
      mp4Support: input.mp4_support ?? "none",
      staticRenditions: input.mp4_support === "standard" ? { status: "preparing", files: [] } : null,
      inputUrl: input.input?.url ?? null,
    }),
  ];
  const events: EventInput[] = [
    {
      type: "asset.created",
      subjectId: assetId,
      assetId,
      correlationId: input.correlation_id,
      data: { asset_id: assetId, status: "waiting", passthrough: input.passthrough ?? null },
    },
  ];
  if (input.playback_policy) {
    const playbackId = newId("playbackId");
    statements.push(
      ctx.db.insert(schema.playbackIds).values({
        id: playbackId,
        environmentId: ctx.caller.environmentId,
        assetId,
        policy: input.playback_policy,
      }),
    );
    events.push({
      type: "playback_id.created",
      subjectId: playbackId,
      assetId,
      correlationId: input.correlation_id,
      data: { playback_id: playbackId, asset_id: assetId, policy: input.playback_policy },
    });
  }
  await commit(ctx, statements, events, [{ action: "asset.create", resourceType: "asset", resourceId: assetId }]);
  if (input.input?.url) {
    // URL ingest happens off the request path: the transcode-jobs consumer fetches into R2.
    await ctx.env.TRANSCODE_QUEUE.send({ kind: "ingest_url", asset_id: assetId });
  }
  return getAssetView(ctx, assetId);
}
