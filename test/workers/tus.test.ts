/**
 * tus 1.0.0 protocol through the real worker: creation, HEAD, PATCH, OPTIONS, the extensions, and the
 * bad input the issue lists. Storage-heavy cases (multi-part files, cut-off bodies, expiry, races)
 * live in tus-storage.test.ts.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { uploadUrlToken } from "../../src/services/uploads/verbs";
import { api, createKey } from "./factories";
import {
  b64,
  create,
  head,
  inspectSession,
  localUrl,
  newUpload,
  patch,
  r2Sha,
  sha1Base64,
  sha256,
  testBytes,
  tus,
} from "./tus-helpers";

describe("tus protocol", () => {
  it("creates on the tus_url, reports offsets, appends, completes into one asset", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key, { new_asset_settings: { title: "tus clip" } });
    expect(up.tusUrl).toMatch(new RegExp(`/tus/${up.id}\\?token=`));

    const options = await tus(up.url, "OPTIONS");
    expect(options.status).toBe(204);
    expect(options.headers.get("tus-version")).toBe("1.0.0");
    expect(options.headers.get("tus-extension")).toBe(
      "creation,creation-with-upload,creation-defer-length,expiration,termination,checksum",
    );
    expect(Number(options.headers.get("tus-max-size"))).toBeGreaterThanOrEqual(50e9);
    expect(options.headers.get("tus-checksum-algorithm")).toBe("sha1");

    const bytes = testBytes(300_000);
    const created = await create(up.url, bytes.length, {
      "Upload-Metadata": `filename ${b64("clip.mp4")},filetype ${b64("video/mp4")},is_confidential`,
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe(up.tusUrl);
    expect(created.headers.get("tus-resumable")).toBe("1.0.0");
    expect(created.headers.get("upload-expires")).toMatch(/GMT$/);

    const h0 = await head(up.url);
    expect(h0.status).toBe(200);
    expect(h0.headers.get("upload-offset")).toBe("0");
    expect(h0.headers.get("upload-length")).toBe(String(bytes.length));
    expect(h0.headers.get("cache-control")).toBe("no-store");
    expect(h0.headers.get("upload-metadata")).toContain("filename");
    expect(new Date(h0.headers.get("upload-expires") ?? "").getTime()).toBeGreaterThan(Date.now());

    const p1 = await patch(up.url, 0, bytes.subarray(0, 100_001));
    expect(p1.status).toBe(204);
    expect(p1.headers.get("upload-offset")).toBe("100001");
    expect(p1.headers.get("upload-expires")).toMatch(/GMT$/);
    expect(p1.headers.get("tus-resumable")).toBe("1.0.0");

    const progress = await api(key, "GET", `/v1/uploads/${up.id}`);
    expect(progress.body).toMatchObject({ status: "uploading", bytes_received: 100_001, size: bytes.length });

    const p2 = await patch(up.url, 100_001, bytes.subarray(100_001));
    expect(p2.status).toBe(204);
    expect(p2.headers.get("upload-offset")).toBe(String(bytes.length));

    const done = await api(key, "GET", `/v1/uploads/${up.id}`);
    expect(done.body).toMatchObject({ status: "completed", bytes_received: bytes.length, size: bytes.length });
    const assetId = done.body.asset_id as string;
    expect(assetId).toMatch(/^as_/);
    const asset = await api(key, "GET", `/v1/assets/${assetId}`);
    expect(asset.status).toBe(200);
    expect(asset.body).toMatchObject({ title: "tus clip" });
    const obj = await r2Sha(up.id);
    expect(obj).toEqual({ sha: await sha256(bytes), size: bytes.length });
    expect((await env.MEDIA.head(`sources/${up.id}/source`))?.httpMetadata?.contentType).toBe("video/mp4");

    // HEAD after completion still answers (clients resuming from storage see "done").
    const h1 = await head(up.url);
    expect(h1.status).toBe(200);
    expect(h1.headers.get("upload-offset")).toBe(String(bytes.length));
    // PATCH after completion: 409, and still exactly one asset.
    const again = await patch(up.url, bytes.length, new Uint8Array(0));
    expect(again.status).toBe(409);
    expect(again.json?.code).toBe("invalid_state");
    const retried = await patch(up.url, 100_001, bytes.subarray(100_001));
    expect(retried.status).toBe(409);
    const count = await env.DB.prepare("select count(*) as n from assets where upload_id = ?").bind(up.id).first();
    expect(count?.n).toBe(1);
    const jobs = await env.DB.prepare("select count(*) as n from jobs where asset_id = ?").bind(assetId).first();
    expect(jobs?.n).toBe(1);
    const events = await env.DB.prepare("select type from events where upload_id = ? order by id").bind(up.id).all();
    expect(events.results.map((e) => e.type)).toEqual(["upload.created", "upload.completed", "asset.created"]);
  });

  it("answers protocol errors precisely", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key, { max_size_bytes: 10_000_000, allowed_content_types: ["video/*"] });

    const noVersion = await SELFfetch(up.url, "HEAD", {});
    expect(noVersion.status).toBe(412);
    expect(noVersion.headers.get("tus-version")).toBe("1.0.0");
    const oldVersion = await tus(up.url, "POST", { "Tus-Resumable": "0.2.2", "Upload-Length": "10" });
    expect(oldVersion.status).toBe(412);
    expect(oldVersion.json?.code).toBe("precondition_failed");

    expect((await create(up.url, 10_000_001)).status).toBe(413);
    expect((await tus(up.url, "POST", { "Upload-Length": "-5" })).status).toBe(400);
    expect((await tus(up.url, "POST", { "Upload-Length": "12abc" })).status).toBe(400);
    expect((await tus(up.url, "POST", { "Upload-Length": "1e9" })).status).toBe(400);
    expect((await tus(up.url, "POST", { "Upload-Length": "99999999999999999999" })).status).toBe(413);
    expect((await tus(up.url, "POST", { "Upload-Length": String(60 * 1024 ** 4) })).status).toBe(413);
    expect((await tus(up.url, "POST", {})).status).toBe(400); // neither length nor defer
    expect((await tus(up.url, "POST", { "Upload-Length": "10", "Upload-Defer-Length": "1" })).status).toBe(400);
    expect((await tus(up.url, "POST", { "Upload-Defer-Length": "2" })).status).toBe(400);

    for (const bad of ["filename", "filename !!!", "a b c", `k ${b64("x")},k ${b64("y")}`, ",", "name Zm9v="]) {
      const r = await create(up.url, 100, { "Upload-Metadata": bad === "filename" ? "filename %%%" : bad });
      expect(r.status, bad).toBe(400);
      expect(r.json?.code).toBe("bad_request");
    }
    const wrongType = await create(up.url, 100, { "Upload-Metadata": `filetype ${b64("image/png")}` });
    expect(wrongType.status).toBe(415);
    expect(wrongType.json?.code).toBe("unsupported_media_type");

    expect((await create(up.url, 1000, { "Upload-Metadata": `filetype ${b64("video/webm")}` })).status).toBe(201);
    // A second creation with a different length conflicts; the same one is an idempotent retry.
    expect((await create(up.url, 2000)).status).toBe(409);
    expect((await create(up.url, 1000)).status).toBe(201);

    const bytes = testBytes(1000, 7);
    const wrongCt = await tus(up.url, "PATCH", { "Upload-Offset": "0", "Content-Type": "application/json" }, bytes);
    expect(wrongCt.status).toBe(415);
    const noOffset = await tus(up.url, "PATCH", { "Content-Type": "application/offset+octet-stream" }, bytes);
    expect(noOffset.status).toBe(400);
    const mismatch = await patch(up.url, 10, bytes);
    expect(mismatch.status).toBe(409);
    expect(mismatch.headers.get("upload-offset")).toBe("0");
    const tooLong = await patch(up.url, 0, testBytes(1001));
    expect(tooLong.status).toBe(413);
    const changeLength = await patch(up.url, 0, bytes.subarray(0, 10), { "Upload-Length": "999" });
    expect(changeLength.status).toBe(400);

    // checksum: unsupported algorithm → 400; mismatch → 460 and nothing kept; match → accepted.
    const md5 = await patch(up.url, 0, bytes.subarray(0, 10), { "Upload-Checksum": "md5 AAAA" });
    expect(md5.status).toBe(400);
    const wrongSum = await patch(up.url, 0, bytes.subarray(0, 500), {
      "Upload-Checksum": `sha1 ${await sha1Base64(bytes.subarray(1, 501))}`,
    });
    expect(wrongSum.status).toBe(460);
    expect(wrongSum.json?.code).toBe("checksum_mismatch");
    expect((await head(up.url)).headers.get("upload-offset")).toBe("0");
    const rightSum = await patch(up.url, 0, bytes.subarray(0, 500), {
      "Upload-Checksum": `sha1 ${await sha1Base64(bytes.subarray(0, 500))}`,
    });
    expect(rightSum.status).toBe(204);
    expect(rightSum.headers.get("upload-offset")).toBe("500");

    // X-HTTP-Method-Override: a POST that means PATCH.
    const overridden = await tus(
      up.url,
      "POST",
      {
        "X-HTTP-Method-Override": "PATCH",
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": "500",
      },
      bytes.subarray(500),
    );
    expect(overridden.status).toBe(204);
    expect(overridden.headers.get("upload-offset")).toBe("1000");
    expect((await r2Sha(up.id))?.sha).toBe(await sha256(bytes));

    // Unknown upload (valid token for an ID that does not exist) → 404; wrong token → 401.
    const ghost = "up_0000000000000000000000ghst";
    const ghostUrl = `http://keyframe.test/tus/${ghost}?token=${await uploadUrlToken(env, ghost)}`;
    expect((await head(ghostUrl)).status).toBe(404);
    expect((await head(`http://keyframe.test/tus/not-an-id?token=x`)).status).toBe(404);
    const badToken = await head(up.url.replace(/token=.*/, "token=nope"));
    expect(badToken.status).toBe(401);
    expect((await tus("http://keyframe.test/tus", "POST", { "Upload-Length": "10" })).status).toBe(404);
    expect((await tus(up.url, "GET")).status).toBe(405);
  });

  it("defers the length, then refuses a second, different Upload-Length", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    const bytes = testBytes(5000, 3);
    expect((await create(up.url, "defer")).status).toBe(201);
    const h = await head(up.url);
    expect(h.headers.get("upload-defer-length")).toBe("1");
    expect(h.headers.get("upload-length")).toBeNull();
    expect((await patch(up.url, 0, bytes.subarray(0, 2000))).status).toBe(204);
    // Declaring a length below what already arrived is invalid.
    expect((await patch(up.url, 2000, bytes.subarray(2000, 2100), { "Upload-Length": "1000" })).status).toBe(400);
    const declared = await patch(up.url, 2000, bytes.subarray(2000, 3000), { "Upload-Length": "5000" });
    expect(declared.status).toBe(204);
    expect((await head(up.url)).headers.get("upload-length")).toBe("5000");
    const differing = await patch(up.url, 3000, bytes.subarray(3000), { "Upload-Length": "6000" });
    expect(differing.status).toBe(400);
    const last = await patch(up.url, 3000, bytes.subarray(3000), { "Upload-Length": "5000" });
    expect(last.status).toBe(204);
    expect(last.headers.get("upload-offset")).toBe("5000");
    expect((await r2Sha(up.id))?.sha).toBe(await sha256(bytes));
    const got = await api(key, "GET", `/v1/uploads/${up.id}`);
    expect(got.body).toMatchObject({ status: "completed", size: 5000 });
  });

  it("accepts an upload reached by URL alone (no creation) as deferred length", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    const bytes = testBytes(3000, 5);
    const h = await head(up.url);
    expect(h.status).toBe(200);
    expect(h.headers.get("upload-offset")).toBe("0");
    expect(h.headers.get("upload-defer-length")).toBe("1");
    const r = await patch(up.url, 0, bytes, { "Upload-Length": "3000" });
    expect(r.status).toBe(204);
    expect((await api(key, "GET", `/v1/uploads/${up.id}`)).body.status).toBe("completed");
  });

  it("creation-with-upload: the POST body is the first chunk", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    const bytes = testBytes(4000, 11);
    const r = await tus(
      up.url,
      "POST",
      { "Upload-Length": "4000", "Content-Type": "application/offset+octet-stream" },
      bytes.subarray(0, 1500),
    );
    expect(r.status).toBe(201);
    expect(r.headers.get("upload-offset")).toBe("1500");
    expect((await patch(up.url, 1500, bytes.subarray(1500))).status).toBe(204);
    expect((await r2Sha(up.id))?.sha).toBe(await sha256(bytes));
    const wrongType = await tus(up.url, "POST", { "Upload-Length": "10", "Content-Type": "text/plain" }, "hello");
    expect(wrongType.status).toBe(415);
  });

  it("terminates: DELETE cancels the upload, frees the session, emits upload.cancelled", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    expect((await create(up.url, 50_000)).status).toBe(201);
    expect((await patch(up.url, 0, testBytes(20_000))).status).toBe(204);
    expect((await inspectSession(up.id)).tailBytes).toBe(20_000);
    const del = await tus(up.url, "DELETE");
    expect(del.status).toBe(204);
    expect(del.headers.get("tus-resumable")).toBe("1.0.0");
    const after = await inspectSession(up.id);
    expect(after.tailBytes).toBe(0);
    expect(after.state?.status).toBe("closed");
    expect((await head(up.url)).status).toBe(410);
    expect((await patch(up.url, 20_000, testBytes(10))).status).toBe(410);
    expect((await api(key, "GET", `/v1/uploads/${up.id}`)).body.status).toBe("cancelled");
    const ev = await env.DB.prepare(
      "select count(*) as n from events where upload_id = ? and type = 'upload.cancelled'",
    )
      .bind(up.id)
      .first();
    expect(ev?.n).toBe(1);
  });

  it("serves CORS for the upload's cors_origin only", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key, { cors_origin: "https://app.example.com" });
    const pre = await tus(up.url, "OPTIONS", {
      Origin: "https://app.example.com",
      "Access-Control-Request-Method": "PATCH",
      "Access-Control-Request-Headers": "tus-resumable,upload-offset,content-type",
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(pre.headers.get("access-control-allow-methods")).toContain("PATCH");
    const allowed = (pre.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of ["upload-offset", "upload-checksum", "x-http-method-override", "content-type", "tus-resumable"]) {
      expect(allowed).toContain(h);
    }
    const created = await create(up.url, 10, { Origin: "https://app.example.com" });
    expect(created.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const exposed = (created.headers.get("access-control-expose-headers") ?? "").toLowerCase();
    for (const h of ["location", "upload-offset", "upload-length", "upload-expires", "tus-resumable", "tus-version"]) {
      expect(exposed).toContain(h);
    }
    const other = await tus(up.url, "OPTIONS", {
      Origin: "https://evil.example",
      "Access-Control-Request-Method": "PATCH",
    });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    // Errors carry CORS too, so the browser can read them.
    const err = await patch(up.url, 5, testBytes(3), { Origin: "https://app.example.com" });
    expect(err.status).toBe(409);
    expect(err.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
  });

  it("410 after expiry, for HEAD and PATCH", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    expect((await create(up.url, 100)).status).toBe(201);
    await env.DB.prepare("update uploads set expires_at = ? where id = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), up.id)
      .run();
    expect((await head(up.url)).status).toBe(410);
    const p = await patch(up.url, 0, testBytes(10));
    expect(p.status).toBe(410);
    expect(p.json?.code).toBe("gone");
  });

  it("tus_url host is the configured API_PUBLIC_URL", async () => {
    const key = await createKey(["*"]);
    const up = await newUpload(key);
    expect(up.tusUrl.startsWith(env.API_PUBLIC_URL)).toBe(true);
    expect(localUrl(up.tusUrl)).toBe(up.url);
  });
});

async function SELFfetch(url: string, method: string, headers: Record<string, string>) {
  const { SELF } = await import("cloudflare:test");
  return SELF.fetch(url, { method, headers });
}
