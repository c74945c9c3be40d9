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
    download: z
      .string()
      .nullable()
      .optional()
      .openapi({
        description:
          "Progressive download (attachment) of the asset's static rendition; null until it is ready. Only on " +
          "asset views. Signed playback IDs need a token with aud `d`.",
      }),
  })
  .openapi("PlaybackUrls", { description: "Edge URLs; for `signed` playback IDs append `?token=`." });
export type PlaybackUrls = z.infer<typeof PlaybackUrlsSchema>;

/** `/{playback_id}/downloads/{file}`: the edge path of a static rendition (highest.mp4, audio.m4a). */
export function downloadPath(playbackId: string, file: string): string {
  return `/${playbackId}/downloads/${file}`;
}

/** `download` (a static rendition's file name) adds the download URL; asset views pass it once ready. */
export function playbackUrls(
  env: Pick<Env, "EDGE_PUBLIC_URL">,
  playbackId: string,
  download?: { file: string | null },
): PlaybackUrls {
  const base = env.EDGE_PUBLIC_URL.replace(/\/$/, "");
  const urls: PlaybackUrls = {
    hls: `${base}/${playbackId}.m3u8`,
    thumbnail: `${base}/${playbackId}/thumbnail.jpg`,
    storyboard: `${base}/${playbackId}/storyboard.vtt`,
    embed: `${base}/embed/${playbackId}`,
  };
  if (download) urls.download = download.file ? `${base}${downloadPath(playbackId, download.file)}` : null;
  return urls;
}
