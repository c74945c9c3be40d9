/** Where a dubbed audio track's HLS files live: `{run prefix}{track_id}/…` of the run it was rendered for. */
import type { AudioTrackDetails } from "../../db/schema";
import { audioTrackDir } from "../../lib/audio-tracks";
import { runPrefix } from "../jobs/callbacks/authorize";
import type { TrackRow } from "./serialize";

export function audioTrackPrefix(assetId: string, runId: string, trackId: string): string {
  return `${runPrefix(assetId, runId)}${audioTrackDir(trackId)}/`;
}

/** Removes every file of the track (a deleted track, or outputs that landed after it was deleted). */
export async function deleteAudioTrackFiles(
  env: Pick<Env, "MEDIA">,
  row: Pick<TrackRow, "id" | "assetId" | "details">,
): Promise<void> {
  const runId = (row.details as AudioTrackDetails | null)?.run_id;
  if (!runId) return;
  const prefix = audioTrackPrefix(row.assetId, runId, row.id);
  let cursor: string | undefined;
  do {
    const page = await env.MEDIA.list({ prefix, cursor });
    if (page.objects.length > 0) await env.MEDIA.delete(page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}
