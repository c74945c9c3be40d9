import { describe, expect, it } from "vitest";
import type { Asset, Problem } from "../support/api-types";
import { api, createAsset, createKey } from "./factories";

describe("assets", () => {
  it("creates, reads, lists, updates and deletes an asset", async () => {
    const key = await createKey(["*"]);
    const created = await api<Asset>(key, "POST", "/v1/assets", {
      title: "Intro",
      tags: ["a", "b"],
      metadata: { course: "101" },
      passthrough: "user-42",
      playback_policy: "public",
      correlation_id: "op-1",
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("x-request-id")).toMatch(/^req_/);
    const asset = created.body;
    expect(asset.id).toMatch(/^as_[0-9a-z]{26}$/);
    expect(asset.status).toBe("waiting");
    expect(asset.playback_ids).toHaveLength(1);
    expect(asset.playback_ids[0]).toMatchObject({ policy: "public" });
    const pb = asset.playback_ids[0].id;
    expect(asset.playback_ids[0].urls).toEqual({
      hls: `http://127.0.0.1:8788/${pb}.m3u8`,
      thumbnail: `http://127.0.0.1:8788/${pb}/thumbnail.jpg`,
      storyboard: `http://127.0.0.1:8788/${pb}/storyboard.vtt`,
      embed: `http://127.0.0.1:8788/embed/${pb}`,
    });
    expect(asset.correlation_id).toBe("op-1");

    const got = await api(key, "GET", `/v1/assets/${asset.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: asset.id, title: "Intro", tags: ["a", "b"], metadata: { course: "101" } });

    const patched = await api(key, "PATCH", `/v1/assets/${asset.id}`, { title: "Intro v2", passthrough: null });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ title: "Intro v2", passthrough: null, tags: ["a", "b"] });

    const list = await api(key, "GET", "/v1/assets?status=waiting");
    expect(list.status).toBe(200);
    expect((list.body.data as Asset[]).map((a) => a.id)).toContain(asset.id);

    const del = await api(key, "DELETE", `/v1/assets/${asset.id}`);
    expect(del.status).toBe(204);
    expect((await api(key, "GET", `/v1/assets/${asset.id}`)).status).toBe(404);
  });

  it("paginates newest first with an opaque cursor", async () => {
    const key = await createKey(["*"]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createAsset(key, { title: `n${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await api(key, "GET", `/v1/assets?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      seen.push(...(res.body.data as Asset[]).map((a) => a.id));
      cursor = res.body.next_cursor as string | null;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it("answers bad input with precise problem+json", async () => {
    const key = await createKey(["*"]);
    const malformed = await api(key, "POST", "/v1/assets", "{not json");
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get("content-type")).toContain("application/problem+json");
    expect(malformed.body).toMatchObject({ code: "malformed_json", status: 400 });
    expect(malformed.body.request_id).toMatch(/^req_/);

    const wrongType = await api(key, "POST", "/v1/assets", { title: 42 });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.code).toBe("validation_failed");
    expect((wrongType.body.errors as Problem["errors"])[0].location).toBe("json.title");

    const unknown = await api(key, "POST", "/v1/assets", { titel: "typo" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe("validation_failed");

    const tooLong = await api(key, "POST", "/v1/assets", { title: "x".repeat(513) });
    expect(tooLong.body.code).toBe("validation_failed");

    const huge = await api(key, "POST", "/v1/assets", { description: "x".repeat(1024 * 1024 + 10) });
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe("payload_too_large");

    const badCursor = await api(key, "GET", "/v1/assets?cursor=garbage!");
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.code).toBe("invalid_cursor");

    const badId = await api(key, "GET", "/v1/assets/not-an-id");
    expect(badId.status).toBe(400);
    expect(badId.body.code).toBe("validation_failed");

    const missing = await api(key, "GET", "/v1/assets/as_00000000000000000000000000");
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("not_found");

    const emptyPatch = await api(key, "PATCH", "/v1/assets/as_00000000000000000000000000", {});
    expect(emptyPatch.status).toBe(400);

    const noRoute = await api(key, "GET", "/v1/nope");
    expect(noRoute.status).toBe(404);
    expect(noRoute.body.code).toBe("not_found");
  });
});
