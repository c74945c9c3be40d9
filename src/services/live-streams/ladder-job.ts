/**
 * The live ladder's transcoder job, one per session of a stream with `renditions`: started with the session
 * (the transcoder pulls the live HLS from the edge, like a viewer, and PUTs each rendition segment back to
 * `routes/internal/live-ladder.ts`), stopped when it ends. Neither call ever throws: the broadcast and its
 * source rendition go on whatever the ladder does.
 */
import { type LiveLadderStart, type LiveRendition, sortRenditions } from "../../lib/live-ladder-protocol";
import { log } from "../../lib/log";
import type { SessionJobInput } from "./session-jobs";
import { callTranscoder } from "./simulcast";

export const LIVE_LADDER_PATH = "/live-ladder";

export async function startLiveLadder({ ctx, stream, sessionId, source }: SessionJobInput) {
  const renditions = sortRenditions((stream.renditions ?? []) as LiveRendition[]);
  if (renditions.length === 0) return;
  try {
    const sourceUrl = await source();
    if (!sourceUrl) {
      log.warn("live_ladder.no_playback_id", { live_stream_id: stream.id });
      return;
    }
    const job: LiveLadderStart = {
      live_stream_id: stream.id,
      session_id: sessionId,
      source_url: sourceUrl,
      api_url: ctx.env.API_PUBLIC_URL.replace(/\/$/, ""),
      renditions,
    };
    const res = await callTranscoder(ctx.env, "POST", LIVE_LADDER_PATH, JSON.stringify(job));
    if (res.status !== 202) throw new Error(`transcoder answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    await res.body?.cancel();
  } catch (err) {
    log.error("live_ladder.start_failed", { live_stream_id: stream.id, error: (err as Error).message });
  }
}

export async function stopLiveLadder(env: Env, streamId: string, renditions: readonly string[]) {
  if (renditions.length === 0) return;
  try {
    const res = await callTranscoder(env, "DELETE", `${LIVE_LADDER_PATH}/${streamId}`, "");
    await res.body?.cancel();
  } catch (err) {
    log.error("live_ladder.stop_failed", { live_stream_id: streamId, error: (err as Error).message });
  }
}
