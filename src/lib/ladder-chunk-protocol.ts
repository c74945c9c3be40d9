/**
 * The segment-parallel ladder's remote chunks (issue 14, goal 5), shared by the API and the transcoder.
 *
 * A job's coordinating transcoder POSTs a LadderChunkRequest to
 * `POST /internal/jobs/{job_id}/ladder-chunks/{index}` with its job token; the API checks it and forwards
 * it, with the job's id, token and API URL added (LadderChunkDispatch), to `POST /ladder-chunks` on a
 * transcoder instance of its own (the container named `chunk:{job_id}:{index}`). That instance reads the
 * source by HTTP (ranged), encodes the chunk's video rungs, shifts the segments onto the whole timeline,
 * PUTs them to the job's outputs under their global names (`{rung}/seg_NNNNN.m4s`: a retried chunk
 * overwrites the same keys) and answers a LadderChunkResult: each rung's init and its segments. The
 * answer goes back through the API unchanged.
 */
import { z } from "zod";

const RationalSchema = z.object({ num: z.number().int().positive(), den: z.number().int().positive() });

/** ../../transcoder/src/ladder-chunks/plan.ts `Chunk`, on the wire. */
export const LadderChunkPlanSchema = z.object({
  index: z.number().int().min(0),
  start_frame: z.number().int().min(0),
  /** Absent for the last chunk (to the end of the source). */
  frames: z.number().int().positive().optional(),
  start_seconds: z.number().min(0),
  seconds: z.number().min(0),
  first_segment: z.number().int().min(0),
  segments: z.number().int().positive().optional(),
});

export const LadderChunkRungSchema = z.object({
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/),
  size: z.number().int().positive(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  maxrate_kbps: z.number().int().positive(),
  bufsize_kbps: z.number().int().positive(),
});

/** The ladder options a chunk needs (no watermark: a watermarked job encodes its chunks locally). */
export const LadderChunkVideoSchema = z.object({
  stream_index: z.number().int().min(0),
  rungs: z.array(LadderChunkRungSchema).min(1).max(8),
  frame_rate: RationalSchema,
  deinterlace: z.boolean(),
  duration_seconds: z.number().positive().optional(),
});

/** Coordinator → API. */
export const LadderChunkRequestSchema = z
  .object({
    attempt: z.number().int().positive(),
    chunk: LadderChunkPlanSchema,
    video: LadderChunkVideoSchema,
  })
  .strict();
export type LadderChunkRequest = z.infer<typeof LadderChunkRequestSchema>;

/** API → chunk transcoder: the request plus what the instance needs to call the API for this job. */
export const LadderChunkDispatchSchema = LadderChunkRequestSchema.extend({
  job_id: z.string().startsWith("job_"),
  api_url: z.string().url(),
  token: z.string().min(20),
}).strict();
export type LadderChunkDispatch = z.infer<typeof LadderChunkDispatchSchema>;

/** Chunk transcoder → API → coordinator. */
export const LadderChunkResultSchema = z.object({
  renditions: z.array(
    z.object({
      name: z.string(),
      /** The chunk's init.mp4 for this rung (base64): the coordinator checks it against chunk 0's. */
      init: z.string(),
      segments: z.array(
        z.object({
          number: z.number().int().min(0),
          duration: z.number().positive(),
          bytes: z.number().int().min(0),
        }),
      ),
    }),
  ),
  /** The instance's own timings, for the coordinator's log and the bench. */
  encode_ms: z.number().int().min(0).optional(),
  upload_ms: z.number().int().min(0).optional(),
});
export type LadderChunkResult = z.infer<typeof LadderChunkResultSchema>;

/** Where the API forwards a chunk (src/transcoder/client.ts) and the transcoder serves it. */
export const LADDER_CHUNK_PATH = "/ladder-chunks";

/** The container instance that encodes one chunk: one per chunk, so chunks of a job run on separate instances. */
export function ladderChunkInstance(jobId: string, index: number): string {
  return `chunk:${jobId}:${index}`;
}
