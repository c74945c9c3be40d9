/**
 * Job creation: one processing run of an asset. The job row, the asset's move to `queued` and the
 * events are one write; the queue message only carries the job ID, so a redelivered message is
 * harmless (the consumer reads the job's current state).
 */
import { schema } from "../../db/client";
import { newId } from "../../lib/ids";
import type { JobSettings } from "../../lib/transcoder-protocol";
import type { ServiceContext } from "../context";
import type { Statement } from "../events/record";

export interface TranscodeMessage {
  kind: "transcode";
  job_id: string;
}

export interface IngestUrlMessage {
  kind: "ingest_url";
  asset_id: string;
}

/** Fetch and normalise a text track's file (src/services/tracks/ingest.ts). */
export interface TextTrackMessage {
  kind: "text_track";
  track_id: string;
}

/** Copy a clip asset's original from the asset it was cut from (src/pipeline/clip-source.ts). */
export interface ClipSourceMessage {
  kind: "clip_source";
  asset_id: string;
}

/** Hand a dubbed audio track to the transcoder, then watch it (src/services/tracks/audio.ts). */
export interface AudioTrackMessage {
  kind: "audio_track";
  track_id: string;
}

/** Transcribe a ready asset's audio into a generated text track (src/services/tracks/generated.ts). */
export interface GeneratedTrackMessage {
  kind: "generated_track";
  track_id: string;
}

export type TranscodeQueueMessage =
  | TranscodeMessage
  | IngestUrlMessage
  | TextTrackMessage
  | ClipSourceMessage
  | AudioTrackMessage
  | GeneratedTrackMessage;

export function newJobStatement(
  ctx: ServiceContext,
  input: { assetId: string; settings: JobSettings; correlationId?: string | null },
): { jobId: string; statement: Statement } {
  const jobId = newId("job");
  return {
    jobId,
    statement: ctx.db.insert(schema.jobs).values({
      id: jobId,
      environmentId: ctx.caller.environmentId,
      assetId: input.assetId,
      status: "queued",
      settings: input.settings,
      correlationId: input.correlationId ?? null,
    }),
  };
}

export async function enqueueJob(env: Env, jobId: string, delaySeconds = 0): Promise<void> {
  const body: TranscodeMessage = { kind: "transcode", job_id: jobId };
  await env.TRANSCODE_QUEUE.send(body, delaySeconds > 0 ? { delaySeconds } : undefined);
}
