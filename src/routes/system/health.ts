import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../app";
import { cachedApiConfigProblems, KEYFRAME_ENVS } from "../../lib/config";

const HealthSchema = z
  .object({
    ok: z.boolean(),
    database: z.enum(["ok", "unavailable"]),
    config: z.object({
      env: z.string().openapi({ description: `KEYFRAME_ENV: one of ${KEYFRAME_ENVS.join(", ")}` }),
      ok: z.boolean(),
      problems: z.array(z.string()).openapi({
        description: "Why this deployment takes no work (development leftovers, missing secrets); empty when ok",
      }),
    }),
    time: z.string(),
  })
  .openapi("Health");

export const route = createRoute({
  method: "get",
  path: "/v1/health",
  tags: ["System"],
  summary: "Liveness, database reachability and deployment configuration (no auth)",
  responses: {
    200: { description: "Healthy", content: { "application/json": { schema: HealthSchema } } },
    503: {
      description: "Database unreachable, or the deployment is misconfigured (see config.problems)",
      content: { "application/json": { schema: HealthSchema } },
    },
  },
});

export function registerHealth(app: App) {
  app.openapi(route, async (c) => {
    let database: "ok" | "unavailable" = "ok";
    try {
      await c.env.DB.prepare("select 1").first();
    } catch {
      database = "unavailable";
    }
    const problems = cachedApiConfigProblems(c.env);
    const config = { env: c.env.KEYFRAME_ENV ?? "", ok: problems.length === 0, problems };
    const ok = database === "ok" && config.ok;
    const body = { ok, database, config, time: new Date().toISOString() };
    return ok ? c.json(body, 200) : c.json(body, 503);
  });
}
