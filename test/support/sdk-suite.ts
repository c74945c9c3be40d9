/**
 * The SDK's behaviour suite, run unchanged in two places: in workerd against the API worker through
 * SELF.fetch (test/workers/sdk.test.ts) and in Node against the real local stack with the transcoder and the
 * edge (test/node/sdk.test.ts). The suite only talks to the API through `@keyframe/sdk`.
 */
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  Keyframe,
  KeyframeApiError,
  signPlaybackToken,
  uploadFile,
  verifyWebhook,
  WebhookVerificationError,
} from "../../sdk/src/index";

export interface SdkTarget {
  baseUrl: string;
  apiKey: string;
  /** How the SDK reaches the API (default: global fetch). */
  fetch?: (req: Request) => Promise<Response>;
  /** The file uploadFile sends: a real clip when a transcoder runs, any bytes otherwise. */
  clip: Uint8Array;
  /** With a transcoder and an edge: wait for `ready` and play the signed master from the edge. */
  edgeUrl?: string;
}

export function sdkSuite(target: () => SdkTarget) {
  const client = (apiKey = target().apiKey, extra: Partial<ConstructorParameters<typeof Keyframe>[0]> = {}) =>
    new Keyframe({ baseUrl: target().baseUrl, apiKey, fetch: target().fetch, ...extra });

  // Generous: the suite shares a loaded machine, and in Node it waits for a real transcode.
  describe("@keyframe/sdk", { timeout: 200_000 }, () => {
    it("uploads with tus, follows the asset and signs a playback token", async () => {
      const t = target();
      const kf = client();
      const up = await kf.uploads.create({ correlation_id: "sdk-suite" });
      expect(up.id).toMatch(/^up_/);
      expect(up.tus_url).toBeTruthy();
      const progress: number[] = [];
      await uploadFile({ tus_url: up.tus_url as string }, new Blob([t.clip], { type: "video/mp4" }), {
        chunkSize: Math.ceil(t.clip.byteLength / 3),
        fetch: t.fetch,
        onProgress: (sent, total) => {
          expect(total).toBe(t.clip.byteLength);
          progress.push(sent);
        },
      });
      expect(progress.length).toBeGreaterThanOrEqual(3);
      expect(progress.at(-1)).toBe(t.clip.byteLength);
      const done = await kf.uploads.get({ upload_id: up.id });
      expect(done.status).toBe("completed");
      expect(done.size).toBe(t.clip.byteLength);
      const assetId = done.asset_id as string;
      expect(assetId).toMatch(/^as_/);

      const key = await kf.signingKeys.create({});
      const pem = (key as { private_key_pem: string }).private_key_pem;
      const asset = t.edgeUrl
        ? await kf.waitForAsset(assetId, { until: "ready", timeoutMs: 150_000, intervalMs: 250 })
        : await kf.waitForAsset(assetId, { until: (a) => a.status !== "waiting", timeoutMs: 20_000, intervalMs: 100 });
      const playbackId = asset.playback_ids[0].id;
      expect(asset.playback_ids[0].policy).toBe("signed");
      const token = await signPlaybackToken({ keyId: key.id, privateKey: pem, playbackId, expiresIn: 600 });
      expect(decodeProtectedHeader(token)).toMatchObject({ alg: "ES256", kid: key.id });
      const { payload } = await jwtVerify(token, await importJWK(key.public_jwk, "ES256"), { audience: "v" });
      expect(payload.sub).toBe(playbackId);
      expect((payload.exp as number) - Math.floor(Date.now() / 1000)).toBeGreaterThan(590);

      if (t.edgeUrl) {
        const refused = await fetch(`${t.edgeUrl}/${playbackId}.m3u8`);
        expect(refused.status).toBeGreaterThanOrEqual(400);
        const master = await fetch(`${t.edgeUrl}/${playbackId}.m3u8?token=${token}`);
        expect(master.status).toBe(200);
        expect(await master.text()).toMatch(/^#EXTM3U/);
      } else {
        expect(["queued", "processing", "ready", "errored"]).toContain(asset.status);
      }
    });

    it("maps problem+json to KeyframeApiError with code, status and request_id", async () => {
      const kf = client();
      const missing = "as_00000000000000000000000000";
      const err = await kf.assets.get({ asset_id: missing }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyframeApiError);
      const e = err as KeyframeApiError;
      expect(e.status).toBe(404);
      expect(e.code).toBe("not_found");
      expect(e.request_id).toMatch(/^req_/);
      expect(KeyframeApiError.is(e, "not_found")).toBe(true);

      const invalid = await kf.assets.create({ input: { url: "not a url" } }).catch((x: unknown) => x);
      expect(invalid).toBeInstanceOf(KeyframeApiError);
      expect((invalid as KeyframeApiError).code).toBe("validation_failed");
      expect((invalid as KeyframeApiError).errors.length).toBeGreaterThan(0);

      const bad = await client("kf_not_a_real_key_000000000000000000000")
        .assets.list()
        .then(
          () => null,
          (x: unknown) => x,
        );
      expect(bad).toBeInstanceOf(KeyframeApiError);
      expect((bad as KeyframeApiError).code).toBe("unauthenticated");
      expect((bad as KeyframeApiError).status).toBe(401);
    });

    it("iterates a list across pages with for await", async () => {
      const kf = client();
      const created: string[] = [];
      for (let i = 0; i < 5; i++) created.push((await kf.assets.create({ correlation_id: `page-${i}` })).id);
      const seen: string[] = [];
      for await (const a of kf.assets.list({ limit: 2 })) seen.push(a.id);
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of created) expect(seen).toContain(id);
      let pages = 0;
      for await (const page of kf.assets.list({ limit: 2 }).pages()) {
        pages++;
        expect(page.data.length).toBeLessThanOrEqual(2);
      }
      expect(pages).toBeGreaterThanOrEqual(3);
      const first = await kf.assets.list({ limit: 2 });
      expect(first.data).toHaveLength(2);
      expect(first.next_cursor).toBeTruthy();
    });

    it("sends an Idempotency-Key on every create: a chosen key replays, the default never collides", async () => {
      const kf = client();
      const k = crypto.randomUUID();
      const a = await kf.assets.create({ correlation_id: "idem" }, { idempotencyKey: k });
      const b = await kf.assets.create({ correlation_id: "idem" }, { idempotencyKey: k });
      expect(b.id).toBe(a.id);
      const c = await kf.assets.create({ correlation_id: "idem" });
      const d = await kf.assets.create({ correlation_id: "idem" });
      expect(new Set([a.id, c.id, d.id]).size).toBe(3);
    });

    it("retries 429 and 5xx with backoff, honouring Retry-After, with the same Idempotency-Key", async () => {
      const seen: { at: number; key: string | null }[] = [];
      const answers = [
        new Response(JSON.stringify({ code: "rate_limited", detail: "slow down", status: 429 }), {
          status: 429,
          headers: { "retry-after": "1", "content-type": "application/problem+json" },
        }),
        new Response("", { status: 503 }),
        Response.json({ id: "as_00000000000000000000000001", status: "waiting" }, { status: 201 }),
      ];
      const stub = async (req: Request) => {
        seen.push({ at: Date.now(), key: req.headers.get("idempotency-key") });
        await req.text();
        return answers.shift() as Response;
      };
      const kf = client("kf_stub", { fetch: stub, baseDelayMs: 10 });
      const started = Date.now();
      const asset = await kf.assets.create({});
      expect(asset.id).toBe("as_00000000000000000000000001");
      expect(seen).toHaveLength(3);
      expect(seen[1].at - started).toBeGreaterThanOrEqual(950); // Retry-After: 1
      expect(new Set(seen.map((s) => s.key)).size).toBe(1);
      expect(seen[0].key).toBeTruthy();

      let calls = 0;
      const down = client("kf_stub", {
        baseDelayMs: 1,
        maxRetries: 2,
        fetch: async () => {
          calls++;
          return new Response(
            JSON.stringify({ code: "internal_error", status: 500, detail: "boom", request_id: "req_x", errors: [] }),
            { status: 500, headers: { "content-type": "application/problem+json" } },
          );
        },
      });
      const err = await down.assets.list().then(
        () => null,
        (e: unknown) => e,
      );
      expect(calls).toBe(3);
      expect(err).toBeInstanceOf(KeyframeApiError);
      expect((err as KeyframeApiError).code).toBe("internal_error");
      expect((err as KeyframeApiError).request_id).toBe("req_x");
    });

    it("verifies Standard Webhooks signatures made by the standardwebhooks library", async () => {
      const secret = `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))}`;
      const wh = new Webhook(secret);
      const body = JSON.stringify({ id: "evt_1", type: "asset.ready", data: { id: "as_1" } });
      const now = new Date();
      const headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
        "webhook-signature": wh.sign("msg_1", now, body),
      };
      expect(await verifyWebhook(body, headers, secret)).toMatchObject({ type: "asset.ready" });
      expect(await verifyWebhook(new TextEncoder().encode(body), new Headers(headers), secret)).toMatchObject({
        id: "evt_1",
      });
      // During a rotation two signatures are sent; either secret verifies.
      const other = `whsec_${btoa("another-secret-of-enough-length")}`;
      const both = {
        ...headers,
        "webhook-signature": `${new Webhook(other).sign("msg_1", now, body)} ${headers["webhook-signature"]}`,
      };
      expect(await verifyWebhook(body, both, secret)).toBeTruthy();
      expect(await verifyWebhook(body, both, other)).toBeTruthy();

      const rejects = (b: string, h: Record<string, string>, s = secret) =>
        expect(verifyWebhook(b, h, s)).rejects.toBeInstanceOf(WebhookVerificationError);
      await rejects(body.replace("as_1", "as_2"), headers);
      await rejects(body, headers, other);
      await rejects(body, { ...headers, "webhook-id": "msg_2" });
      const old = new Date(now.getTime() - 10 * 60_000);
      await rejects(body, {
        ...headers,
        "webhook-timestamp": String(Math.floor(old.getTime() / 1000)),
        "webhook-signature": wh.sign("msg_1", old, body),
      });
      await rejects(body, { "webhook-id": "msg_1" });
      // Within a custom tolerance the old delivery is accepted.
      expect(
        await verifyWebhook(
          body,
          {
            ...headers,
            "webhook-timestamp": String(Math.floor(old.getTime() / 1000)),
            "webhook-signature": wh.sign("msg_1", old, body),
          },
          secret,
          { toleranceSeconds: 900 },
        ),
      ).toBeTruthy();
    });
  });
}
