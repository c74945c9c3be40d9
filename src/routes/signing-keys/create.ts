import { createRoute } from "@hono/zod-openapi";
import { type App, scoped, withRefusedReplayNote } from "../../app";
import { errorResponses } from "../../lib/errors";
import { CreatedSigningKeySchema } from "../../services/signing-keys/schemas";
import { createSigningKey } from "../../services/signing-keys/verbs";

export const route = createRoute({
  method: "post",
  path: "/v1/signing-keys",
  tags: ["Signing keys"],
  summary: "Create a signing key",
  description: withRefusedReplayNote(
    "Generates an ES256 key pair for signing playback tokens in your own backend. The private key is returned " +
      "once (PKCS#8 PEM and JWK); Keyframe stores only the public key. Sign JWTs with header `kid` = the key's id " +
      "and claims `sub` (playback ID), `aud` (`v`, `t`, `s` or `d`) and `exp` (at most 7 days ahead).",
  ),
  ...scoped("playback:write", { replay: "refuse" }),
  responses: {
    201: {
      description: "The new key, with its private half (shown once)",
      content: { "application/json": { schema: CreatedSigningKeySchema } },
    },
    ...errorResponses,
  },
});

export function registerCreateSigningKey(app: App) {
  app.openapi(route, async (c) => c.json(await createSigningKey({ ctx: c.var.ctx, input: {} }), 201));
}
