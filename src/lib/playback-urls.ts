/**
 * The viewer-facing URLs of a playback ID on the edge worker, returned with every playback ID so apps
 * never assemble them by hand. Signed playback IDs need `?token=` appended (see POST
 * /v1/playback-ids/{id}/tokens, which returns ready-made URLs).
 */
import { z } from "@hono/zod-openapi";

export const PlaybackUrlsSchema = z
  .object({
    hls: z.string(),
    thumbnail: z.string(),
    storyboard: z.string(),
    embed: z.string(),
  })
  .openapi("PlaybackUrls", { description: "Edge URLs; for `signed` playback IDs append `?token=`." });
export type PlaybackUrls = z.infer<typeof PlaybackUrlsSchema>;

export function playbackUrls(env: Pick<Env, "EDGE_PUBLIC_URL">, playbackId: string): PlaybackUrls {
  const base = env.EDGE_PUBLIC_URL.replace(/\/$/, "");
  return {
    hls: `${base}/${playbackId}.m3u8`,
    thumbnail: `${base}/${playbackId}/thumbnail.jpg`,
    storyboard: `${base}/${playbackId}/storyboard.vtt`,
    embed: `${base}/embed/${playbackId}`,
  };
}
