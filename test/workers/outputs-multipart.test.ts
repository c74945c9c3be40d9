/**
 * Multipart outputs (internal, job token) against real R2 in workerd: create → parts → complete
 * stores exactly the concatenation; every bad input is a precise problem+json and writes nothing.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  MULTIPART_MIN_PART_BYTES,
  type MultipartCreated,
  type MultipartPartReply,
} from "../../src/lib/transcoder-protocol";
import type { Problem } from "../support/api-types";
import { createKey } from "./factories";
import { internal, seedJob } from "./pipeline-helpers";

const PART = MULTIPART_MIN_PART_BYTES;
const PATH = "downloads/highest.mp4";

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >> 13)) & 0xff;
  return out;
}

/** `T`: the answer expected (`MultipartCreated`, a `Problem`); `part()` likewise. */
async function create<T = Record<string, unknown>>(
  jobId: string,
  token: string,
  size: number,
  path = PATH,
  attempt = 1,
) {
  return internal<T>(jobId, token, "POST", `outputs-multipart/${path}`, { attempt, size, part_size: PART });
}

function part<T = Record<string, unknown>>(
  jobId: string,
  token: string,
  uploadId: string,
  n: number | string,
  body: Uint8Array,
  path = PATH,
) {
  return internal<T>(
    jobId,
    token,
    "PUT",
    `outputs-multipart/${path}?upload_id=${encodeURIComponent(uploadId)}&part=${n}`,
    body,
  );
}

async function expectNothingStored(assetId: string) {
  const listing = await env.MEDIA.list({ prefix: `assets/${assetId}/` });
  expect(listing.objects).toHaveLength(0);
}

