import { schema } from "../../db/client";
import { ValidationError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import type { Verb } from "../context";
import { commit, type EventInput, type Statement } from "../events/record";
import { rowWithDefaults, withResource } from "../events/snapshot";
import { serializePlaybackId } from "../playback-ids/verbs";
import { generatedTrackRows } from "../tracks/generated";
import { sortChapters } from "./chapters";
import { resolveClip } from "./clip";
import { getAssetView } from "./load";
import type { CreateAssetInput } from "./schemas";
import { serializeAsset } from "./serialize";
import { checkWatermarkUrl } from "./watermark";

export async function createAsset({ ctx, input }: Verb<CreateAssetInput>) {
  const assetId = newId("asset");
  const clipInput = input.input?.asset_id ? { ...input.input, asset_id: input.input.asset_id } : null;
  const clip = clipInput ? await resolveClip(ctx, clipInput) : null;
  const chapters = input.chapters ? sortChapters(input.chapters) : null;
  const late = clip && chapters?.find((c) => c.start_time >= clip.duration);
  if (late) {
    throw new ValidationError(`A chapter starts at ${late.start_time} s, after the clip's end (${clip?.duration} s).`, [
      { location: "json.chapters", message: `every start_time must be less than ${clip?.duration}` },
    ]);
  }
  if (input.watermark) checkWatermarkUrl(ctx.env, input.watermark);
  // A clip is cut from its source's unwatermarked original: it keeps the source's watermark unless it names one.
  const watermark = input.watermark ?? clip?.watermark ?? null;
  const asset = rowWithDefaults(schema.assets, {
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
    sourceAssetId: clip?.sourceAssetId ?? null,
    clip: clip?.clip ?? null,
    chapters,
    watermark,
  });
  const playback = input.playback_policy
    ? rowWithDefaults(schema.playbackIds, {
        id: newId("playbackId"),
        environmentId: ctx.caller.environmentId,
        assetId,
        policy: input.playback_policy,
      })
    : null;
  const statements: Statement[] = [ctx.db.insert(schema.assets).values(asset)];
  const events: EventInput[] = [
    {
      type: "asset.created",
      subjectId: assetId,
      assetId,
      correlationId: input.correlation_id,
      data: withResource(
        {
          asset_id: assetId,
          status: "waiting",
          passthrough: input.passthrough ?? null,
          ...(clip ? { source_asset_id: clip.sourceAssetId } : {}),
        },
        serializeAsset(ctx.env, asset, playback ? [playback] : []),
      ),
    },
  ];
  if (playback) {
    statements.push(ctx.db.insert(schema.playbackIds).values(playback));
    events.push({
      type: "playback_id.created",
      subjectId: playback.id,
      assetId,
      correlationId: input.correlation_id,
      data: withResource(
        { playback_id: playback.id, asset_id: assetId, policy: playback.policy },
        serializePlaybackId(ctx.env, playback),
      ),
    });
  }
  const generated = generatedTrackRows(ctx, asset, input.generated_subtitles);
  statements.push(...generated.statements);
  events.push(...generated.events);
  await commit(ctx, statements, events, [{ action: "asset.create", resourceType: "asset", resourceId: assetId }]);
  if (input.input?.url) {
    // URL ingest happens off the request path: the transcode-jobs consumer fetches into R2.
    await ctx.env.TRANSCODE_QUEUE.send({ kind: "ingest_url", asset_id: assetId });
  }
  if (clip) {
    // The clip gets its own copy of the original off the request path (src/services/jobs/clip-source.ts).
    await ctx.env.TRANSCODE_QUEUE.send({ kind: "clip_source", asset_id: assetId });
  }
  return getAssetView(ctx, assetId);
}
