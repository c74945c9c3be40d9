/**
 * API worker entry: HTTP (REST, uploads, docs, transcoder callbacks), queue consumers and the cron.
 * Exports the Durable Object classes wrangler.toml binds.
 */
import { authMiddleware, createApp, jsonBodyLimit, onError, requestIdMiddleware } from "./app";
import { scheduled } from "./cron";
import { withRetryingDb } from "./lib/d1-retry";
import { problemResponse } from "./lib/errors";
import { queue } from "./queues";
import { registerDocs, registerRoutes } from "./routes";
import "./wiring";

export { LiveStream } from "./live/live-stream";
export { TranscoderContainer } from "./transcoder/container";
export { UploadSession } from "./uploads/upload-session";

export const app = createApp();

app.use("*", requestIdMiddleware);
app.use("/v1/*", async (c, next) => {
  // Health and the spec are public; everything else under /v1 needs a key.
  if (c.req.path === "/v1/health" || c.req.path === "/v1/openapi.json") return next();
  return authMiddleware(c, next);
});
app.use("/v1/*", async (c, next) => {
  if (c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "DELETE") return next();
  return jsonBodyLimit(c, next);
});
// Idempotency-Key handling is route middleware after each scope check: see scoped() in app.ts.
registerRoutes(app);
registerDocs(app);
app.get("/", (c) => c.redirect("/docs"));
app.notFound((c) => problemResponse("not_found", `No route for ${c.req.method} ${c.req.path}.`, c.get("requestId")));
app.onError(onError);

// Every handler sees a DB that retries transient D1 failures (src/lib/d1-retry.ts).
export default {
  fetch: (request, env, ctx) => app.fetch(request, withRetryingDb(env), ctx),
  queue: (batch, env, ctx) => queue(batch, withRetryingDb(env), ctx),
  scheduled: (controller, env, ctx) => scheduled(controller, withRetryingDb(env), ctx),
} satisfies ExportedHandler<Env>;