describe("outputs-multipart", () => {
  it("create → 3 parts (out of order) → complete stores exactly their concatenation", async () => {
    const key = await createKey();
    const s = await seedJob(key);
    const chunks = [bytes(PART, 1), bytes(PART, 2), bytes(1234567, 3)];
    const size = chunks.reduce((n, c) => n + c.byteLength, 0);

    const created = await create<MultipartCreated>(s.jobId, s.token, size);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      part_size: PART,
      part_count: 3,
      key: `assets/${s.assetId}/runs/${s.jobId}/${PATH}`,
    });
    const uploadId = created.body.upload_id as string;

    const etags: { part: number; etag: string }[] = [];
    for (const n of [2, 1, 3]) {
      const res = await part<MultipartPartReply>(s.jobId, s.token, uploadId, n, chunks[n - 1] as Uint8Array);
      expect(res.status, `part ${n}`).toBe(200);
      expect(res.body).toMatchObject({ part: n, size: chunks[n - 1]?.byteLength, etag: expect.any(String) });
      etags.push({ part: n, etag: res.body.etag });
    }
    // Nothing is visible before completion.
    await expectNothingStored(s.assetId);

    const done = await internal(s.jobId, s.token, "POST", `outputs-multipart/${PATH}/complete`, {
      attempt: 1,
      upload_id: uploadId,
      parts: etags,
    });
    expect(done.status).toBe(201);
    expect(done.body).toEqual({ key: created.body.key, size, content_type: "video/mp4" });

    const obj = await env.MEDIA.get(created.body.key);
    expect(obj?.size).toBe(size);
    expect(obj?.httpMetadata?.contentType).toBe("video/mp4");
    const stored = new Uint8Array(await (obj as R2ObjectBody).arrayBuffer());
    const expected = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      expected.set(c, at);
      at += c.byteLength;
    }
    expect(stored.byteLength).toBe(size);
    expect(stored.every((b, i) => b === expected[i])).toBe(true);

    // The same complete again (its first reply lost on the way back) answers the same; the object stays.
    const again = await internal(s.jobId, s.token, "POST", `outputs-multipart/${PATH}/complete`, {
      attempt: 1,
      upload_id: uploadId,
      parts: etags,
    });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(done.body);
    expect((await env.MEDIA.head(created.body.key))?.size).toBe(size);
    // A single-PUT object of another size at that key is not mistaken for this upload.
    await env.MEDIA.put(created.body.key, bytes(10, 9));
    const other = await internal(s.jobId, s.token, "POST", `outputs-multipart/${PATH}/complete`, {
      attempt: 1,
      upload_id: uploadId,
      parts: etags,
    });
    expect(other.status).toBe(404);
    expect(other.body.code).toBe("not_found");
  });

  it("refuses wrong part sizes, bad part numbers, a missing Content-Length and unknown uploads", async () => {
    const key = await createKey();
    const s = await seedJob(key);
    const size = 2 * PART + 10;
    const created = await create<MultipartCreated>(s.jobId, s.token, size);
    const uploadId = created.body.upload_id as string;

    const short = await part(s.jobId, s.token, uploadId, 1, bytes(PART - 1, 1));
    expect(short.status).toBe(400);
    expect(short.headers.get("content-type")).toContain("application/problem+json");
    expect(short.body.code).toBe("validation_failed");
    expect(short.body.detail).toContain(`Part 1 of 3 must be exactly ${PART} bytes`);
    expect(short.body.errors).toEqual([{ location: "header.content-length", message: `must be ${PART}` }]);

    const long = await part(s.jobId, s.token, uploadId, 3, bytes(11, 1));
    expect(long.status).toBe(413);
    expect(long.body.code).toBe("payload_too_large");
    expect(long.body.detail).toContain("Part 3 of 3 must be exactly 10 bytes");

    for (const n of ["0", "4", "x", "1.5", "-1"]) {
      const res = await part<Problem>(s.jobId, s.token, uploadId, n, bytes(10, 1));
      expect(res.status, n).toBe(400);
      expect(res.body.code).toBe("validation_failed");
      expect(res.body.errors[0].location).toBe("query.part");
    }
    const noPart = await internal<Problem>(
      s.jobId,
      s.token,
      "PUT",
      `outputs-multipart/${PATH}?upload_id=${uploadId}`,
      "x",
    );
    expect(noPart.body.errors[0].location).toBe("query.part");
    const noId = await internal<Problem>(s.jobId, s.token, "PUT", `outputs-multipart/${PATH}?part=1`, "x");
    expect(noId.status).toBe(400);
    expect(noId.body.errors[0].location).toBe("query.upload_id");

    const chunked = await SELF.fetch(
      `http://keyframe.test/internal/jobs/${s.jobId}/outputs-multipart/${PATH}?upload_id=${encodeURIComponent(uploadId)}&part=3`,
      {
        method: "PUT",
        headers: { authorization: `Bearer ${s.token}` },
        body: new ReadableStream({
          start(c) {
            c.enqueue(bytes(10, 1));
            c.close();
          },
        }),
        duplex: "half",
      } as RequestInit,
    );
    expect(chunked.status).toBe(411);
    expect(((await chunked.json()) as { code: string }).code).toBe("length_required");

    // A forged handle, a handle for another path, and a handle R2 no longer knows: all unknown.
    const [payload, sig] = uploadId.split(".");
    for (const bad of [`${payload}.${(sig as string).slice(0, -2)}AA`, "nonsense", `${payload}`]) {
      const res = await part(s.jobId, s.token, bad, 3, bytes(10, 1));
      expect(res.status, bad).toBe(404);
      expect(res.body.code).toBe("not_found");
    }
    const otherPath = await part(s.jobId, s.token, uploadId, 3, bytes(10, 1), "downloads/audio.m4a");
    expect(otherPath.status).toBe(404);

    const aborted = await internal(
      s.jobId,
      s.token,
      "DELETE",
      `outputs-multipart/${PATH}?upload_id=${encodeURIComponent(uploadId)}`,
    );
    expect(aborted.status).toBe(204);
    const afterAbort = await part(s.jobId, s.token, uploadId, 3, bytes(10, 1));
    expect(afterAbort.status).toBe(404);
    expect(afterAbort.body.code).toBe("not_found");
    await expectNothingStored(s.assetId);
  });

  it("refuses a completion with missing, extra, duplicated or never-uploaded parts", async () => {
    const key = await createKey();
    const s = await seedJob(key);
    const chunks = [bytes(PART, 4), bytes(PART, 5), bytes(100, 6)];
    const created = await create<MultipartCreated>(s.jobId, s.token, 2 * PART + 100);
    const uploadId = created.body.upload_id as string;
    const etags: { part: number; etag: string }[] = [];
    for (const n of [1, 3]) {
      const res = await part<MultipartPartReply>(s.jobId, s.token, uploadId, n, chunks[n - 1] as Uint8Array);
      etags.push({ part: n, etag: res.body.etag });
    }
    const complete = (parts: { part: number; etag: string }[], id = uploadId) =>
      internal<Problem>(s.jobId, s.token, "POST", `outputs-multipart/${PATH}/complete`, {
        attempt: 1,
        upload_id: id,
        parts,
      });

    const missing = await complete(etags);
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe("validation_failed");
    expect(missing.body.detail).toBe("This upload has exactly 3 parts: missing part(s) 2.");

    const extra = await complete([...etags, { part: 2, etag: "x" }, { part: 4, etag: "y" }]);
    expect(extra.status).toBe(400);
    expect(extra.body.detail).toContain("part(s) 4 beyond 3");
    const twice = await complete([...etags, { part: 2, etag: "x" }, { part: 3, etag: "y" }]);
    expect(twice.body.detail).toContain("a part listed twice");

    // Listed but never uploaded: R2 refuses to assemble, and so do we, precisely.
    const notUploaded = await complete([...etags, { part: 2, etag: "0123456789abcdef" }]);
    expect(notUploaded.status).toBe(400);
    expect(notUploaded.body.code).toBe("validation_failed");
    expect(notUploaded.body.errors[0].location).toBe("body.parts");

    const unknown = await complete(etags, "forged.handle");
    expect(unknown.status).toBe(404);

    const badBody = await internal(s.jobId, s.token, "POST", `outputs-multipart/${PATH}/complete`, {
      attempt: 1,
      upload_id: uploadId,
      parts: [],
    });
    expect(badBody.status).toBe(400);
    await expectNothingStored(s.assetId);
  });

  it("refuses oversized files, path traversal, a stale attempt and a job that is not running", async () => {
    const key = await createKey();
    const s = await seedJob(key);
    const huge = await create(s.jobId, s.token, 51 * 1024 * 1024 * 1024);
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe("payload_too_large");
    const tooManyParts = await internal<Problem>(s.jobId, s.token, "POST", `outputs-multipart/${PATH}`, {
      attempt: 1,
      size: 10_001 * PART,
      part_size: PART,
    });
    expect(tooManyParts.status).toBe(400);
    expect(tooManyParts.body.errors[0].location).toBe("body.part_size");
    const tinyPart = await internal<Problem>(s.jobId, s.token, "POST", `outputs-multipart/${PATH}`, {
      attempt: 1,
      size: 100,
      part_size: 1024,
    });
    expect(tinyPart.status).toBe(400);
    expect(tinyPart.body.errors[0].location).toBe("body.part_size");
    const wrongAttempt = await create(s.jobId, s.token, 100, PATH, 2);
    expect(wrongAttempt.status).toBe(409);

    for (const path of ["..%2F..%2Fx.mp4", "a/b/c.mp4", "%2Fetc%2Fpasswd", "x%00.mp4"]) {
      const res = await create<Problem>(s.jobId, s.token, 100, path);
      expect(res.status, path).toBe(400);
      expect(res.body.code).toBe("validation_failed");
      expect(res.body.errors[0].location).toBe("path");
    }
    for (const path of ["downloads/..", "../other.mp4", "downloads/%2E%2E"]) {
      expect((await create(s.jobId, s.token, 100, path)).status, path).toBe(404);
    }

    // A live upload, then the job moves on to attempt 2: the attempt-1 run can do nothing with it.
    const created = await create<MultipartCreated>(s.jobId, s.token, PART + 1);
    const uploadId = created.body.upload_id as string;
    await env.DB.prepare("update jobs set attempt = 2 where id = ?").bind(s.jobId).run();
    const stale = [
      await create(s.jobId, s.token, 100),
      await part(s.jobId, s.token, uploadId, 2, bytes(1, 1)),
      await internal(s.jobId, s.token, "POST", `outputs-multipart/${PATH}/complete`, {
        attempt: 1,
        upload_id: uploadId,
        parts: [{ part: 1, etag: "x" }],
      }),
      await internal(s.jobId, s.token, "DELETE", `outputs-multipart/${PATH}?upload_id=${uploadId}`),
    ];
    for (const res of stale) {
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("conflict");
    }

    const done = await seedJob(key, { jobStatus: "succeeded" });
    const late = await create(done.jobId, done.token, 100);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe("invalid_state");
    await expectNothingStored(s.assetId);
    await expectNothingStored(done.assetId);
  });

  it("abort leaves no object, even with every part uploaded", async () => {
    const key = await createKey();
    const s = await seedJob(key);
    const created = await create<MultipartCreated>(s.jobId, s.token, PART + 5);
    const uploadId = created.body.upload_id as string;
    const p1 = await part(s.jobId, s.token, uploadId, 1, bytes(PART, 9));
    const p2 = await part(s.jobId, s.token, uploadId, 2, bytes(5, 9));
    expect([p1.status, p2.status]).toEqual([200, 200]);
    const aborted = await internal(s.jobId, s.token, "DELETE", `outputs-multipart/${PATH}?upload_id=${uploadId}`);
    expect(aborted.status).toBe(204);
    const complete = await internal(s.jobId, s.token, "POST", `outputs-multipart/${PATH}/complete`, {
      attempt: 1,
      upload_id: uploadId,
      parts: [
        { part: 1, etag: p1.body.etag },
        { part: 2, etag: p2.body.etag },
      ],
    });
    expect(complete.status).toBe(404);
    expect(complete.body.code).toBe("not_found");
    await expectNothingStored(s.assetId);
  });
});
