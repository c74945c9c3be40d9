/**
 * Generated subtitles (issue 16): the hook for speech-to-text captions.
 *
 * An asset created with `generated_subtitles: [{ language_code, name? }]` (on `POST /v1/assets`, in an
 * upload's `new_asset_settings`, or in a live stream's `recording.new_asset_settings`) gets one text track
 * per entry, `source: "generated"`, `preparing` from the start, with `track.created` in the asset's own
 * creation batch. Once the asset is `ready` its audio exists, so `settleGeneratedTracks` queues
 * `{kind: "generated_track"}` for each; the transcode-jobs consumer then runs the deployment's
 * `SpeechEngine` and stores the result like any other text track (`track.ready`), or errors the track
 * with a precise code (`track.errored`). An asset that errors takes its waiting generated tracks with it.
 *
 * No engine ships: the only speech models on npm that run offline on a CPU need their weights downloaded
 * from a model hub at first use, which this deployment model (and this repository's offline install) does
 * not allow. So without one every generated track ends `errored` with `text_generation_unavailable`, saying
 * so, instead of waiting forever. An engine is one object (`transcodeConsumer({ speech })`): given the
 * asset and language it returns a WebVTT or SRT file, which goes through the same normaliser as uploads.
 */
import { and, eq, isNull } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import { newId } from "../../lib/ids";
import { log } from "../../lib/log";
import { nowIso } from "../../lib/time";
import { normalizeSubtitles } from "../../lib/webvtt";
import type { ServiceContext } from "../context";
import type { EventInput, Statement } from "../events/record";
import type { ConsumerOutcome } from "../jobs/start";
import { systemContext } from "../jobs/system";
import { errorTrack, storeTextTrack } from "./ingest";
import { canonicalLanguage, type GENERATED_TRACK_ERROR_CODES, type GeneratedSubtitlesInput } from "./schemas";
import type { TrackRow } from "./serialize";
import { languageName, trackEvent } from "./verbs";

/** Turns an asset's audio into subtitles in one language: a WebVTT or SRT file. */
export interface SpeechEngine {
  transcribe(req: { env: Env; assetId: string; runId: string | null; languageCode: string }): Promise<string>;
}

/** The `preparing` rows and their `track.created` events, for the batch that creates the asset. */
export function generatedTrackRows(
  ctx: Pick<ServiceContext, "db">,
  asset: { id: string; environmentId: string; correlationId: string | null },
  requested: GeneratedSubtitlesInput | undefined,
): { statements: Statement[]; events: EventInput[] } {
  const statements: Statement[] = [];
  const events: EventInput[] = [];
  for (const g of requested ?? []) {
    const language = canonicalLanguage(g.language_code) as string;
    const now = nowIso();
    const row: TrackRow = {
      id: newId("track"),
      environmentId: asset.environmentId,
      assetId: asset.id,
      type: "text",
      textType: "subtitles",
      status: "preparing",
      languageCode: language,
      name: g.name ?? `${languageName(language)} (generated)`,
      closedCaptions: false,
      isDefault: false,
      sourceKind: "generated",
      sourceUrl: null,
      details: null,
      error: null,
      correlationId: asset.correlationId,
      createdAt: now,
      updatedAt: now,
      readyAt: null,
      deletedAt: null,
    };
    statements.push(ctx.db.insert(schema.assetTracks).values(row));
    events.push(trackEvent("track.created", row));
  }
  return { statements, events };
}

function waitingTracks(db: ServiceContext["db"], assetId: string) {
  const t = schema.assetTracks;
  return db.query.assetTracks.findMany({
    where: and(eq(t.assetId, assetId), eq(t.sourceKind, "generated"), eq(t.status, "preparing"), isNull(t.deletedAt)),
  });
}

/**
 * After an asset's state changed: a `ready` asset's waiting generated tracks are queued for the engine, an
 * `errored` one's are errored. Idempotent (the consumer flips only `preparing` rows), so callers call it
 * after every ready or errored commit without checking what it did before.
 */
