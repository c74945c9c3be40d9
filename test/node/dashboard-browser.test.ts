/**
 * The dashboard driven like a person would, in headless Chromium against the real local stack: a wrong key is
 * refused clearly, a clip goes up through the page with tus (the progress bar moves, pause/resume works, a page
 * reload resumes the same upload), the asset reaches `ready` on the same page, plays in the detail page, and a
 * failed webhook delivery is retried from the page until the receiver (verifying Standard Webhooks signatures)
 * accepts it. Screenshots land in test-artifacts/dashboard/ (git-ignored) for a reviewer to look at.
 */
import { mkdirSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { CreatedApiKey, Page as ListPage, Track, Upload } from "../support/api-types";
import type { ReceivedRequest } from "../support/webhook-receiver";
import { startWebhookReceiver } from "../support/webhook-receiver";
import { launchChromium } from "./support/browser";
import { type E2E, startE2E } from "./support/e2e";
import { makeClip } from "./support/media";
import type { PageElement, PageGlobals, PageMedia } from "./support/page-globals";

const ARTIFACTS = path.join(import.meta.dirname, "../../test-artifacts/dashboard");

describe("dashboard in Chromium", () => {
  let e: E2E;
  let browser: Browser;
  let page: Page;
  let clip: string;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let assetId: string;

  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  /** Slow the page's uploads down so progress is observable (DevTools network emulation, upload side). */
  async function throttleUploads(bytesPerSecond: number) {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: bytesPerSecond,
    });
    return () =>
      cdp.send("Network.emulateNetworkConditions", {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
  }

  /** Every aria-valuenow the upload progress bar shows, recorded in the page as it changes. */
  async function recordUploadProgress() {
    // Runs in the page (this project's TypeScript has no DOM lib, hence globalThis).
    await page.evaluate(() => {
      const w = globalThis as unknown as PageGlobals & { progressSeen: number[] };
      w.progressSeen = [];
      const seen = new WeakSet<PageElement>();
      const watch = () => {
        const bar = w.document.querySelector('[role="progressbar"][aria-label="Upload progress"]');
        if (bar && !seen.has(bar)) {
          seen.add(bar);
          w.progressSeen.push(Number(bar.getAttribute("aria-valuenow")));
          new w.MutationObserver(() => w.progressSeen.push(Number(bar.getAttribute("aria-valuenow")))).observe(bar, {
            attributes: true,
            attributeFilter: ["aria-valuenow"],
          });
        }
      };
      new w.MutationObserver(watch).observe(w.document.body!, { childList: true, subtree: true });
    });
  }

  const progressSeen = () => page.evaluate(() => (globalThis as unknown as { progressSeen: number[] }).progressSeen);

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    receiver = await startWebhookReceiver();
    // One delivery attempt, so a failing receiver puts the delivery in the dead letter at once.
    e = await startE2E({ ALLOW_PRIVATE_WEBHOOK_URLS: "true", WEBHOOK_RETRY_SCHEDULE: "0", WEBHOOK_TIMEOUT_MS: "5000" });
    const work = mkdtempSync(path.join(tmpdir(), "keyframe-dashboard-"));
    // Big enough (a few MB) that a throttled upload takes seconds; standard H.264/AAC, so it is ready fast.
    clip = await makeClip(path.join(work, "dashboard-clip.mp4"), { width: 1280, height: 720, seconds: 8 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Two wrangler dev processes, the transcoder and Chromium on a shared, loaded box: allow more than the default.
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await e?.close();
    await receiver?.close();
  });

  it("refuses a wrong key with a clear error and keeps it out of the URL", async () => {
    await page.goto(`${e.stack.apiUrl}/dashboard`);
    await page.getByLabel("API key").fill(`kf_${"x".repeat(43)}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await expect.poll(() => alert.textContent(), { timeout: 15_000 }).toMatch(/not accepted.*not recognised/);
    await shot("01-wrong-key");
    await page.getByLabel("API key").fill("not-a-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => alert.textContent(), { timeout: 15_000 }).toMatch(/not accepted.*malformed/);
    expect(page.url()).not.toContain("kf_");
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).sessionStorage.length)).toBe(0);
  });

  it("signs in; the key lives in sessionStorage only and the empty state is designed", async () => {
    await page.getByLabel("API key").fill(e.secret);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Assets" }).waitFor({ timeout: 15_000 });
    await page.getByText("No assets yet").waitFor();
    expect(page.url()).not.toContain(e.secret);
    const stored = await page.evaluate(() => {
      const w = globalThis as unknown as PageGlobals;
      return {
        session: Object.values(w.sessionStorage),
        local: Object.values(w.localStorage),
        cookie: w.document.cookie,
      };
    });
    expect(stored.session).toContain(e.secret);
    expect(JSON.stringify(stored.local)).not.toContain(e.secret);
    expect(stored.cookie).toBe("");
    // A '*' key sees every page.
    for (const name of ["Assets", "Upload", "Webhooks", "Events", "Keys"]) {
      await page.getByRole("navigation").getByRole("link", { name }).waitFor();
    }
    // Live is offered exactly when the API documents live-stream operations (they are built in parallel).
    const doc = (await (await fetch(`${e.stack.apiUrl}/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
    const hasLive = Object.keys(doc.paths).some((p) => p.startsWith("/v1/live-streams"));
    const links = await page.getByRole("navigation").getByRole("link").allTextContents();
    expect(links.includes("Live")).toBe(hasLive);
    await shot("02-assets-empty");
  });

  it("uploads through the page with tus: progress moves, pause/resume, reload resumes, the asset gets ready", async () => {
    const size = statSync(clip).size;
    expect(size).toBeGreaterThan(1_000_000);
    await page.goto(`${e.stack.apiUrl}/dashboard#/upload`);
    await page.getByLabel("Upload video").waitFor();
    await recordUploadProgress();
    // ~20 s at this rate for the whole file: slow enough to pause, reload and watch the bar move on a loaded box.
    const unthrottle = await throttleUploads(Math.ceil(size / 20));
    await page.getByLabel("Title").fill("Dashboard clip");
    await page.getByLabel("Upload video").setInputFiles(clip);

    const bar = page.getByRole("progressbar", { name: "Upload progress" });
    await expect
      .poll(async () => Number(await bar.getAttribute("aria-valuenow")), { timeout: 30_000 })
      .toBeGreaterThan(5);
    await shot("03-uploading");

    // Pause: the bar stops; resume: it moves again.
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByText("Paused").waitFor();
    const paused = Number(await bar.getAttribute("aria-valuenow"));
    await page.waitForTimeout(1500);
    expect(Number(await bar.getAttribute("aria-valuenow"))).toBe(paused);
    await page.getByRole("button", { name: "Resume" }).click();
    await expect
      .poll(async () => Number(await bar.getAttribute("aria-valuenow")), { timeout: 30_000 })
      .toBeGreaterThan(paused);
    const before = await progressSeen();
    expect(before.length).toBeGreaterThan(3);

    // Reload mid-upload: still signed in (sessionStorage), the page lists the unfinished upload, and choosing
    // the same file again continues the same upload from where it stopped instead of starting over.
    const uploadsBefore = await e.api<ListPage<Upload>>("GET", "/v1/uploads?limit=10");
    await page.reload();
    await page.getByText("Unfinished uploads").waitFor({ timeout: 30_000 });
    await shot("04-unfinished-after-reload");
    await recordUploadProgress();
    await page.getByLabel("Upload video").setInputFiles(clip);
    await page.getByText("Resuming").waitFor({ timeout: 15_000 });
    const resumedBar = page.getByRole("progressbar", { name: "Upload progress" });
    await resumedBar.waitFor();
    const afterReload = await progressSeen();
    expect(afterReload[0]).toBeGreaterThan(0);
    await unthrottle();

    // Then the same page follows the asset to ready.
    const state = page.locator(".asset-state");
    await expect.poll(() => state.textContent(), { timeout: 120_000 }).toBe("ready");
    await shot("05-upload-ready");
    const all = [...before, ...(await progressSeen())];
    // The bar showed intermediate values and only went up within each run.
    expect(all.some((v) => v > 0 && v < 100)).toBe(true);
    expect(all.at(-1)).toBe(100);
    const seenAfter = await progressSeen();
    for (let i = 1; i < seenAfter.length; i++) expect(seenAfter[i]).toBeGreaterThanOrEqual(seenAfter[i - 1]);

    assetId = (await page.locator(".follow a").textContent()) as string;
    expect(assetId).toMatch(/^as_[0-9a-z]{26}$/);
    // One upload, not two: the reload resumed it.
    const uploadsAfter = await e.api<ListPage<Upload>>("GET", "/v1/uploads?limit=10");
    expect(uploadsAfter.body.data.length).toBe(uploadsBefore.body.data.length);
    const asset = await e.api("GET", `/v1/assets/${assetId}`);
    expect(asset.body).toMatchObject({ status: "ready", title: "Dashboard clip" });
  });

  it("lists the asset in the table and plays it in the detail page", async () => {
    // A captions track added through the API, so the detail page has an added track to list with the source's.
    const added = await e.api<Track>("POST", `/v1/assets/${assetId}/tracks`, {
      type: "text",
      text_type: "captions",
      language_code: "fr",
      name: "Français (CC)",
      closed_captions: true,
      default: true,
      content: "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nBonjour\n",
    });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    await expect
      .poll(async () => (await e.api<Track>("GET", `/v1/assets/${assetId}/tracks/${added.body.id}`)).body.status, {
        timeout: 30_000,
      })
      .toBe("ready");
    await page.goto(`${e.stack.apiUrl}/dashboard#/assets`);
    const row = page.getByRole("row", { name: new RegExp(assetId) });
    await row.waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain("ready");
    await shot("06-assets-list");
    await row.getByRole("link", { name: assetId }).click();
    await page.getByRole("heading", { name: `Asset ${assetId}` }).waitFor();
    const video = page.getByLabel("Asset player");
    await video.waitFor({ timeout: 30_000 });
    await expect
      .poll(() => video.evaluate((v) => (v as unknown as PageMedia).currentTime), { timeout: 60_000 })
      .toBeGreaterThan(1);
    // The timeline shows the asset's life from the event log.
    await page
      .getByRole("table", { name: "Asset timeline" })
      .getByText("asset.ready")
      .first()
      .waitFor({ timeout: 15_000 });
    // Its tracks: the source's video and audio, and the added captions with their language, name and flags.
    const tracks = page.getByRole("table", { name: "Tracks" });
    const cells = async (row: ReturnType<Page["locator"]>) =>
      (await row.locator("td").allTextContents()).map((c) => c.trim());
    expect((await cells(tracks.locator(`tr[data-track-id="${added.body.id}"]`))).slice(0, 6)).toEqual([
      "text (captions)",
      "fr",
      "Français (CC)",
      "ready",
      "yes",
      "yes",
    ]);
    const sourceRows = tracks.locator("tbody tr:not([data-track-id])");
    const types = (await sourceRows.locator("td:first-child").allTextContents()).map((c) => c.trim());
    expect(types).toEqual(["video", "audio"]);
    expect(await cells(sourceRows.nth(1))).toEqual(["audio", "—", "—", "ready", "yes", "—", "source (aac)"]);
    await shot("07-asset-playing");
  });

  it("retries a failed webhook delivery from the page until the receiver accepts it", async () => {
    const hook = `dash-${Date.now().toString(36)}`;
    const control = (cfg: Record<string, unknown>) =>
      fetch(`${receiver.url}/_control/${hook}`, { method: "PUT", body: JSON.stringify(cfg) });
    expect((await control({ mode: "500" })).status).toBe(204);

    await page.goto(`${e.stack.apiUrl}/dashboard#/webhooks`);
    await page.getByText("No webhook endpoints yet").waitFor({ timeout: 60_000 });
    await page.getByLabel("Endpoint URL").fill(`${receiver.url}/hooks/${hook}`);
    await page.getByLabel("Event types").fill("asset.updated");
    await page.getByRole("button", { name: "Create endpoint" }).click();
    const secretInput = page.locator("input.secret");
    await secretInput.waitFor({ timeout: 15_000 });
    const secret = await secretInput.inputValue();
    expect(secret).toMatch(/^whsec_/);
    await shot("08-endpoint-created");
    await control({ mode: "500", secrets: [secret] });

    // Something happens: the asset is renamed (through the API, as another client would).
    const patched = await e.api("PATCH", `/v1/assets/${assetId}`, { title: "Renamed for the webhook" });
    expect(patched.status).toBe(200);

    await page.getByRole("link", { name: /^we_/ }).click();
    await page.getByLabel("Delivery status").selectOption("failed");
    const failedRow = page.getByRole("row", { name: /asset\.updated/ });
    // The page refreshes itself; the single attempt fails and the delivery lands in the dead letter.
    await failedRow.getByText("failed", { exact: true }).waitFor({ timeout: 60_000 });
    expect(await failedRow.textContent()).toContain("500");
    await shot("09-dead-letter");

    await control({ mode: "ok", secrets: [secret] });
    await failedRow.getByRole("button", { name: /^Retry dl_/ }).click();
    await page.getByText(/queued again/).waitFor({ timeout: 15_000 });
    await page.getByLabel("Delivery status").selectOption("succeeded");
    const okRow = page.getByRole("row", { name: /asset\.updated/ });
    await okRow.getByText("succeeded", { exact: true }).waitFor({ timeout: 60_000 });
    await shot("10-delivery-succeeded");

    const got = (await (await fetch(`${receiver.url}/_control/${hook}/requests`)).json()) as ReceivedRequest[];
    expect(got.map((r) => r.responded)).toEqual([500, 200]);
    // Same webhook-id both times (receivers dedupe), and both signed with the secret the page showed once.
    expect(got[1].headers["webhook-id"]).toBe(got[0].headers["webhook-id"]);
    expect(got.every((r) => r.verified[secret])).toBe(true);
    expect(JSON.parse(got[1].body)).toMatchObject({ type: "asset.updated", data: { asset_id: assetId } });

    // Replay a range: another failure, then "Replay failed" since a time before it re-sends it.
    await control({ mode: "500", secrets: [secret] });
    expect((await e.api("PATCH", `/v1/assets/${assetId}`, { title: "Renamed again" })).status).toBe(200);
    await page.getByLabel("Delivery status").selectOption("failed");
    await page
      .getByRole("row", { name: /asset\.updated/ })
      .getByText("failed", { exact: true })
      .waitFor({ timeout: 60_000 });
    await control({ mode: "ok", secrets: [secret] });
    await page.getByRole("button", { name: "Replay failed" }).click();
    await page.getByText("Replayed 1 deliveries.").waitFor({ timeout: 15_000 });
    await page.getByText("The dead letter is empty.").waitFor({ timeout: 60_000 });
    // "Empty" means re-queued: the re-send reaches the receiver a moment later.
    let after: ReceivedRequest[] = [];
    await vi.waitFor(
      async () => {
        after = (await (await fetch(`${receiver.url}/_control/${hook}/requests`)).json()) as ReceivedRequest[];
        expect(after).toHaveLength(4);
      },
      { timeout: 60_000, interval: 500 },
    );
    expect(after.map((r) => r.responded)).toEqual([500, 200, 500, 200]);
    // The replay re-sent the second rename's delivery (same webhook-id as its failed attempt), not the first.
    expect(after[3].headers["webhook-id"]).toBe(after[2].headers["webhook-id"]);
    expect(after[3].headers["webhook-id"]).not.toBe(after[1].headers["webhook-id"]);
    expect(after.every((r) => r.verified[secret])).toBe(true);
  });

  it("tails the event feed live, with a type filter", async () => {
    await page.goto(`${e.stack.apiUrl}/dashboard#/events`);
    await page.getByLabel("Event type").fill("asset.updated");
    const rows = page.getByRole("table", { name: /Events/ }).getByRole("row");
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(3); // header + the two renames
    expect((await page.getByRole("table", { name: /Events/ }).textContent())?.includes("asset.ready")).toBe(false);
    expect((await e.api("PATCH", `/v1/assets/${assetId}`, { title: "Tailed" })).status).toBe(200);
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(4);
    await shot("11-events-tail");
  });

  it("shows and enables only what a key's scopes allow", async () => {
    const made = await e.api<CreatedApiKey>("POST", "/v1/keys", { name: "read-only viewer", scopes: ["assets:read"] });
    expect(made.status).toBe(201);
    await page.goto(`${e.stack.apiUrl}/dashboard#/assets`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").fill(made.body.secret);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("row", { name: new RegExp(assetId) }).waitFor({ timeout: 15_000 });
    const nav = page.getByRole("navigation");
    expect(await nav.getByRole("link").allTextContents()).toEqual(["Assets", "Keys"]);
    await page.getByRole("link", { name: assetId }).click();
    await page.getByRole("button", { name: "Delete asset" }).waitFor();
    expect(await page.getByRole("button", { name: "Delete asset" }).isDisabled()).toBe(true);
    expect(await page.getByRole("button", { name: "Save metadata" }).isDisabled()).toBe(true);
    await page.getByText("The timeline needs the 'events:read' scope.").waitFor();
    await page.goto(`${e.stack.apiUrl}/dashboard#/webhooks`);
    await page.getByText("This API key lacks the 'webhooks:read' scope").waitFor();
    await shot("12-read-only-key");
  });
});
