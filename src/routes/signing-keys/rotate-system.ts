import { createRoute } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { RotateSystemKeySchema, SystemKeyRotationSchema } from "../../services/signing-keys/schemas";
import { rotateSystemSigningKey } from "../../services/signing-keys/verbs";

export const route = createRoute({
  method: "post",
  path: "/v1/signing-keys/system/rotate",
  tags: ["Signing keys"],
  summary: "Rotate (and optionally revoke) the system signing key",
  description:
    "Makes a new system key: the one `POST /v1/playback-ids/{playback_id}/tokens` signs with. With " +
    "`revoke_previous: true` every earlier system key is revoked too, and tokens they signed are refused at the " +
    "edge within 60 seconds (use this if minted tokens leaked). Only the public half is returned.",
  ...scoped("playback:write"),
  request: {
    body: { content: { "application/json": { schema: RotateSystemKeySchema } }, required: false },
  },
  responses: {
    200: { description: "The new system key", content: { "application/json": { schema: SystemKeyRotationSchema } } },
    ...errorResponses,
  },
});

export function registerRotateSystemSigningKey(app: App) {
  app.openapi(route, async (c) => {
    const body = c.req.valid("json") ?? { revoke_previous: false };
    return c.json(await rotateSystemSigningKey({ ctx: c.var.ctx, input: body }), 200);
  });
}
