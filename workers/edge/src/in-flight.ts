/**
 * A segment its playlist lists but R2 does not hold yet. The transcoder's fast path publishes a complete
 * VOD playlist once its first segments are stored and the rest are arriving far faster than real time,
 * so a player that reads ahead can ask for a segment a moment before it lands. The request is held,
 * polling R2, for at most IN_FLIGHT_WAIT_MS — and only for a file the rendition's playlist lists, so
 * a request for anything else is still a plain 404.
 */

export const IN_FLIGHT_WAIT_MS = 10_000;
const SEGMENT_FILE_RE = /^seg_\d{5}\.m4s$/;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `key` exists and answers with `serve()`; null when it is not listed or never arrives. */
export async function serveWhenStored(
  bucket: R2Bucket,
  key: string,
  playlistKey: string,
  file: string,
  serve: () => Promise<Response | null>,
  waitMs = IN_FLIGHT_WAIT_MS,
): Promise<Response | null> {
  if (!SEGMENT_FILE_RE.test(file)) return null;
  const playlist = await bucket.get(playlistKey);
  if (!playlist) return null;
  const listed = (await playlist.text()).split("\n").some((line) => line.trim() === file);
  if (!listed) return null;
  const deadline = Date.now() + waitMs;
  for (let delay = 20; Date.now() < deadline; delay = Math.min(delay * 2, 250)) {
    await sleep(delay);
    if (await bucket.head(key)) return serve();
  }
  return null;
}
