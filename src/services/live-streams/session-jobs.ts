/**
 * The transcoder jobs a live session starts with: simulcast to each target (./simulcast.ts) and the live
 * ladder (./ladder-job.ts). Both read the stream and pull the same live HLS, so it is read once here and the
 * source URL (a signed one mints a token) is made at most once. Never throws: the broadcast goes on whatever
 * its jobs do.
 */
import { eq } from "drizzle-orm";
import { schema } from "../../db/client";
import { log } from "../../lib/log";
import type { ServiceContext } from "../context";
import { systemContext } from "../jobs/system";
import { startLiveLadder } from "./ladder-job";
import type { LiveStreamRow } from "./load";
import { sourceUrl, startSimulcast } from "./simulcast";

/** What each session job gets. `source()` is the live playlist the transcoder pulls, made on first use. */
export interface SessionJobInput {
  ctx: ServiceContext;
  stream: LiveStreamRow;
  sessionId: string;
  source: () => Promise<string | null>;
}

export async function startSessionJobs(
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  streamId: string,
  environmentId: string,
  sessionId: string,
): Promise<void> {
  const ctx = systemContext(env, environmentId, waitUntil);
  try {
    const stream = await ctx.db.query.liveStreams.findFirst({ where: eq(schema.liveStreams.id, streamId) });
    if (!stream) return;
    let made: Promise<string | null> | undefined;
    const source = () => {
      made ??= sourceUrl(ctx, stream);
      return made;
    };
    const input: SessionJobInput = { ctx, stream, sessionId, source };
    await Promise.all([startSimulcast(input), startLiveLadder(input)]);
  } catch (err) {
    log.error("live_session_jobs.start_failed", { live_stream_id: streamId, error: (err as Error).message });
  }
}
