/**
 * tus storage behaviour: bytes through the UploadSession DO into R2 multipart parts. Multi-part files
 * in odd chunk sizes, bodies cut off mid-chunk, racing PATCHes, expiry and cancellation clean-up.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  DEFERRED_PART_SIZE,
  MIN_PART_SIZE,
  partSizeFor,
  R2_MAX_PARTS,
  TUS_MAX_SIZE,
} from "../../src/uploads/tus-protocol";
import { expireUploads } from "../../src/uploads/wiring";
import { api, createKey } from "./factories";
import { create, head, inspectSession, MiB, newUpload, patch, r2Sha, sha256, testBytes } from "./tus-helpers";

/** A request body that delivers `bytes` in slices, then errors (a client that vanished mid-chunk). */
function cutOffStream(bytes: Uint8Array, slice = 256 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) {
        controller.error(new Error("client went away"));
        return;
      }
      controller.enqueue(bytes.slice(at, at + slice));
      at += slice;
    },
  });
}

describe("part sizing", () => {
  it("fits 50 GB (and the advertised max) in R2's 10,000 parts with one part size ≥ 5 MiB", () => {
    for (const size of [1, 5 * MiB, 8 * MiB + 1, 1e9, 50e9, 75e9, TUS_MAX_SIZE]) {
      const part = partSizeFor(size);
      expect(part).toBeGreaterThanOrEqual(MIN_PART_SIZE);
      expect(part % MiB).toBe(0);
      expect(Math.ceil(size / part)).toBeLessThanOrEqual(R2_MAX_PARTS);
    }
    expect(DEFERRED_PART_SIZE * R2_MAX_PARTS).toBeGreaterThan(50e9);
  });
});

