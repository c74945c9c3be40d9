/**
 * The RTMP relay's key check: may this stream key go on air? The same refusals as HTTP ingest (unknown,
 * rotated or deleted key → unauthenticated; disabled stream → forbidden), answered before the relay accepts
 * a single media byte. The Durable Object checks the key again on every segment, so a key rotated or a
 * stream disabled after this answer still stops the broadcast there.
 */
import { eq } from "drizzle-orm";
import { schema } from "../../db/client";
import { KeyframeError } from "../../lib/errors";
import { sha256Hex } from "../../lib/ids";
import type { RelayAuthReply } from "../../lib/relay-auth";
import { systemContext } from "../jobs/system";
import { ingestUrl } from "./load";
import { TARGET_DURATION_S } from "./schemas";

const KEY_RE = /^[A-Za-z0-9_-]{20,100}$/;

export async function authorizeRelayPublish(env: Env, streamKey: string): Promise<RelayAuthReply> {
  if (!KEY_RE.test(streamKey)) throw new KeyframeError("unauthenticated", "Unknown stream key.");
  const ctx = systemContext(env, "", () => {});
  const row = await ctx.db.query.liveStreams.findFirst({
    columns: { id: true, status: true, latencyMode: true, deletedAt: true },
    where: eq(schema.liveStreams.streamKeyHash, await sha256Hex(streamKey)),
  });
  if (!row || row.deletedAt !== null) throw new KeyframeError("unauthenticated", "Unknown stream key.");
  if (row.status === "disabled") throw new KeyframeError("forbidden", "This live stream is disabled.");
  return {
    live_stream_id: row.id,
    hls_url: ingestUrl(env, streamKey),
    segment_duration: TARGET_DURATION_S[row.latencyMode],
  };
}
