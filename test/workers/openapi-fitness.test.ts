/**
 * The OpenAPI document is fit to generate clients from: every operation has a unique, stable operationId
 * (existing ones pinned: they are part of the contract), `security` (public ones `[]`), a 4xx response
 * (except the three that never refuse, see redocly.yaml), and the document has a license and servers.
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deriveOperationId } from "../../src/lib/openapi-document";
import { type Json, listOperations } from "../support/openapi-ops";

const doc: Json = await (await SELF.fetch("http://keyframe.test/v1/openapi.json")).json();
const ops = listOperations(doc);

/** Published IDs. Add new ones; never change one (SDKs and generated clients call them by name). */
const PINNED: Record<string, string> = {
  "GET /v1/health": "health.check",
  "POST /v1/assets": "assets.create",
  "GET /v1/assets": "assets.list",
  "GET /v1/assets/{asset_id}": "assets.get",
  "PATCH /v1/assets/{asset_id}": "assets.update",
  "DELETE /v1/assets/{asset_id}": "assets.delete",
  "POST /v1/assets/{asset_id}/playback-ids": "assets.createPlaybackId",
  "GET /v1/assets/{asset_id}/playback-ids": "assets.listPlaybackIds",
  "GET /v1/assets/{asset_id}/playback-ids/{playback_id}": "assets.getPlaybackId",
  "DELETE /v1/assets/{asset_id}/playback-ids/{playback_id}": "assets.deletePlaybackId",
  "POST /v1/uploads": "uploads.create",
  "GET /v1/uploads": "uploads.list",
  "GET /v1/uploads/{upload_id}": "uploads.get",
  "DELETE /v1/uploads/{upload_id}": "uploads.delete",
  "POST /v1/keys": "keys.create",
  "GET /v1/keys": "keys.list",
  "DELETE /v1/keys/{key_id}": "keys.delete",
  "POST /v1/signing-keys": "signingKeys.create",
  "GET /v1/signing-keys": "signingKeys.list",
  "GET /v1/signing-keys/{signing_key_id}": "signingKeys.get",
  "DELETE /v1/signing-keys/{signing_key_id}": "signingKeys.delete",
  "POST /v1/playback-ids/{playback_id}/tokens": "playbackIds.createToken",
  "POST /v1/webhook-endpoints": "webhookEndpoints.create",
  "GET /v1/webhook-endpoints": "webhookEndpoints.list",
  "GET /v1/webhook-endpoints/{endpoint_id}": "webhookEndpoints.get",
  "PATCH /v1/webhook-endpoints/{endpoint_id}": "webhookEndpoints.update",
  "DELETE /v1/webhook-endpoints/{endpoint_id}": "webhookEndpoints.delete",
  "POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret": "webhookEndpoints.rotateSecret",
  "GET /v1/webhook-endpoints/{endpoint_id}/deliveries": "webhookEndpoints.listDeliveries",
  "POST /v1/webhook-deliveries/{delivery_id}/retry": "webhookDeliveries.retry",
  "POST /v1/webhook-endpoints/{endpoint_id}/replay": "webhookEndpoints.replay",
  "GET /v1/events": "events.list",
  "GET /v1/events/{event_id}": "events.get",
  "GET /v1/assets/{asset_id}/events": "assets.listEvents",
  "GET /v1/uploads/{upload_id}/events": "uploads.listEvents",
  "GET /v1/audit-log": "auditLog.list",
  "PUT /uploads/{upload_id}": "uploadBytes.put",
  "OPTIONS /uploads/{upload_id}": "uploadBytes.preflight",
  "OPTIONS /tus": "tus.discover",
  "HEAD /tus/{upload_id}": "tus.getOffset",
  "PATCH /tus/{upload_id}": "tus.append",
  "POST /tus/{upload_id}": "tus.create",
  "DELETE /tus/{upload_id}": "tus.terminate",
  "OPTIONS /tus/{upload_id}": "tus.discoverUpload",
  "POST /v1/assets/{asset_id}/reprocess": "assets.reprocess",
  "POST /v1/assets/{asset_id}/tracks": "assets.createTrack",
  "GET /v1/assets/{asset_id}/tracks/{track_id}": "assets.getTrack",
  "DELETE /v1/assets/{asset_id}/tracks/{track_id}": "assets.deleteTrack",
  "GET /v1/keys/self": "keys.getSelf",
  "POST /v1/signing-keys/system/rotate": "signingKeys.rotateSystem",
  "POST /v1/live-streams": "liveStreams.create",
  "GET /v1/live-streams": "liveStreams.list",
  "GET /v1/live-streams/{live_stream_id}": "liveStreams.get",
  "PATCH /v1/live-streams/{live_stream_id}": "liveStreams.update",
  "DELETE /v1/live-streams/{live_stream_id}": "liveStreams.delete",
  "POST /v1/live-streams/{live_stream_id}/reset-stream-key": "liveStreams.resetStreamKey",
  "PUT /v1/live-streams/{live_stream_id}/disable": "liveStreams.disable",
  "PUT /v1/live-streams/{live_stream_id}/enable": "liveStreams.enable",
  "POST /v1/live-streams/{live_stream_id}/complete": "liveStreams.complete",
  "GET /v1/live-streams/{live_stream_id}/health": "liveStreams.getHealth",
  "GET /v1/live-streams/{live_stream_id}/events": "liveStreams.listEvents",
  "POST /v1/live-streams/{live_stream_id}/playback-ids": "liveStreams.createPlaybackId",
  "GET /v1/live-streams/{live_stream_id}/playback-ids": "liveStreams.listPlaybackIds",
  "GET /v1/live-streams/{live_stream_id}/playback-ids/{playback_id}": "liveStreams.getPlaybackId",
  "DELETE /v1/live-streams/{live_stream_id}/playback-ids/{playback_id}": "liveStreams.deletePlaybackId",
};
/** Never answer 4xx (redocly.yaml says why). */
const NO_4XX = new Set(["GET /v1/health", "OPTIONS /tus", "OPTIONS /tus/{upload_id}"]);

