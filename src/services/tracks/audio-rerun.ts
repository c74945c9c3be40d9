/**
 * Dubbed audio tracks across runs. A track's files live in the run it was rendered for, the edge lists only
 * tracks of the asset's current run, and a completed run collects the older runs' folders. So a new run of
 * the pipeline (a reprocess, a live recording's ladder replacing its broadcast segments) would silently drop
 * every dub. When a run completes, each ready or preparing dub rendered for another run goes back to
 * `preparing` for this run and is queued again: the transcoder renders it against the new ladder and
 * `track.ready` follows as for a new track. Idempotent: a repeated `complete` finds them on this run already.
 */
import { and, eq, inArray, isNull } from "drizzle-orm";
import { schema } from "../../db/client";
import type { AudioTrackDetails } from "../../db/schema";
import { log } from "../../lib/log";
import { nowIso } from "../../lib/time";
import type { ServiceContext } from "../context";

export async function rerenderAudioTracksForRun(ctx: ServiceContext, assetId: string, runId: string): Promise<number> {
  const t = schema.assetTracks;
  const rows = await ctx.db.query.assetTracks.findMany({
    where: and(
      eq(t.assetId, assetId),
      eq(t.type, "audio"),
      inArray(t.status, ["ready", "preparing"]),
      isNull(t.deletedAt),
    ),
  });
  let queued = 0;
  for (const row of rows) {
    const details = (row.details ?? {}) as Partial<AudioTrackDetails>;
    if (details.run_id === runId) continue;
    const at = nowIso();
    await ctx.db
      .update(t)
      .set({
        status: "preparing",
        details: { run_id: runId, dispatches: 0 } as AudioTrackDetails,
        readyAt: null,
        error: null,
        updatedAt: at,
      })
      .where(and(eq(t.id, row.id), eq(t.status, row.status), isNull(t.deletedAt)));
    await ctx.env.TRANSCODE_QUEUE.send({ kind: "audio_track", track_id: row.id });
    queued++;
  }
  if (queued > 0) log.info("audio_tracks_rerendered", { asset_id: assetId, run_id: runId, tracks: queued });
  return queued;
}
