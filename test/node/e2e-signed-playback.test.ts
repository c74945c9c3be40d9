/**
 * Signed playback for real: a private-by-default upload, tokens minted by the API and by the app's own
 * backend (jose, with the private key POST /v1/signing-keys returned), played by hls.js in headless
 * Chromium from an allowed origin and refused from a disallowed one, and the embed page playing.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { importPKCS8, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreatedSigningKey, PlaybackId, PlaybackTokens, Upload } from "../support/api-types";
import { launchChromium, playInChromium, servePlayerPage } from "./support/browser";
import { type E2E, startE2E } from "./support/e2e";
import { makeClip } from "./support/media";
import type { PageGlobals } from "./support/page-globals";

describe("signed playback end to end", () => {
  let e: E2E;
  let page: Awaited<ReturnType<typeof servePlayerPage>>;
  let restrictedId: string;
  let videoToken: string;
  const allowedOrigin = () => `http://localhost:${page.port}`;
  const otherOrigin = () => `http://127.0.0.1:${page.port}`;

  beforeAll(async () => {
    e = await startE2E();
    const work = mkdtempSync(path.join(tmpdir(), "keyframe-signed-"));
    const clip = await makeClip(path.join(work, "clip.mp4"), { seconds: 4 });
    // No new_asset_settings: uploads are private (signed) by default.
    const created = await e.api<Upload>("POST", "/v1/uploads", {});
    expect(created.status).toBe(201);
    const bytes = new Uint8Array(readFileSync(clip));
    const put = await fetch(created.body.url!, {
      method: "PUT",
      headers: { "content-type": "video/mp4", "content-length": String(bytes.byteLength) },
      body: bytes,
    });
    expect(put.status).toBe(200);
    const { asset_id } = (await put.json()) as { asset_id: string };
    const asset = await e.waitForAsset(asset_id, (a) => a.renditions_status === "complete" || a.status === "errored");
    expect(asset.status).toBe("ready");
    expect(asset.playback_ids[0].policy).toBe("signed");

    // Page server is needed first: the allow-list names its host.
    page = await servePlayerPage();
    const pb = await e.api<PlaybackId>("POST", `/v1/assets/${asset_id}/playback-ids`, {
      policy: "signed",
      allowed_origins: ["localhost"],
      allow_no_referrer: false,
    });
    expect(pb.status).toBe(201);
    restrictedId = pb.body.id;
    const minted = await e.api<PlaybackTokens>("POST", `/v1/playback-ids/${restrictedId}/tokens`, { expires_in: 600 });
    expect(minted.status).toBe(200);
    videoToken = minted.body.video;
  });

  afterAll(async () => {
    await page?.close();
    await e?.close();
  });

  it("refuses the signed master without a token, and with a tampered one", async () => {
    const headers = { origin: allowedOrigin() };
    const none = await fetch(`${e.stack.edgeUrl}/${restrictedId}.m3u8`, { headers });
    expect(none.status).toBe(401);
    const [h, p, s] = videoToken.split(".");
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, "base64url").toString()), sub: "pb_x" })).toString("base64url")}.${s}`;
    const bad = await fetch(`${e.stack.edgeUrl}/${restrictedId}.m3u8?token=${tampered}`, { headers });
    expect(bad.status).toBe(403);
  });

  it("plays with a token the app signed itself with jose and the key the API returned", async () => {
    const key = await e.api<CreatedSigningKey>("POST", "/v1/signing-keys", {});
    expect(key.status).toBe(201);
    const privateKey = await importPKCS8(key.body.private_key_pem, "ES256");
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: key.body.id })
      .setSubject(restrictedId)
      .setAudience("v")
      .setExpirationTime("10m")
      .sign(privateKey);
    const result = await playInChromium(`${e.stack.edgeUrl}/${restrictedId}.m3u8?token=${token}`, {
      pageOrigin: allowedOrigin(),
    });
    expect(result.usedHlsJs).toBe(true);
    expect(result.errors).toEqual([]);
    expect(result.ended).toBe(true);
    expect(result.currentTime).toBeGreaterThan(3.5);
  });

  it("plays a signed asset through hls.js from an allowed origin", async () => {
    const result = await playInChromium(`${e.stack.edgeUrl}/${restrictedId}.m3u8?token=${videoToken}`, {
      pageOrigin: allowedOrigin(),
    });
    expect(result.errors).toEqual([]);
    expect(result.ended).toBe(true);
  });

  it("fails from a disallowed origin", async () => {
    const result = await playInChromium(`${e.stack.edgeUrl}/${restrictedId}.m3u8?token=${videoToken}`, {
      pageOrigin: otherOrigin(),
      timeoutMs: 20_000,
    });
    expect(result.ended).toBe(false);
    expect(result.errors.length).toBeGreaterThan(0);
    expect(result.errors[0]).toMatch(/manifest/i);
  });

  it("plays in the embed page framed by an allowed origin, and is refused when framed elsewhere", async () => {
    const embedUrl = `${e.stack.edgeUrl}/embed/${restrictedId}?token=${videoToken}`;
    const browser = await launchChromium();
    try {
      const framed = async (origin: string) => {
        const tab = await browser.newPage();
        await tab.goto(`${origin}/`);
        await tab.evaluate((src) => {
          const { document } = globalThis as unknown as PageGlobals;
          const f = document.createElement("iframe");
          f.src = src;
          f.width = "640";
          f.height = "360";
          document.body!.appendChild(f);
        }, embedUrl);
        return tab;
      };
      const good = await framed(allowedOrigin());
      const frame = await (async () => {
        for (let i = 0; i < 100; i++) {
          const f = good.frames().find((x) => x.url().includes("/embed/"));
          if (f) return f;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error("embed frame never attached");
      })();
      await frame.waitForFunction(
        () => (globalThis as unknown as PageGlobals).document.body?.dataset.state === "ready",
        null,
        {
          timeout: 30_000,
        },
      );
      await frame.evaluate(() => {
        const v = (globalThis as unknown as PageGlobals).document.getElementById("kf-video")!;
        v.muted = true;
        return v.play();
      });
      await frame.waitForFunction(
        () => (globalThis as unknown as PageGlobals).document.body!.dataset.state === "ended",
        null,
        {
          timeout: 30_000,
        },
      );

      const bad = await framed(otherOrigin());
      await new Promise((r) => setTimeout(r, 3000));
      const badFrame = bad.frames().find((x) => x !== bad.mainFrame());
      const state = await badFrame
        ?.evaluate(() => (globalThis as unknown as PageGlobals).document.body?.dataset.state ?? null)
        .catch(() => null);
      // Either Chromium blocked the frame (CSP frame-ancestors → an error page) or the page says "refused".
      expect(badFrame).toBeDefined();
      expect(badFrame!.url().startsWith("chrome-error://") || state === "refused").toBe(true);
    } finally {
      await browser.close();
    }
  });
});