describe("tus storage", () => {
  it("a ~20 MiB file in odd chunk sizes lands byte-identical, in fixed-size parts, exactly once", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    const total = 20 * MiB + 12_345;
    const bytes = testBytes(total, 42);
    expect((await create(up.url, total)).status).toBe(201);
    const cuts = [3 * MiB, 7 * MiB, 1, 5 * MiB + 17, 2 * MiB - 1];
    let offset = 0;
    for (const n of cuts) {
      const r = await patch(up.url, offset, bytes.subarray(offset, offset + n));
      expect(r.status, `chunk at ${offset}`).toBe(204);
      offset += n;
      expect(r.headers.get("upload-offset")).toBe(String(offset));
    }
    // 17 MiB + 17 bytes in: two 8 MiB parts in R2, the rest buffered in the DO.
    const mid = await inspectSession(up.id);
    expect(mid.state?.partSize).toBe(8 * MiB);
    expect(mid.parts).toBe(2);
    expect(mid.tailBytes).toBe(offset - 16 * MiB);
    expect(mid.tailRows).toBeGreaterThan(0);
    const progress = await api(key, "GET", `/v1/uploads/${up.id}`);
    expect(progress.body).toMatchObject({ status: "uploading", bytes_received: offset, size: total });

    const last = await patch(up.url, offset, bytes.subarray(offset));
    expect(last.status).toBe(204);
    expect(last.headers.get("upload-offset")).toBe(String(total));
    const obj = await r2Sha(up.id);
    expect(obj?.size).toBe(total);
    expect(obj?.sha).toBe(await sha256(bytes));
    const after = await inspectSession(up.id);
    expect(after.state?.status).toBe("completed");
    expect(after.tailBytes).toBe(0);

    // The final PATCH retried (the client never saw the 204): refused, and still one asset + job.
    const retry = await patch(up.url, offset, bytes.subarray(offset));
    expect(retry.status).toBe(409);
    const assets = await env.DB.prepare("select id from assets where upload_id = ?").bind(up.id).all();
    expect(assets.results).toHaveLength(1);
    const jobs = await env.DB.prepare("select count(*) as n from jobs where asset_id = ?")
      .bind(assets.results[0].id)
      .first();
    expect(jobs?.n).toBe(1);
  });

  it("a body cut off mid-chunk keeps what arrived; the client resumes from HEAD", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    const total = 12 * MiB + 999;
    const bytes = testBytes(total, 99);
    expect((await create(up.url, total)).status).toBe(201);
    // 10 MiB arrive (one 8 MiB part + 2 MiB tail), then the connection dies.
    const sent = 10 * MiB;
    // Whether the runtime surfaces the error to the worker or just ends the body, the client is gone:
    // what matters is what HEAD says afterwards.
    await patch(up.url, 0, cutOffStream(bytes.subarray(0, sent))).catch(() => undefined);
    const h = await head(up.url);
    expect(h.status).toBe(200);
    const kept = Number(h.headers.get("upload-offset"));
    expect(kept).toBe(sent);
    expect((await inspectSession(up.id)).parts).toBe(1);
    const resumed = await patch(up.url, kept, bytes.subarray(kept));
    expect(resumed.status).toBe(204);
    expect((await r2Sha(up.id))?.sha).toBe(await sha256(bytes));
  });

  it("a PATCH racing another gets 409 instead of interleaving bytes", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    const bytes = testBytes(2 * MiB, 5);
    expect((await create(up.url, bytes.length)).status).toBe(201);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let sentFirst = false;
    const slow = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sentFirst) {
          sentFirst = true;
          controller.enqueue(bytes.slice(0, MiB));
          return;
        }
        await gate;
        controller.enqueue(bytes.slice(MiB));
        controller.close();
      },
    });
    const first = patch(up.url, 0, slow);
    // Give the first PATCH time to reach the session and start streaming, then race it.
    await new Promise((r) => setTimeout(r, 300));
    const racer = await patch(up.url, 0, bytes.subarray(0, 10));
    expect(racer.status).toBe(409);
    expect(racer.json?.detail).toMatch(/in progress/);
    release();
    const done = await first;
    expect(done.status).toBe(204);
    expect(done.headers.get("upload-offset")).toBe(String(bytes.length));
    expect((await r2Sha(up.id))?.sha).toBe(await sha256(bytes));
  });

  it("the expiry sweep marks uploads expired, aborts the multipart upload and frees the buffer", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    const idle = await newUpload(key);
    expect((await create(up.url, 30 * MiB)).status).toBe(201);
    expect((await patch(up.url, 0, testBytes(9 * MiB))).status).toBe(204);
    const before = await inspectSession(up.id);
    expect(before.parts).toBe(1);
    expect(before.tailBytes).toBe(MiB);
    const multipartId = before.state?.multipartId as string;
    expect(multipartId).toBeTruthy();

    const past = new Date(Date.now() - 1000).toISOString();
    await env.DB.prepare("update uploads set expires_at = ? where id in (?, ?)").bind(past, up.id, idle.id).run();
    const waits: Promise<unknown>[] = [];
    const result = await expireUploads(env, { waitUntil: (p) => waits.push(p) });
    await Promise.all(waits);
    expect(result.expired).toBeGreaterThanOrEqual(2);

    for (const id of [up.id, idle.id]) {
      expect((await api(key, "GET", `/v1/uploads/${id}`)).body.status).toBe("expired");
      const ev = await env.DB.prepare(
        "select count(*) as n from events where upload_id = ? and type = 'upload.expired'",
      )
        .bind(id)
        .first();
      expect(ev?.n).toBe(1);
    }
    const after = await inspectSession(up.id);
    expect(after.state?.status).toBe("closed");
    expect(after.state?.multipartId).toBeNull();
    expect(after.tailBytes).toBe(0);
    expect(after.parts).toBe(0);
    // The R2 multipart upload is gone: completing it fails.
    const mp = env.MEDIA.resumeMultipartUpload(`sources/${up.id}/source`, multipartId);
    await expect(mp.complete([])).rejects.toThrow();
    expect((await head(up.url)).status).toBe(410);
    expect((await patch(up.url, 9 * MiB, testBytes(10))).status).toBe(410);
    // Idempotent: a second sweep finds nothing more to do for these.
    const again = await expireUploads(env, { waitUntil: () => undefined });
    expect(again.expired).toBe(0);
  });

  it("DELETE /v1/uploads/{id} aborts the session's multipart upload too", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    expect((await create(up.url, 20 * MiB)).status).toBe(201);
    expect((await patch(up.url, 0, testBytes(8 * MiB + 5))).status).toBe(204);
    const multipartId = (await inspectSession(up.id)).state?.multipartId as string;
    expect((await api(key, "DELETE", `/v1/uploads/${up.id}`)).status).toBe(204);
    const after = await inspectSession(up.id);
    expect(after.state?.status).toBe("closed");
    expect(after.tailBytes).toBe(0);
    await expect(
      env.MEDIA.resumeMultipartUpload(`sources/${up.id}/source`, multipartId).complete([]),
    ).rejects.toThrow();
    expect((await head(up.url)).status).toBe(410);
  });

  it("deferred length uploads past one part, then declare the length", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key, { max_size_bytes: 100 * MiB });
    const total = 9 * MiB + 3;
    const bytes = testBytes(total, 8);
    expect((await create(up.url, "defer")).status).toBe(201);
    expect((await patch(up.url, 0, bytes.subarray(0, 8 * MiB + 1))).status).toBe(204);
    const mid = await inspectSession(up.id);
    expect(mid.parts).toBe(1);
    const last = await patch(up.url, 8 * MiB + 1, bytes.subarray(8 * MiB + 1), { "Upload-Length": String(total) });
    expect(last.status).toBe(204);
    expect((await r2Sha(up.id))?.sha).toBe(await sha256(bytes));
  });
});