describe("OpenAPI document fitness", () => {
  it("gives every operation a unique operationId and keeps the published ones", () => {
    const ids = ops.map((o) => o.operation.operationId);
    for (const [i, id] of ids.entries())
      expect(id, `${ops[i].method} ${ops[i].path}`).toMatch(/^[a-z][A-Za-z]*\.[a-z][A-Za-z]*$/);
    expect(new Set(ids).size).toBe(ids.length);
    const byRoute = Object.fromEntries(ops.map((o) => [`${o.method} ${o.path}`, o.operation.operationId]));
    for (const [route, id] of Object.entries(PINNED)) expect(byRoute[route], route).toBe(id);
  });

  it("names routes added later by the same rule", () => {
    expect(deriveOperationId("post", "/v1/live-streams")).toBe("liveStreams.create");
    expect(deriveOperationId("get", "/v1/live-streams/{live_stream_id}")).toBe("liveStreams.get");
    expect(deriveOperationId("post", "/v1/live-streams/{live_stream_id}/reset-stream-key")).toBe(
      "liveStreams.resetStreamKey",
    );
    expect(deriveOperationId("get", "/v1/live-streams/{live_stream_id}/recordings")).toBe("liveStreams.listRecordings");
    expect(deriveOperationId("post", "/v1/assets/{asset_id}/reprocess")).toBe("assets.reprocess");
    expect(deriveOperationId("post", "/v1/system/signing-keys/rotate")).toBe("system.rotateSigningKeys");
  });

  it("states security on every operation, a 4xx response, a license and servers", () => {
    expect(doc.info!.license).toMatchObject({ name: expect.any(String), identifier: expect.any(String) });
    expect(doc.servers).toEqual([{ url: "http://keyframe.test", description: expect.any(String) }]);
    for (const op of ops) {
      const name = `${op.method} ${op.path}`;
      expect(Array.isArray(op.operation.security), `${name} security`).toBe(true);
      const has4xx = Object.keys(op.operation.responses ?? {}).some((s) => /^4/.test(s));
      expect(has4xx, `${name} documents a 4xx`).toBe(!NO_4XX.has(name));
    }
  });
});
