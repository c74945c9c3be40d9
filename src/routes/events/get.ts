import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { idPattern } from "../../lib/ids";
import { EventSchema } from "../../services/events/envelope";
import { getEvent } from "../../services/events/read";

export const route = createRoute({
  method: "get",
  path: "/v1/events/{event_id}",
  tags: ["Events"],
  summary: "Retrieve an event",
  ...scoped("events:read"),
  request: {
    params: z.object({
      event_id: z
        .string()
        .regex(idPattern("event"), "must be an event ID (evt_…)")
        .openapi({ param: { name: "event_id", in: "path" } }),
    }),
  },
  responses: {
    200: { description: "The event", content: { "application/json": { schema: EventSchema } } },
    ...errorResponses,
  },
});

export function registerGetEvent(app: App) {
  app.openapi(route, async (c) =>
    c.json(await getEvent({ ctx: c.var.ctx, input: { eventId: c.req.valid("param").event_id } }), 200),
  );
}
