/**
 * tus storage behaviour: bytes through the UploadSession DO into R2 multipart parts. Multi-part files
 * in odd chunk sizes, bodies cut off mid-chunk, racing PATCHes, expiry and cancellation clean-up.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { expireUploads } from "../../src/services/uploads/expire";
import { uploadSession } from "../../src/upload-session/client";
import {
  DEFERRED_PART_SIZE,
  MIN_PART_SIZE,
  partSizeFor,
  R2_MAX_PARTS,
  TUS_MAX_SIZE,
} from "../../src/upload-session/tus-protocol";
import type { UploadSession } from "../../src/upload-session/upload-session";
import { api, createKey } from "./factories";
import {
  create,
  head,
  inspectSession,
  MiB,
  newUpload,
  patch,
  r2Sha,
  sha1Base64,
  sha256,
  testBytes,
} from "./tus-helpers";

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

/**
 * PATCH driven inside the session itself (runInDurableObject), with no HTTP or RPC pump between the
 * body and the session: the body arrives as fast as the stream produces it, so tests control exactly
 * what is in flight when it ends.
 */
async function patchInSession(uploadId: string, offset: number, body: ReadableStream<Uint8Array>) {
  const policy = await policyOf(uploadId);
  return runInDurableObject(uploadSession(env, uploadId), (session: UploadSession) =>
    session.patch(policy, { offset, length: null, checksum: null, contentLength: null }, body),
  );
}

