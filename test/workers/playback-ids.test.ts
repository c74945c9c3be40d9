import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Asset, Page, PlaybackId } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { api, createAsset, createKey } from "./factories";

const base = (assetId: string) => `/v1/assets/${assetId}/playback-ids`;

describe("POST /v1/assets/{asset_id}/playback-ids", () => {
  it("creates a signed playback ID with an origin allow-list and records the event", async () => {
    const key = await createKey(["*"]);
    const asset = await createAsset(key, { correlation_id: "corr-pb" });
    const res = await api(key, "POST", base(asset.id), {
      policy: "signed",
      allowed_origins: ["example.com", "*.example.org:8443"],
      allow_no_referrer: false,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      asset_id: asset.id,
      policy: "signed",
      allowed_origins: ["example.com", "*.example.org:8443"],
      allow_no_referrer: false,
    });
    expect(res.body.id).toMatch(/^pb_[0-9a-z]{26}$/);
    const ev = await env.DB.prepare("select type, correlation_id from events where subject_id = ?")
      .bind(res.body.id)
      .first<{ type: string; correlation_id: string }>();
    expect(ev).toMatchObject({ type: "playback_id.created", correlation_id: "corr-pb" });
    const got = await api<Asset>(key, "GET", `/v1/assets/${asset.id}`);
    expect(got.body.playback_ids.map((p) => p.id)).toContain(res.body.id);
  });

  it("defaults: any origin, no-referrer allowed", async () => {
    const key = await createKey(["playback:write", "assets:write"]);
    const asset = await createAsset(key);
    const res = await api(key, "POST", base(asset.id), { policy: "public" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ policy: "public", allowed_origins: [], allow_no_referrer: true });
  });

  it("refuses bad input precisely", async () => {
    const key = await createKey(["*"]);
    const asset = await createAsset(key);
    expectProblem(await api(key, "POST", base(asset.id), "{"), 400, "malformed_json");
    expectProblem(await api(key, "POST", base(asset.id), {}), 400, "validation_failed");
    expectProblem(await api(key, "POST", base(asset.id), { policy: "private" }), 400, "validation_failed");
    expectProblem(await api(key, "POST", base(asset.id), { policy: "public", extra: 1 }), 400, "validation_failed");
    const badOrigin = await api(key, "POST", base(asset.id), { policy: "public", allowed_origins: ["https://x/y"] });
    expect(expectProblem(badOrigin, 400, "validation_failed").errors[0].location).toBe("json.allowed_origins.0");
    const many = Array.from({ length: 101 }, (_, i) => `h${i}.example.com`);
    expectProblem(await api(key, "POST", base(asset.id), { policy: "public", allowed_origins: many }), 400);
    expectProblem(
      await api(key, "POST", base(asset.id), { policy: "public", allowed_origins: [`${"a".repeat(254)}.com`] }),
      400,
    );
    expectProblem(await api(key, "POST", base("as_nope"), { policy: "public" }), 400, "validation_failed");
    expectProblem(await api(key, "POST", base(`as_${"0".repeat(26)}`), { policy: "public" }), 404, "not_found");
    const huge = await api(key, "POST", base(asset.id), { policy: "public", pad: "x".repeat(1024 * 1024 + 1) });
    expectProblem(huge, 413, "payload_too_large");
  });

  it("cannot attach to a deleted asset", async () => {
    const key = await createKey(["*"]);
    const asset = await createAsset(key);
    expect((await api(key, "DELETE", `/v1/assets/${asset.id}`)).status).toBe(204);
    expectProblem(await api(key, "POST", base(asset.id), { policy: "public" }), 404, "not_found");
  });

  it("needs playback:write", async () => {
    const writer = await createKey(["assets:write"]);
    const asset = await createAsset(writer);
    expectProblem(await api(writer, "POST", base(asset.id), { policy: "public" }), 403, "forbidden");
  });
});

describe("GET /v1/assets/{asset_id}/playback-ids[/{playback_id}]", () => {
  it("lists and reads an asset's playback IDs", async () => {
    const key = await createKey(["*"]);
    const asset = await createAsset(key, { playback_policy: "public" });
    const second = await api(key, "POST", base(asset.id), { policy: "signed" });
    const list = await api<Page<PlaybackId>>(key, "GET", base(asset.id));
    expect(list.status).toBe(200);
    expect(list.body.next_cursor).toBeNull();
    expect(list.body.data.map((p) => p.id).sort()).toEqual([asset.playback_ids[0].id, second.body.id].sort());
    const got = await api(key, "GET", `${base(asset.id)}/${second.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(second.body);
  });

  it("a playback ID is only found under its own asset", async () => {
    const key = await createKey(["*"]);
    const a = await createAsset(key, { playback_policy: "public" });
    const b = await createAsset(key);
    expectProblem(await api(key, "GET", `${base(b.id)}/${a.playback_ids[0].id}`), 404, "not_found");
    expectProblem(await api(key, "GET", `${base(a.id)}/not-a-pb`), 400, "validation_failed");
    expectProblem(await api(key, "GET", `${base(a.id)}/pb_${"0".repeat(26)}`), 404, "not_found");
  });

  it("reading needs assets:read", async () => {
    const key = await createKey(["*"]);
    const asset = await createAsset(key, { playback_policy: "public" });
    const reader = await createKey(["assets:read"], key.environmentId);
    expect((await api(reader, "GET", base(asset.id))).status).toBe(200);
    const other = await createKey(["playback:write"], key.environmentId);
    expectProblem(await api(other, "GET", base(asset.id)), 403, "forbidden");
  });
});

describe("DELETE /v1/assets/{asset_id}/playback-ids/{playback_id}", () => {
  it("deletes, then the ID is gone from reads and lists, and a second delete is 404", async () => {
    const key = await createKey(["*"]);
    const asset = await createAsset(key, { playback_policy: "signed" });
    const pb = asset.playback_ids[0].id;
    const del = await api(key, "DELETE", `${base(asset.id)}/${pb}`);
    expect(del.status).toBe(204);
    expect(del.headers.get("x-request-id")).toMatch(/^req_/);
    expectProblem(await api(key, "GET", `${base(asset.id)}/${pb}`), 404, "not_found");
    expect((await api(key, "GET", base(asset.id))).body.data).toEqual([]);
    expectProblem(await api(key, "DELETE", `${base(asset.id)}/${pb}`), 404, "not_found");
    const row = await env.DB.prepare("select deleted_at from playback_ids where id = ?").bind(pb).first();
    expect(row?.deleted_at).toBeTruthy();
    const ev = await env.DB.prepare("select count(*) as n from events where subject_id = ? and type = ?")
      .bind(pb, "playback_id.deleted")
      .first<{ n: number }>();
    expect(ev?.n).toBe(1);
  });
});
