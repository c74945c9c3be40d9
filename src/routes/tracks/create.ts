import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { SUBTITLE_LIMITS } from "../../lib/webvtt";

/** The ladder's audio bitrate (transcoder/src/ffmpeg/ladder.ts AUDIO_BITRATE), as documented. */
const AUDIO_BITRATE_LABEL = "128 kb/s";

import { AssetIdSchema } from "../../services/assets/schemas";
import { CreateTrackSchema, TrackSchema } from "../../services/tracks/schemas";
import { createTrack } from "../../services/tracks/verbs";

export const route = createRoute({
  method: "post",
  path: "/v1/assets/{asset_id}/tracks",
  tags: ["Tracks"],
  summary: "Add a subtitles, captions or dubbed audio track",
  description: `**Text** (\`type: "text"\`): an SRT or WebVTT file, by \`url\` (fetched by the API: the track is \`preparing\`, then \`track.ready\` or \`track.errored\`) or inline as \`content\` (stored at once, \`ready\` in the response; a bad file is a 400 naming the cue and line). Files are normalised to UTF-8 WebVTT (UTF-8 or UTF-16 with BOM accepted), at most ${SUBTITLE_LIMITS.maxBytes} bytes and ${SUBTITLE_LIMITS.maxCues} cues, ${SUBTITLE_LIMITS.maxCueChars} characters per cue. Ready tracks appear in the HLS master playlist as a SUBTITLES group and at \`/{playback_id}/text/{track_id}.vtt\`.

**Audio** (\`type: "audio"\`): a dubbed audio track for a \`ready\` asset with video (else 409 \`invalid_state\`). The file at \`url\` is fetched under the same policy as asset inputs (every redirect checked); its first audio stream is encoded like the asset's own audio (AAC-LC stereo, ${AUDIO_BITRATE_LABEL}, HLS segments of the asset's length) from t=0, cut or padded with silence to the asset's duration. The track is \`preparing\` (\`track.created\`), then \`ready\` (\`track.ready\`, with \`duration\`) or \`errored\` (\`track.errored\`: \`audio_url_forbidden\`, \`audio_fetch_failed\`, \`audio_too_large\`, \`audio_no_stream\`, \`audio_unreadable\`, \`internal_error\`). Ready tracks join the master playlist's AUDIO group (\`NAME\`, \`LANGUAGE\`, \`DEFAULT\`); deleting one removes it within 30 seconds.`,
  ...scoped("assets:write"),
  request: {
    params: z.object({ asset_id: AssetIdSchema }),
    body: { content: { "application/json": { schema: CreateTrackSchema } }, required: true },
  },
  responses: {
    201: { description: "The new track", content: { "application/json": { schema: TrackSchema } } },
    ...errorResponses,
  },
});

export function registerCreateTrack(app: App) {
  app.openapi(route, async (c) => {
    const track = await createTrack({
      ctx: c.var.ctx,
      input: { assetId: c.req.valid("param").asset_id, body: c.req.valid("json") },
    });
    return c.json(track, 201);
  });
}
