/** Mounts every operation and the OpenAPI document. One `register…` per operation file. */
import { Scalar } from "@scalar/hono-api-reference";
import type { App } from "../app";
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
import { registerTusRoutes } from "./tus";
import { registerUploadByteRoutes } from "./upload-bytes";
import { registerUploadRoutes } from "./uploads";
import { registerWebhookRoutes } from "./webhooks";

export const API_VERSION = "2026-11-01";

export function registerRoutes(app: App) {
  registerHealth(app);
  registerAssetRoutes(app);
  registerPlaybackIdRoutes(app);
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
  app.doc31("/v1/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "Keyframe API",
      version: API_VERSION,
      description: "Upload, process, publish, secure and monitor video on your own Cloudflare account.",
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));
  app.get("/docs", Scalar({ url: "/v1/openapi.json", pageTitle: "Keyframe API" }));
}
