import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { idPattern } from "../../lib/ids";
import { ListQuerySchema } from "../../lib/pagination";
import { EventSchema, EventTypeFilterSchema } from "../../services/events/envelope";
import { listEvents } from "../../services/events/read";

export const route = createRoute({
  method: "get",
  path: "/v1/events",
  tags: ["Events"],
  summary: "Poll the event log",
  description:
    "In commit order, strictly after the event `after` (an event ID you received; unknown IDs are refused with invalid_cursor). The polling fallback for webhooks: store `next_after` and pass it as `after` next time. `type` filters by an exact type or a prefix like `asset.*`.",
  ...scoped("events:read"),
  request: {
    query: z.object({
      after: z
        .string()
        .regex(idPattern("event"), "must be an event ID (evt_…)")
        .optional()
        .openapi({ param: { name: "after", in: "query" } }),
      type: EventTypeFilterSchema.optional().openapi({ param: { name: "type", in: "query" } }),
      limit: ListQuerySchema.shape.limit,
    }),
  },
  responses: {
    200: {
      description: "A page of events",
      content: {
        "application/json": {
          schema: z
            .object({
              data: z.array(EventSchema),
              next_cursor: z.string().nullable().openapi({ description: "Set when more events are waiting now." }),
              next_after: z.string().nullable().openapi({ description: "Pass as `after` on the next poll." }),
            })
            .openapi("EventList"),
        },
      },
    },
    ...errorResponses,
  },
});

export function registerListEvents(app: App) {
  app.openapi(route, async (c) => c.json(await listEvents({ ctx: c.var.ctx, input: c.req.valid("query") }), 200));
}