/** What the tus route would pass the session for this upload. */
async function policyOf(uploadId: string) {
  const row = await env.DB.prepare("select environment_id, expires_at, max_size_bytes from uploads where id = ?")
    .bind(uploadId)
    .first<{ environment_id: string; expires_at: string; max_size_bytes: number | null }>();
  return {
    uploadId,
    environmentId: row?.environment_id as string,
    expiresAt: row?.expires_at as string,
    maxSizeBytes: row?.max_size_bytes ?? null,
  };
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

// These move ~20 MiB through workerd each: well under a second on a quiet machine, but over the 5 s default
// on a loaded one (CI timed two out). They test bytes and parts, not speed.
describe("tus storage", { timeout: 30_000 }, () => {
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

  it("a body cut off while part uploads are still in flight keeps every byte that arrived", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    const total = 30 * MiB + 7;
    const bytes = testBytes(total, 77);
    expect((await create(up.url, total)).status).toBe(201);
    // Two full 8 MiB parts + 3 MiB + 5 bytes arrive at once, then the client vanishes: the cut lands
    // while both part uploads are still in flight.
    const sent = 2 * 8 * MiB + 3 * MiB + 5;
    const result = await patchInSession(up.id, 0, cutOffStream(bytes.subarray(0, sent), MiB + 1));
    expect(result).toMatchObject({ ok: false, code: "bad_request", offset: sent });
    const mid = await inspectSession(up.id);
    expect(mid.lastPatch?.in_flight_at_end).toBe(2);
    expect(mid.parts).toBe(2);
    expect(mid.tailBytes).toBe(sent - 16 * MiB);
    const h = await head(up.url);
    expect(Number(h.headers.get("upload-offset"))).toBe(sent);
    // The resumed PATCH starts from the tail: the third part is tail + new bytes.
    const resumed = await patch(up.url, sent, bytes.subarray(sent));
    expect(resumed.status).toBe(204);
    expect((await r2Sha(up.id))?.sha).toBe(await sha256(bytes));
  });

  it("a part that fails to upload stops the offset there, even with later parts in flight", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    const total = 40 * MiB;
    const bytes = testBytes(total, 31);
    expect((await create(up.url, total)).status).toBe(201);
    // Part 1 lands and is committed while the body is still open; then the multipart upload vanishes
    // behind the session's back (an R2 failure), and the rest of the body arrives at once: parts 2
    // and 3 are in flight together and both fail.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = 8 * MiB + 100;
    let at = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (at > 0) await gate;
        if (at >= 27 * MiB) return controller.close();
        const n = at === 0 ? first : MiB;
        controller.enqueue(bytes.slice(at, at + n));
        at += n;
      },
    });
    const pending = patchInSession(up.id, 0, body);
    let mid = await inspectSession(up.id);
    for (let i = 0; i < 200 && mid.parts < 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      mid = await inspectSession(up.id);
    }
    // Committed as soon as it landed, not when the PATCH ends.
    expect(mid.parts).toBe(1);
    expect(mid.state?.offset).toBe(8 * MiB);
    await env.MEDIA.resumeMultipartUpload(`sources/${up.id}/source`, mid.state?.multipartId as string).abort();
    release();
    expect(await pending).toMatchObject({ ok: false, code: "service_unavailable", offset: 8 * MiB });
    const after = await inspectSession(up.id);
    expect(after.lastPatch?.max_in_flight).toBe(2);
    expect(after.parts).toBe(1);
    expect(after.tailBytes).toBe(0);
    expect(after.state?.offset).toBe(8 * MiB);
    expect((await head(up.url)).headers.get("upload-offset")).toBe(String(8 * MiB));
  });

  it("cancelling while part uploads are in flight commits none of them and frees everything", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    const total = 40 * MiB;
    const bytes = testBytes(total, 55);
    expect((await create(up.url, total)).status).toBe(201);
    const policy = await policyOf(up.id);
    const result = await runInDurableObject(uploadSession(env, up.id), (session: UploadSession) => {
      let pulls = 0;
      // 17 MiB at once: both full parts are handed to R2 before the next read. That next read is the
      // moment the upload gets cancelled (termination), with the two part uploads still in flight.
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (pulls++ === 0) return controller.enqueue(bytes.slice(0, 17 * MiB));
          await session.cancel();
          controller.close();
        },
      });
      return session.patch(policy, { offset: 0, length: null, checksum: null, contentLength: null }, body);
    });
    expect(result).toMatchObject({ ok: false, code: "gone" });
    const after = await inspectSession(up.id);
    expect(after.lastPatch?.in_flight_at_end).toBe(2);
    expect(after.state?.status).toBe("closed");
    expect(after.state?.offset).toBe(0);
    expect(after.parts).toBe(0);
    expect(after.tailBytes).toBe(0);
    expect(after.state?.multipartId).toBeNull();
    expect(await env.MEDIA.head(`sources/${up.id}/source`)).toBeNull();
    expect((await head(up.url)).status).toBe(410);
  });

  it("a checksummed PATCH spanning several parts commits all of them or none", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    const total = 25 * MiB + 11;
    const bytes = testBytes(total, 13);
    expect((await create(up.url, total)).status).toBe(201);
    const head3 = 3 * MiB;
    expect((await patch(up.url, 0, bytes.subarray(0, head3))).status).toBe(204);
    // 18 MiB with a wrong digest: parts get uploaded while the body streams, but none is committed and
    // the 3 MiB tail that the first of them started with stays where it was.
    const chunk = bytes.subarray(head3, head3 + 18 * MiB);
    const wrong = await patch(up.url, head3, chunk, {
      "Upload-Checksum": `sha1 ${await sha1Base64(bytes.subarray(0, 20))}`,
    });
    expect(wrong.status).toBe(460);
    expect(wrong.headers.get("upload-offset")).toBe(String(head3));
    let s = await inspectSession(up.id);
    expect(s.lastPatch?.parts).toBe(2);
    expect(s.parts).toBe(0);
    expect(s.tailBytes).toBe(head3);
    expect(s.state?.offset).toBe(head3);
    // The same bytes with the right digest: both parts and the new tail, in one go.
    const right = await patch(up.url, head3, chunk, { "Upload-Checksum": `sha1 ${await sha1Base64(chunk)}` });
    expect(right.status).toBe(204);
    expect(right.headers.get("upload-offset")).toBe(String(head3 + 18 * MiB));
    s = await inspectSession(up.id);
    expect(s.parts).toBe(2);
    expect(s.tailBytes).toBe(head3 + 18 * MiB - 16 * MiB);
    const rest = bytes.subarray(head3 + 18 * MiB);
    expect((await patch(up.url, head3 + 18 * MiB, rest)).status).toBe(204);
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
