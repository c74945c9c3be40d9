/**
 * API worker entry: HTTP (REST, uploads, docs, transcoder callbacks), queue consumers and the cron (both listed in
 * src/registry.ts).
 * Exports the Durable Object classes wrangler.toml binds.
 */
import { authMiddleware, createApp, jsonBodyLimit, onError, requestIdMiddleware } from "./app";
import { runSweeps } from "./cron";
import { registerDashboard } from "./dashboard";
import { cachedApiConfigProblems } from "./lib/config";
import { withRetryingDb } from "./lib/d1-retry";
import { problemResponse } from "./lib/errors";
import { routeQueue } from "./queues";
import { rateLimitMiddleware } from "./rate-limits/middleware";
import { queueConsumers, sweeps } from "./registry";
import { registerDocs, registerRoutes } from "./routes";

export { LiveStream } from "./live/live-stream";
export { TranscoderContainer } from "./transcoder/container";
export { UploadSession } from "./upload-session/upload-session";

export const app = createApp();

app.use("*", requestIdMiddleware);
// A deployed worker with development leftovers takes no work (src/lib/config.ts); /v1/health says why.
app.use("/v1/*", async (c, next) => {
  if (c.req.path === "/v1/health" || c.req.path === "/v1/openapi.json") return next();
  const problems = cachedApiConfigProblems(c.env);
  if (problems.length === 0) return next();
  return problemResponse(
    "service_unavailable",
    `This Keyframe deployment is misconfigured and takes no work until it is fixed: ${problems.join("; ")}.`,
    c.get("requestId"),
  );
});
app.use("/v1/*", async (c, next) => {
  // Health and the spec are public; everything else under /v1 needs a key.
  if (c.req.path === "/v1/health" || c.req.path === "/v1/openapi.json") return next();
  return authMiddleware(c, next);
});
// Budgets per key and per environment (src/rate-limits), after authentication and before any work.
app.use("/v1/*", rateLimitMiddleware);
app.use("/v1/*", async (c, next) => {
  if (c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "DELETE") return next();
  return jsonBodyLimit(c, next);
});
// Idempotency-Key handling is route middleware after each scope check: see scoped() in app.ts.
registerRoutes(app);
registerDocs(app);
registerDashboard(app);
app.get("/", (c) => c.redirect("/docs"));
app.notFound((c) => problemResponse("not_found", `No route for ${c.req.method} ${c.req.path}.`, c.get("requestId")));
app.onError(onError);

// Every handler sees a DB that retries transient D1 failures (src/lib/d1-retry.ts).
export default {
  fetch: (request, env, ctx) => app.fetch(request, withRetryingDb(env), ctx),
  queue: (batch, env, ctx) => routeQueue(queueConsumers, batch, withRetryingDb(env), ctx),
  scheduled: (_controller, env, ctx) => runSweeps(sweeps, withRetryingDb(env), ctx),
} satisfies ExportedHandler<Env>;
