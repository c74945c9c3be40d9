/** Upload records (the byte path is tested by the uploads owner). */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/ids";
import type { Page, Upload } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { api, createKey, type TestKey } from "./factories";

async function createUpload(key: TestKey, body: Record<string, unknown> = {}): Promise<Upload> {
  const res = await api<Upload>(key, "POST", "/v1/uploads", body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** A finished upload, inserted directly: completing one for real needs the byte path. */
async function insertUpload(key: TestKey, status: string) {
  const id = newId("upload");
  await env.DB.prepare(
    "insert into uploads (id, environment_id, status, expires_at, completed_at) values (?, ?, ?, ?, ?)",
  )
    .bind(id, key.environmentId, status, new Date(Date.now() + 3600_000).toISOString(), new Date().toISOString())
    .run();
  return id;
}

describe("POST /v1/uploads", () => {
  it("creates a waiting upload with defaults: signed playback, 1 h expiry, one-time URLs", async () => {
    const key = await createKey(["uploads:write"]);
    const before = Date.now();
    const up = await createUpload(key);
    expect(up.id).toMatch(/^up_[0-9a-z]{26}$/);
    expect(up.status).toBe("waiting");
    expect(up.new_asset_settings).toMatchObject({ playback_policy: "signed" });
    const ttl = Date.parse(up.expires_at) - before;
    expect(ttl).toBeGreaterThan(3590_000);
    expect(ttl).toBeLessThan(3610_000);
    expect(up.url).toMatch(new RegExp(`/uploads/${up.id}\\?token=[A-Za-z0-9_-]+$`));
    expect(up.tus_url).toMatch(new RegExp(`/tus/${up.id}\\?token=`));
    expect(up).toMatchObject({ asset_id: null, bytes_received: 0, size: null, error: null, completed_at: null });
    const ev = await env.DB.prepare("select type from events where subject_id = ?").bind(up.id).first();
    expect(ev?.type).toBe("upload.created");
  });

  it("stores policy fields and new-asset settings", async () => {
    const key = await createKey(["*"]);
    const up = await createUpload(key, {
      new_asset_settings: { playback_policy: "public", title: "Talk", tags: ["conf"], max_resolution: "720p" },
      cors_origin: "https://app.example.com",
      expires_in: 7 * 24 * 3600,
      max_size_bytes: 1_000_000,
      max_duration_seconds: 600,
      allowed_content_types: ["video/mp4", "video/*"],
      correlation_id: "corr-up",
    });
    expect(up).toMatchObject({
      new_asset_settings: { playback_policy: "public", title: "Talk", tags: ["conf"], max_resolution: "720p" },
      cors_origin: "https://app.example.com",
      max_size_bytes: 1_000_000,
      max_duration_seconds: 600,
      allowed_content_types: ["video/mp4", "video/*"],
      correlation_id: "corr-up",
    });
    expect(Date.parse(up.expires_at) - Date.now()).toBeGreaterThan(7 * 24 * 3600_000 - 60_000);
    // new_asset_settings without a policy still defaults to signed.
    const up2 = await createUpload(key, { new_asset_settings: { title: "x" } });
    expect(up2.new_asset_settings.playback_policy).toBe("signed");
  });

  it("refuses bad input precisely", async () => {
    const key = await createKey(["*"]);
    const bad = async (body: unknown, status = 400, code = "validation_failed") => {
      const res = await api(key, "POST", "/v1/uploads", body);
      return expectProblem(res, status, code, JSON.stringify(body).slice(0, 80));
    };
    await bad("{nope", 400, "malformed_json");
    await bad("[1,2", 400, "malformed_json");
    const beyond = await bad({ expires_in: 7 * 24 * 3600 + 1 });
    expect(beyond.errors[0].location).toBe("json.expires_in");
    await bad({ expires_in: 59 });
    await bad({ expires_in: "3600" });
    await bad({ expires_in: 1.5 });
    await bad({ unknown_field: true });
    await bad({ new_asset_settings: { playback_policy: "private" } });
    await bad({ new_asset_settings: { titel: "typo" } });
    await bad({ new_asset_settings: { title: "x".repeat(513) } });
    await bad({ cors_origin: "https://a.com/path" });
    await bad({ max_size_bytes: 0 });
    await bad({ max_size_bytes: -5 });
    await bad({ allowed_content_types: [] });
    await bad({ allowed_content_types: ["not a mime"] });
    await bad({ correlation_id: "x".repeat(256) });
    await bad({ pad: "x".repeat(1024 * 1024) }, 413, "payload_too_large");
    const count = await env.DB.prepare("select count(*) as n from uploads where environment_id = ?")
      .bind(key.environmentId)
      .first<{ n: number }>();
    expect(count?.n, "no half-written records").toBe(0);
  });
});

describe("GET /v1/uploads[/{upload_id}]", () => {
  it("reads one upload and lists newest first with a status filter and cursor", async () => {
    const key = await createKey(["*"]);
    const ups = [];
    for (let i = 0; i < 3; i++) ups.push(await createUpload(key, { correlation_id: `c${i}` }));
    const completed = await insertUpload(key, "completed");
    const got = await api(key, "GET", `/v1/uploads/${ups[1].id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: ups[1].id, correlation_id: "c1", status: "waiting" });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await api(key, "GET", `/v1/uploads?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      seen.push(...(res.body.data as Upload[]).map((u) => u.id));
      cursor = res.body.next_cursor as string | null;
    } while (cursor);
    expect(seen).toEqual([completed, ...ups.map((u) => u.id).reverse()]);

    const onlyDone = await api<Page<Upload>>(key, "GET", "/v1/uploads?status=completed");
    expect(onlyDone.body.data.map((u) => u.id)).toEqual([completed]);
    expect(onlyDone.body.data[0].url, "a finished upload has no usable URL").toBeNull();
  });

  it("gives the tokenised url/tus_url only to keys with uploads:write; read-only keys get them omitted", async () => {
    const writer = await createKey(["uploads:write"]);
    const up = await createUpload(writer);
    const reader = await createKey(["assets:read"], writer.environmentId);
    const both = await createKey(["assets:read", "uploads:write"], writer.environmentId);

    const asReader = await api(reader, "GET", `/v1/uploads/${up.id}`);
    expect(asReader.status).toBe(200);
    expect(asReader.body.id).toBe(up.id);
    expect(asReader.body).not.toHaveProperty("url");
    expect(asReader.body).not.toHaveProperty("tus_url");
    const listed = await api<Page<Upload>>(reader, "GET", "/v1/uploads");
    const row = listed.body.data.find((u) => u.id === up.id);
    expect(row).toBeDefined();
    expect(row).not.toHaveProperty("url");
    expect(row).not.toHaveProperty("tus_url");
    expect(JSON.stringify(listed.body)).not.toContain("token=");

    const asBoth = await api(both, "GET", `/v1/uploads/${up.id}`);
    expect(asBoth.body.url).toBe(up.url);
    expect(asBoth.body.tus_url).toBe(up.tus_url);
    const bothList = await api<Page<Upload>>(both, "GET", "/v1/uploads");
    expect(bothList.body.data.find((u) => u.id === up.id)?.url).toBe(up.url);
  });

  it("refuses bad queries and IDs", async () => {
    const key = await createKey(["assets:read"]);
    expectProblem(await api(key, "GET", "/v1/uploads?cursor=%%%"), 400, "invalid_cursor");
    expectProblem(await api(key, "GET", "/v1/uploads?cursor=djE6YXNfMDAw"), 400, "invalid_cursor");
    expectProblem(await api(key, "GET", "/v1/uploads?limit=0"), 400, "validation_failed");
    expectProblem(await api(key, "GET", "/v1/uploads?limit=101"), 400, "validation_failed");
    expectProblem(await api(key, "GET", "/v1/uploads?limit=abc"), 400, "validation_failed");
    expectProblem(await api(key, "GET", "/v1/uploads?status=done"), 400, "validation_failed");
    expectProblem(await api(key, "GET", "/v1/uploads/as_00000000000000000000000000"), 400, "validation_failed");
    expectProblem(await api(key, "GET", `/v1/uploads/up_${"0".repeat(26)}`), 404, "not_found");
  });
});

describe("DELETE /v1/uploads/{upload_id}", () => {
  it("cancels an open upload; a second cancel is a no-op", async () => {
    const key = await createKey(["uploads:write", "assets:read"]);
    const up = await createUpload(key);
    const del = await api(key, "DELETE", `/v1/uploads/${up.id}`);
    expect(del.status).toBe(204);
    const got = await api(key, "GET", `/v1/uploads/${up.id}`);
    expect(got.body).toMatchObject({ status: "cancelled", url: null, tus_url: null });
    expect((await api(key, "DELETE", `/v1/uploads/${up.id}`)).status).toBe(204);
    const events = await env.DB.prepare("select count(*) as n from events where subject_id = ? and type = ?")
      .bind(up.id, "upload.cancelled")
      .first<{ n: number }>();
    expect(events?.n, "one cancellation event, not two").toBe(1);
  });

  it("cannot cancel a completed upload (409)", async () => {
    const key = await createKey(["*"]);
    const id = await insertUpload(key, "completed");
    expectProblem(await api(key, "DELETE", `/v1/uploads/${id}`), 409, "invalid_state");
    const row = await env.DB.prepare("select status from uploads where id = ?").bind(id).first();
    expect(row?.status).toBe("completed");
  });

  it("needs uploads:write, and the ID must be well formed and exist", async () => {
    const key = await createKey(["*"]);
    const up = await createUpload(key);
    const reader = await createKey(["assets:read"], key.environmentId);
    expectProblem(await api(reader, "DELETE", `/v1/uploads/${up.id}`), 403, "forbidden");
    expectProblem(await api(key, "DELETE", "/v1/uploads/up_short"), 400, "validation_failed");
    expectProblem(await api(key, "DELETE", `/v1/uploads/up_${"0".repeat(26)}`), 404, "not_found");
  });
});
