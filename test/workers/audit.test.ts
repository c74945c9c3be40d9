/** The audit log: every write, with the key that made it. */
import { describe, expect, it } from "vitest";
import type { AuditEntry, Page } from "../support/api-types";
import { api, createAsset, createKey } from "./factories";

type AuditLog = Page<AuditEntry>;

describe("GET /v1/audit-log", () => {
  it("lists every write with its key, action and resource, newest first, with filters", async () => {
    const admin = await createKey(["*"]);
    const asset = await createAsset(admin, { title: "a" });
    await api(admin, "PATCH", `/v1/assets/${asset.id}`, { title: "b" });
    const pb = await api(admin, "POST", `/v1/assets/${asset.id}/playback-ids`, { policy: "signed" });
    expect(pb.status).toBe(201);
    await api(admin, "DELETE", `/v1/assets/${asset.id}/playback-ids/${pb.body.id}`);
    const up = await api(admin, "POST", "/v1/uploads", {});
    await api(admin, "DELETE", `/v1/uploads/${up.body.id}`);
    const newKey = await api(admin, "POST", "/v1/keys", { name: "ci", scopes: ["assets:read"] });
    await api(admin, "DELETE", `/v1/keys/${newKey.body.id}`);
    const ep = await api(admin, "POST", "/v1/webhook-endpoints", { url: "https://example.com/h" });
    await api(admin, "PATCH", `/v1/webhook-endpoints/${ep.body.id}`, { description: "d" });
    await api(admin, "POST", `/v1/webhook-endpoints/${ep.body.id}/rotate-secret`, {});
    await api(admin, "DELETE", `/v1/webhook-endpoints/${ep.body.id}`);
    // A different key of the same environment writes too.
    const writer = await createKey(["assets:write"], admin.environmentId);
    await api(writer, "DELETE", `/v1/assets/${asset.id}`);

    const res = await api<AuditLog>(admin, "GET", "/v1/audit-log?limit=100");
    expect(res.status).toBe(200);
    const entries = res.body.data;
    expect(entries.map((e) => e.action)).toEqual([
      "asset.delete",
      "webhook_endpoint.delete",
      "webhook_endpoint.rotate_secret",
      "webhook_endpoint.update",
      "webhook_endpoint.create",
      "key.revoke",
      "key.create",
      "upload.cancel",
      "upload.create",
      "playback_id.delete",
      "playback_id.create",
      "asset.update",
      "asset.create",
    ]);
    expect(entries[0]).toMatchObject({ key_id: writer.keyId, resource_type: "asset", resource_id: asset.id });
    expect(entries[0].request_id).toMatch(/^req_/);
    expect(entries.slice(1).every((e) => e.key_id === admin.keyId)).toBe(true);
    expect(entries.every((e) => typeof e.created_at === "string" && e.id.startsWith("aud_"))).toBe(true);
    expect(JSON.stringify(entries)).not.toContain("whsec_");

    const byResource = await api<AuditLog>(admin, "GET", `/v1/audit-log?resource_id=${asset.id}`);
    expect(byResource.body.data.map((e) => e.action)).toEqual(["asset.delete", "asset.update", "asset.create"]);
    const byAction = await api<AuditLog>(admin, "GET", "/v1/audit-log?action=key.create");
    expect(byAction.body.data.map((e) => e.resource_id)).toEqual([newKey.body.id]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: AuditLog } = await api<AuditLog>(
        admin,
        "GET",
        `/v1/audit-log?limit=5${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...page.body.data.map((e) => e.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(entries.map((e) => e.id));
  });

  it("needs keys:write and shows only the caller's environment", async () => {
    const admin = await createKey(["*"]);
    await createAsset(admin, {});
    const writer = await createKey(["assets:write", "assets:read", "events:read"], admin.environmentId);
    const denied = await api(writer, "GET", "/v1/audit-log");
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe("forbidden");
    const keysAdmin = await createKey(["keys:write"], admin.environmentId);
    expect((await api<AuditLog>(keysAdmin, "GET", "/v1/audit-log")).body.data.length).toBe(1);
    const other = await createKey(["*"]);
    expect((await api(other, "GET", "/v1/audit-log")).body.data).toEqual([]);
    expect((await api(admin, "GET", "/v1/audit-log?cursor=junk!")).body.code).toBe("invalid_cursor");
  });
});
