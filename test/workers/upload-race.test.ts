/**
 * The one-shot PUT and tus share an upload's source key (issue 10, finding 7): whichever path claims the
 * upload first holds it (`uploads.claimed_by`), the other is refused with 409 while it does, and an aborted
 * PUT gives the upload back — deleting the partial source — only while it still holds the claim, so it can
 * never delete a source tus completed. Both orders, in workerd against real D1, R2 and the UploadSession DO.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { api, createKey } from "./factories";
import { create, localUrl, patch, r2Sha, sha256, testBytes } from "./tus-helpers";

async function newUploadUrls() {
  const key = await createKey(["*"]);
  const res = await api(key, "POST", "/v1/uploads", {});
  expect(res.status).toBe(201);
  return {
    id: res.body.id as string,
    put: localUrl(res.body.url as string),
    tus: localUrl(res.body.tus_url as string),
  };
}

async function uploadRow(id: string) {
  return env.DB.prepare("select status, claimed_by, asset_id from uploads where id = ?")
    .bind(id)
    .first<{ status: string; claimed_by: string | null; asset_id: string | null }>();
}

/** A PUT whose body the test feeds and can cut off. */
function heldPut(url: string, length: number) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  const response = SELF.fetch(url, {
    method: "PUT",
    headers: { "content-type": "video/mp4", "content-length": String(length) },
    body,
    // @ts-expect-error streaming request bodies (the Fetch spec's `duplex`)
    duplex: "half",
  });
  return { controller, response };
}

describe("PUT and tus on one upload", () => {
  it("PUT first: tus is refused while the PUT holds it; the aborted PUT frees it; tus then completes and its source stays", async () => {
    const up = await newUploadUrls();
    const bytes = testBytes(200_000);
    expect((await create(up.tus, bytes.length)).status).toBe(201);

    const put = heldPut(up.put, 150_000);
    put.controller.enqueue(testBytes(50_000, 7));
    await vi.waitUntil(async () => (await uploadRow(up.id))?.claimed_by === "put", { timeout: 10_000, interval: 20 });

    const refused = await patch(up.tus, 0, bytes);
    expect(refused.status).toBe(409);
    expect(refused.json?.code).toBe("conflict");
    expect(await uploadRow(up.id)).toMatchObject({ status: "uploading", claimed_by: "put" });

    put.controller.error(new Error("the client went away"));
    const aborted = await put.response;
    expect(aborted.status).toBe(400);
    await aborted.body?.cancel();
    expect(await uploadRow(up.id)).toMatchObject({ status: "waiting", claimed_by: null });

    const done = await patch(up.tus, 0, bytes);
    expect(done.status).toBe(204);
    const row = await uploadRow(up.id);
    expect(row).toMatchObject({ status: "completed", claimed_by: "tus" });
    expect(row?.asset_id).toMatch(/^as_/);
    expect(await r2Sha(up.id)).toEqual({ sha: await sha256(bytes), size: bytes.length });
  });

  it("tus first: a PUT is refused while tus holds it, even once the claim looks stale; tus completes and its source stays", async () => {
    const up = await newUploadUrls();
    const bytes = testBytes(200_000, 3);
    expect((await create(up.tus, bytes.length)).status).toBe(201);
    expect((await patch(up.tus, 0, bytes.subarray(0, 80_000))).status).toBe(204);
    expect(await uploadRow(up.id)).toMatchObject({ status: "uploading", claimed_by: "tus" });

    const other = testBytes(1000, 9);
    const send = () => SELF.fetch(up.put, { method: "PUT", headers: { "content-type": "video/mp4" }, body: other });
    const busy = await send();
    expect(busy.status).toBe(409);
    await busy.body?.cancel();
    // What a dead PUT's claim looks like (no bytes recorded, untouched for an hour): still not the PUT's to take.
    await env.DB.prepare("update uploads set bytes_received = 0, updated_at = ? where id = ?")
      .bind(new Date(Date.now() - 3600_000).toISOString(), up.id)
      .run();
    const stale = await send();
    expect(stale.status).toBe(409);
    await stale.body?.cancel();

    expect((await patch(up.tus, 80_000, bytes.subarray(80_000))).status).toBe(204);
    expect(await uploadRow(up.id)).toMatchObject({ status: "completed", claimed_by: "tus" });
    expect(await r2Sha(up.id)).toEqual({ sha: await sha256(bytes), size: bytes.length });
    const late = await send();
    expect(late.status).toBe(409);
    await late.body?.cancel();
    expect(await r2Sha(up.id)).toEqual({ sha: await sha256(bytes), size: bytes.length });
  });
});

describe("allowed_content_types over tus", () => {
  it("needs a declared filetype: creation without one is 415, and so is a PATCH on an upload reached by URL alone", async () => {
    const key = await createKey(["*"]);
    const res = await api(key, "POST", "/v1/uploads", { allowed_content_types: ["video/mp4"] });
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    const url = localUrl(res.body.tus_url as string);
    const bytes = testBytes(10_000);

    // No creation at all: PATCH straight at the URL (deferred length) used to store any bytes.
    const bare = await patch(url, 0, bytes, { "Upload-Length": String(bytes.length) });
    expect(bare.status).toBe(415);
    expect(bare.json?.code).toBe("unsupported_media_type");
    // Creation without metadata, or with metadata but no filetype.
    for (const headers of [{}, { "Upload-Metadata": `filename ${btoa("x.mp4")}` }] as Record<string, string>[]) {
      const created = await create(url, bytes.length, headers);
      expect(created.status).toBe(415);
      expect(created.json?.code).toBe("unsupported_media_type");
    }
    expect(await r2Sha(id)).toBeNull();
    expect(await uploadRow(id)).toMatchObject({ status: "waiting" });

    // A declared allowed type goes through.
    const ok = await create(url, bytes.length, { "Upload-Metadata": `filetype ${btoa("video/mp4")}` });
    expect(ok.status).toBe(201);
    expect((await patch(url, 0, bytes)).status).toBe(204);
    expect(await uploadRow(id)).toMatchObject({ status: "completed" });
  });
});