export async function settleGeneratedTracks(ctx: ServiceContext, assetId: string): Promise<void> {
  const rows = await waitingTracks(ctx.db, assetId);
  if (rows.length === 0) return;
  const asset = await ctx.db.query.assets.findFirst({ where: eq(schema.assets.id, assetId) });
  if (asset?.status === "ready") {
    for (const row of rows) await ctx.env.TRANSCODE_QUEUE.send({ kind: "generated_track", track_id: row.id });
    log.info("generated_tracks_queued", { asset_id: assetId, tracks: rows.length });
  } else if (asset?.status === "errored") {
    for (const row of rows) {
      await errorTrack(ctx, row, {
        code: "text_generation_asset_errored",
        message: `Asset '${assetId}' errored before its audio could be transcribed.`,
      });
    }
  }
}

/** The transcode-jobs consumer's `generated_track` message. */
export async function generateTextTrack(
  env: Env,
  trackId: string,
  opts: { waitUntil: (p: Promise<unknown>) => void; speech?: SpeechEngine },
): Promise<ConsumerOutcome> {
  const db = createDb(env.DB);
  const row = await db.query.assetTracks.findFirst({
    where: and(eq(schema.assetTracks.id, trackId), isNull(schema.assetTracks.deletedAt)),
  });
  if (row?.status !== "preparing" || row.sourceKind !== "generated") {
    return { action: "ack", reason: `nothing to generate (${row?.status ?? "missing"})` };
  }
  const ctx = systemContext(env, row.environmentId, opts.waitUntil);
  const fail = async (code: (typeof GENERATED_TRACK_ERROR_CODES)[number], message: string) => {
    await errorTrack(ctx, row, { code, message });
    log.warn("generated_track_errored", { track_id: row.id, code });
    return { action: "ack" as const, reason: code };
  };
  const asset = await db.query.assets.findFirst({
    where: and(eq(schema.assets.id, row.assetId), isNull(schema.assets.deletedAt)),
  });
  if (asset?.status !== "ready") return { action: "ack", reason: `asset not ready (${asset?.status ?? "deleted"})` };
  if (!opts.speech) {
    return fail(
      "text_generation_unavailable",
      "This deployment has no speech-to-text engine, so subtitles cannot be generated. Add a text track from a file instead (POST /v1/assets/{id}/tracks).",
    );
  }
  const media = Array.isArray(asset.tracks) ? (asset.tracks as { type?: string }[]) : [];
  // A live recording is ready before the pipeline has read its media; that run's `complete` settles it again.
  if (media.length === 0 && asset.renditionsStatus === "preparing") {
    return { action: "ack", reason: "media facts not known yet" };
  }
  if (media.length > 0 && !media.some((t) => t?.type === "audio")) {
    return fail("text_generation_no_audio", `Asset '${asset.id}' has no audio to transcribe.`);
  }
  let file: string;
  try {
    file = await opts.speech.transcribe({
      env,
      assetId: asset.id,
      runId: asset.currentRunId,
      languageCode: row.languageCode,
    });
  } catch (err) {
    return fail("text_generation_failed", `The speech-to-text engine failed: ${(err as Error).message}`);
  }
  const bytes = new TextEncoder().encode(file);
  const result = normalizeSubtitles(bytes);
  if (!result.ok) {
    return fail(
      "text_generation_failed",
      `The engine's subtitles were refused (${result.error.code}): ${result.error.message}`,
    );
  }
  // Deleted (or its asset deleted) while the engine ran: store nothing.
  const current = await db.query.assetTracks.findFirst({
    where: and(eq(schema.assetTracks.id, row.id), isNull(schema.assetTracks.deletedAt)),
  });
  if (current?.status !== "preparing")
    return { action: "ack", reason: `track moved on (${current?.status ?? "deleted"})` };
  const details = await storeTextTrack(ctx, row, result, bytes.byteLength);
  log.info("generated_track_ready", { track_id: row.id, cues: details.cue_count });
  return { action: "ack", reason: "ready" };
}

/** Dead letter: the queue gave up on a generation; the track says so. */
export async function deadLetterGeneratedTrack(env: Env, trackId: string, waitUntil: (p: Promise<unknown>) => void) {
  const row = await createDb(env.DB).query.assetTracks.findFirst({ where: eq(schema.assetTracks.id, trackId) });
  if (row?.status !== "preparing") return;
  await errorTrack(systemContext(env, row.environmentId, waitUntil), row, {
    code: "text_generation_failed",
    message: "Subtitle generation could not be run: retries exhausted.",
  });
}
