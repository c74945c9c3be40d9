import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped, withRefusedReplayNote } from "../../app";
import { errorResponses } from "../../lib/errors";
import { PlaybackIdParamSchema } from "../../services/playback-ids/schemas";
import { MintTokensSchema, PlaybackTokensSchema } from "../../services/signing-keys/schemas";
import { mintPlaybackTokens } from "../../services/signing-keys/verbs";

export const route = createRoute({
  method: "post",
  path: "/v1/playback-ids/{playback_id}/tokens",
  tags: ["Signing keys"],
  summary: "Mint playback tokens",
  description: withRefusedReplayNote(
    "Signs the whole set of playback tokens (video, thumbnail, storyboard) for one playback ID with this " +
      "environment's system signing key, for apps that prefer the server to sign. Returns ready-to-use edge URLs.",
  ),
  ...scoped("playback:write", { replay: "refuse" }),
  request: {
    params: z.object({ playback_id: PlaybackIdParamSchema }),
    body: { content: { "application/json": { schema: MintTokensSchema } }, required: false },
  },
  responses: {
    200: { description: "The tokens", content: { "application/json": { schema: PlaybackTokensSchema } } },
    ...errorResponses,
  },
});

export function registerMintPlaybackTokens(app: App) {
  app.openapi(route, async (c) => {
    const body = (c.req.valid("json") as z.infer<typeof MintTokensSchema> | undefined) ?? { expires_in: 3600 };
    const tokens = await mintPlaybackTokens({
      ctx: c.var.ctx,
      input: { playbackId: c.req.valid("param").playback_id, body },
    });
    return c.json(tokens, 200);
  });
}
