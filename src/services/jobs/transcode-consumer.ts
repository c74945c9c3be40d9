/**
 * The transcode-jobs consumer and its dead-letter reader. Each message is acked or retried
 * explicitly: `transcode` messages start a job attempt (startJob), `ingest_url` messages fetch a
 * source (ingestUrl), `text_track` messages fetch a subtitle file (ingestTextTrack), `generated_track` messages
 * transcribe a ready asset's audio (generateTextTrack). Unexpected errors retry with backoff from msg.attempts; once the queue's
 * max_retries are spent the message lands in the DLQ, whose consumer ends the job and errors the asset.
 */
import { createDb } from "../../db/client";
import { log } from "../../lib/log";
import { type DispatchFn, dispatch as defaultDispatch } from "../../transcoder/client";
import { type AudioDispatchFn, deadLetterAudioTrack, processAudioTrack } from "../tracks/audio";
import { deadLetterGeneratedTrack, generateTextTrack, type SpeechEngine } from "../tracks/generated";
import { deadLetterTextTrack, ingestTextTrack } from "../tracks/ingest";
import { copyClipSource, deadLetterClipSource } from "./clip-source";
import type { TranscodeQueueMessage } from "./create";
import { ingestUrl } from "./ingest-url";
import { errorAssetWithoutJob, failJob, findAsset, findJob, type JobRow } from "./lifecycle";
import { HEARTBEAT_STALE_MS } from "./reaper";
import { type ConsumerOutcome, startJob } from "./start";
import { backoffSeconds, systemContext } from "./system";

function parseMessage(body: unknown): TranscodeQueueMessage | null {
  if (!body || typeof body !== "object") return null;
  const m = body as Record<string, unknown>;
  if (m.kind === "transcode" && typeof m.job_id === "string") return { kind: "transcode", job_id: m.job_id };
  if (m.kind === "ingest_url" && typeof m.asset_id === "string") return { kind: "ingest_url", asset_id: m.asset_id };
  if (m.kind === "text_track" && typeof m.track_id === "string") return { kind: "text_track", track_id: m.track_id };
  if (m.kind === "clip_source" && typeof m.asset_id === "string") return { kind: "clip_source", asset_id: m.asset_id };
  if (m.kind === "audio_track" && typeof m.track_id === "string") return { kind: "audio_track", track_id: m.track_id };
  if (m.kind === "generated_track" && typeof m.track_id === "string") {
    return { kind: "generated_track", track_id: m.track_id };
  }
  return null;
}

export function transcodeConsumer(
  deps: { dispatch: DispatchFn; audioDispatch?: AudioDispatchFn; speech?: SpeechEngine } = {
    dispatch: defaultDispatch,
  },
) {
  return async (batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> => {
    // Messages are independent; handle them concurrently so one slow ingest does not hold the rest.
    await Promise.all(
      batch.messages.map(async (msg) => {
        const body = parseMessage(msg.body);
        if (!body) {
          log.error("transcode_message_malformed", { id: msg.id, body: msg.body });
          msg.ack();
          return;
        }
        let outcome: ConsumerOutcome;
        try {
          outcome =
            body.kind === "transcode"
              ? await startJob(env, body.job_id, {
                  waitUntil: (p) => ctx.waitUntil(p),
                  dispatch: deps.dispatch,
                  deliveryAttempt: msg.attempts,
                })
              : body.kind === "ingest_url"
                ? await ingestUrl(env, body.asset_id, {
                    waitUntil: (p) => ctx.waitUntil(p),
                    deliveryAttempt: msg.attempts,
                  })
                : body.kind === "audio_track"
                  ? await processAudioTrack(env, body.track_id, {
                      waitUntil: (p) => ctx.waitUntil(p),
                      deliveryAttempt: msg.attempts,
                      dispatch: deps.audioDispatch,
                    })
                  : body.kind === "generated_track"
                    ? await generateTextTrack(env, body.track_id, {
                        waitUntil: (p) => ctx.waitUntil(p),
                        speech: deps.speech,
                      })
                    : body.kind === "clip_source"
                      ? await copyClipSource(env, body.asset_id, {
                          waitUntil: (p) => ctx.waitUntil(p),
                          deliveryAttempt: msg.attempts,
                        })
                      : await ingestTextTrack(env, body.track_id, {
                          waitUntil: (p) => ctx.waitUntil(p),
                          deliveryAttempt: msg.attempts,
                        });
        } catch (err) {
          outcome = { action: "retry", delaySeconds: backoffSeconds(msg.attempts), reason: (err as Error).message };
          log.error("transcode_message_error", { id: msg.id, body, error: (err as Error).message });
        }
        if (outcome.action === "ack") msg.ack();
        else msg.retry({ delaySeconds: outcome.delaySeconds });
        log.info("transcode_message_done", { ...body, action: outcome.action, reason: outcome.reason });
      }),
    );
  };
}

/** Dead letters: the queue gave up on these messages. End the job and tell the truth on the asset. */
export async function transcodeDlqConsumer(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) {
  for (const msg of batch.messages) {
    const body = parseMessage(msg.body);
    try {
      if (body?.kind === "transcode") await deadLetterJob(env, ctx, body.job_id);
      else if (body?.kind === "ingest_url") await deadLetterIngest(env, ctx, body.asset_id);
      else if (body?.kind === "clip_source") await deadLetterClipSource(env, body.asset_id, (p) => ctx.waitUntil(p));
      else if (body?.kind === "audio_track") await deadLetterAudioTrack(env, body.track_id, (p) => ctx.waitUntil(p));
      else if (body?.kind === "text_track") await deadLetterTextTrack(env, body.track_id, (p) => ctx.waitUntil(p));
      else if (body?.kind === "generated_track") {
        await deadLetterGeneratedTrack(env, body.track_id, (p) => ctx.waitUntil(p));
      } else log.error("transcode_dlq_malformed", { id: msg.id, body: msg.body });
      msg.ack();
    } catch (err) {
      log.error("transcode_dlq_error", { id: msg.id, error: (err as Error).message });
      msg.retry({ delaySeconds: backoffSeconds(msg.attempts) });
    }
  }
}

function heartbeatFresh(job: JobRow): boolean {
  const last = job.lastHeartbeatAt ?? job.dispatchedAt;
  return !!last && Date.parse(last) > Date.now() - HEARTBEAT_STALE_MS;
}

async function deadLetterJob(env: Env, ctx: ExecutionContext, jobId: string) {
  const job = await findJob({ db: createDb(env.DB) }, jobId);
  if (!job || (job.status !== "queued" && job.status !== "running")) return;
  // A run that is alive and heart-beating is not ours to kill; the reaper watches it.
  if (job.status === "running" && heartbeatFresh(job)) return;
  const sctx = systemContext(env, job.environmentId, (p) => ctx.waitUntil(p));
  await failJob(sctx, job, {
    code: "internal_error",
    message: "Processing could not be started: retries exhausted (the transcoder was unavailable).",
  });
}

async function deadLetterIngest(env: Env, ctx: ExecutionContext, assetId: string) {
  const asset = await findAsset({ db: createDb(env.DB) }, assetId);
  if (asset?.status !== "waiting") return;
  const sctx = systemContext(env, asset.environmentId, (p) => ctx.waitUntil(p));
  await errorAssetWithoutJob(sctx, asset, {
    code: "input_fetch_failed",
    message: "The input URL could not be fetched: retries exhausted.",
  });
}
