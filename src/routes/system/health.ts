import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../app";

const HealthSchema = z
  .object({ ok: z.boolean(), database: z.enum(["ok", "unavailable"]), time: z.string() })
  .openapi("Health");

export const route = createRoute({
  method: "get",
  path: "/v1/health",
  tags: ["System"],
  summary: "Liveness and database reachability (no auth)",
  responses: {
    200: { description: "Healthy", content: { "application/json": { schema: HealthSchema } } },
    503: { description: "Database unreachable", content: { "application/json": { schema: HealthSchema } } },
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
    const body = { ok: database === "ok", database, time: new Date().toISOString() };
    return database === "ok" ? c.json(body, 200) : c.json(body, 503);
  });
}
