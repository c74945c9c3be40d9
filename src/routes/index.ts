/** Mounts every operation and the OpenAPI document. One `register…` per operation file. */
import scalarBundle from "@scalar/api-reference/browser/standalone.js";
import { Scalar } from "@scalar/hono-api-reference";
import type { App } from "../app";
import { finalizeOpenApiDocument, LICENSE } from "../lib/openapi-document";
import { registerAssetRoutes } from "./assets";
import { registerAuditLogRoutes } from "./audit-log";
import { registerEventRoutes } from "./events";
import { registerInternalRoutes } from "./internal";
import { registerKeyRoutes } from "./keys";
import { registerLiveIngestRoutes } from "./live-ingest";
import { registerLiveStreamRoutes } from "./live-streams";
import { registerPlaybackIdRoutes } from "./playback-ids";
import { registerSigningKeyRoutes } from "./signing-keys";
import { registerHealth } from "./system/health";
import { registerTrackRoutes } from "./tracks";
import { registerTusRoutes } from "./tus";
import { registerUploadByteRoutes } from "./upload-bytes";
import { registerUploadRoutes } from "./uploads";
import { registerWebhookRoutes } from "./webhooks";

export const API_VERSION = "2026-11-01";
export const SCALAR_BUNDLE_PATH = "/docs/scalar.js";

export function registerRoutes(app: App) {
  registerHealth(app);
  registerAssetRoutes(app);
  registerPlaybackIdRoutes(app);
  registerTrackRoutes(app);
  registerUploadRoutes(app);
  registerKeyRoutes(app);
  registerSigningKeyRoutes(app);
  registerWebhookRoutes(app);
  registerEventRoutes(app);
  registerAuditLogRoutes(app);
  registerLiveStreamRoutes(app);
  // Not under /v1 and not authenticated by API key: these carry their own tokens.
  registerUploadByteRoutes(app);
  registerTusRoutes(app);
  registerInternalRoutes(app);
  registerLiveIngestRoutes(app);
}

export function registerDocs(app: App) {
  app.openAPIRegistry.registerComponent("securitySchemes", "ApiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key secret, `kf_…`. Each operation names the scope it needs.",
  });
  // Not app.doc31: the document goes through finalizeOpenApiDocument (operationIds, public `security: []`).
  app.get("/v1/openapi.json", (c) =>
    c.json(
      finalizeOpenApiDocument(
        app.getOpenAPI31Document({
          openapi: "3.1.0",
          info: {
            title: "Keyframe API",
            version: API_VERSION,
            description: "Upload, process, publish, secure and monitor video on your own Cloudflare account.",
            license: LICENSE,
          },
          servers: [{ url: new URL(c.req.url).origin, description: "This deployment" }],
        }),
      ),
    ),
  );
  // Everything /docs needs comes from this worker: the bundle below instead of Scalar's CDN default, and
  // the system font stack instead of Scalar's hosted fonts, so the docs render offline and on a private network.
  app.get(
    "/docs",
    Scalar({ url: "/v1/openapi.json", pageTitle: "Keyframe API", cdn: SCALAR_BUNDLE_PATH, withDefaultFonts: false }),
  );
  app.get(SCALAR_BUNDLE_PATH, (c) => {
    c.header("content-type", "text/javascript; charset=utf-8");
    c.header("cache-control", "public, max-age=3600");
    return c.body(scalarBundle);
  });
}
