/**
 * The outbound URL policy (src/lib/url-safety.ts) for input URLs and webhook endpoints: every address
 * the security review reproduced (issue 10, finding 4) and many more special-purpose forms, judged in
 * workerd (whose URL parser normalises hosts exactly as production's does), then the two callers with
 * their separate development allowances.
 */
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { createDb } from "../../src/db/client";
import { checkOutboundUrl, nonPublicReason } from "../../src/lib/url-safety";
import { createEndpoint } from "../../src/services/webhooks/endpoints";
import { api, createKey } from "./factories";
import { assetRow } from "./pipeline-helpers";

/** The review's reproductions: each was accepted before the fix. */
const FROM_THE_ISSUE = [
  "http://localhost./",
  "http://metadata.google.internal./computeMetadata/v1/",
  "http://[::7f00:1]/",
  "http://[::ffff:0:7f00:1]/",
  "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
  "http://[2002:a9fe:a9fe::]/",
  "http://[fec0::1]/",
];

const REFUSED = [
  ...FROM_THE_ISSUE,
  // Names
  "http://localhost/",
  "http://LOCALHOST../",
  "http://foo.localhost/",
  "http://printer.local/",
  "http://metadata.google.internal/",
  "http://metadata/",
  "http://transcoder:8790/jobs",
  "http://router.home.arpa/",
  "http://1.0.0.127.in-addr.arpa/",
  "http://foo.test/",
  "http://foo.invalid/",
  "http://www.example/",
  "http://xyz.onion/",
  "http://db.intranet./",
  // IPv4 special-purpose registry, and the numeric spellings URL parsing turns into them
  "http://0.0.0.0/",
  "http://0.1.2.3/",
  "http://10.0.0.1/",
  "http://10.255.255.255/",
  "http://100.64.0.1/",
  "http://100.127.255.254/",
  "http://127.0.0.1/",
  "http://127.0.0.1./",
  "http://127.1/",
  "http://2130706433/",
  "http://0x7f000001/",
  "http://0x7f.1/",
  "http://017700000001/",
  "http://169.254.169.254/latest/meta-data/",
  "http://172.16.0.1/",
  "http://172.31.255.255/",
  "http://192.0.0.9/",
  "http://192.0.0.170/",
  "http://192.0.2.1/",
  "http://192.31.196.1/",
  "http://192.52.193.1/",
  "http://192.88.99.1/",
  "http://192.168.1.1/",
  "http://192.175.48.1/",
  "http://198.18.0.1/",
  "http://198.19.255.255/",
  "http://198.51.100.7/",
  "http://203.0.113.9/",
  "http://224.0.0.1/",
  "http://239.255.255.250/",
  "http://240.0.0.1/",
  "http://255.255.255.255/",
  // IPv6
  "http://[::]/",
  "http://[::1]/",
  "http://[0:0:0:0:0:0:0:1]/",
  "http://[::127.0.0.1]/",
  "http://[::ffff:127.0.0.1]/",
  "http://[::ffff:7f00:1]/",
  "http://[::ffff:a9fe:a9fe]/",
  "http://[::ffff:10.0.0.1]/",
  "http://[::ffff:0:a00:1]/",
  "http://[::a00:1]/",
  "http://[::1.2.3.4]/",
  "http://[64:ff9b::7f00:1]/",
  "http://[64:ff9b::8.8.8.8]/",
  "http://[64:ff9b:1::a9fe:a9fe]/",
  "http://[100::1]/",
  "http://[2001::1]/",
  "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
  "http://[2001:2::1]/",
  "http://[2001:10::1]/",
  "http://[2001:db8::1]/",
  "http://[2002:7f00:1::]/",
  "http://[2002:c0a8:101::1]/",
  "http://[2002:a00:1::]/",
  "http://[3fff::1]/",
  "http://[5f00::1]/",
  "http://[fc00::1]/",
  "http://[fd12:3456:789a::1]/",
  "http://[fe80::1]/",
  "http://[febf::1]/",
  "http://[fec0::1]/",
  "http://[feff::1]/",
  "http://[ff02::1]/",
  "http://[ff05::1:3]/",
  "http://[400::1]/",
  "http://[e000::1]/",
];

const ALLOWED = [
  "https://example.com/video.mp4",
  "https://example.com./video.mp4",
  "http://cdn.example.org:8080/a.mov",
  "https://8.8.8.8/",
  "https://1.1.1.1/",
  "http://100.63.255.255/",
  "http://100.128.0.1/",
  "http://172.15.255.255/",
  "http://172.32.0.1/",
  "http://192.169.0.1/",
  "http://198.17.255.255/",
  "http://223.255.255.254/",
  "http://[2606:4700:4700::1111]/",
  "http://[2001:4860:4860::8888]/",
  "http://[2002:808:808::1]/",
  "http://[2a00:1450:4001::1]/",
  "https://localhost.example.com/",
  "https://internal.example.com/",
];

describe("checkOutboundUrl", () => {
  it.each(REFUSED)("refuses %s", (url) => {
    const verdict = checkOutboundUrl(url, { allowPrivate: false });
    expect(verdict.ok, `${url} → ${JSON.stringify(verdict)}`).toBe(false);
    if (!verdict.ok) expect(verdict.reason).toMatch(/\S/);
  });

  it.each(ALLOWED)("allows %s", (url) => {
    expect(checkOutboundUrl(url, { allowPrivate: false })).toMatchObject({ ok: true });
  });

  it("names the range it refused", () => {
    expect(nonPublicReason("[64:ff9b::a9fe:a9fe]")).toContain("NAT64");
    expect(nonPublicReason("[2002:a9fe:a9fe::]")).toContain("6to4 form of a link-local IPv4 address (169.254.169.254)");
    expect(nonPublicReason("[::ffff:0:7f00:1]")).toContain("loopback IPv4 address (127.0.0.1)");
    expect(nonPublicReason("[fec0::1]")).toContain("site-local");
    expect(nonPublicReason("metadata.google.internal.")).toContain("special-use");
    expect(nonPublicReason("localhost.")).toContain("single-label");
  });

  it("refuses other schemes and credentials even when private targets are allowed", () => {
    for (const url of ["file:///etc/passwd", "ftp://example.com/", "gopher://example.com/", "data:,x"]) {
      expect(checkOutboundUrl(url, { allowPrivate: true }).ok, url).toBe(false);
    }
    expect(checkOutboundUrl("https://u:p@example.com/", { allowPrivate: true }).ok).toBe(false);
    expect(checkOutboundUrl("http://example.com/", { allowPrivate: false, requireHttps: true }).ok).toBe(false);
    expect(checkOutboundUrl("http://127.0.0.1:9/", { allowPrivate: true }).ok).toBe(true);
  });
});

describe("callers and their separate allowances", () => {
  it("ALLOW_PRIVATE_INGEST_URLS does not unlock webhook endpoints; ALLOW_PRIVATE_WEBHOOK_URLS does", async () => {
    const key = await createKey(["*"]);
    const ctx = (overrides: Partial<Env>) => ({
      db: createDb(env.DB),
      env: { ...env, ...overrides } as Env,
      caller: { environmentId: key.environmentId, keyId: key.keyId, scopes: ["*"] },
      requestId: "req_test",
      waitUntil: () => undefined,
    });
    const ingestOnly = ctx({ ALLOW_PRIVATE_INGEST_URLS: "true", ALLOW_PRIVATE_WEBHOOK_URLS: "false" });
    for (const url of ["http://127.0.0.1:9/h", ...FROM_THE_ISSUE]) {
      await expect(createEndpoint({ ctx: ingestOnly, input: { url } }), url).rejects.toMatchObject({
        code: "validation_failed",
      });
    }
    const webhookAllowed = ctx({ ALLOW_PRIVATE_INGEST_URLS: "false", ALLOW_PRIVATE_WEBHOOK_URLS: "true" });
    const ok = await createEndpoint({ ctx: webhookAllowed, input: { url: "http://127.0.0.1:9/h" } });
    expect(ok.secret).toMatch(/^whsec_/);
  });

  it("input URLs from the issue are refused with input_url_forbidden, though private webhooks are allowed here", async () => {
    // This project's bindings allow private webhook URLs (the test receiver is on 127.0.0.1): that must not
    // let an input URL through.
    expect(env.ALLOW_PRIVATE_WEBHOOK_URLS).toBe("true");
    expect(env.ALLOW_PRIVATE_INGEST_URLS).not.toBe("true");
    const key = await createKey(["*"]);
    const ids: string[] = [];
    for (const url of FROM_THE_ISSUE) {
      const created = await api(key, "POST", "/v1/assets", { input: { url } });
      expect(created.status, url).toBe(201);
      ids.push(created.body.id as string);
    }
    for (const [i, id] of ids.entries()) {
      // The real queue delivers within its 1 s batch window; allow for a loaded machine.
      await vi.waitUntil(async () => (await assetRow(id))?.status === "errored", { timeout: 15_000, interval: 50 });
      const view = await api(key, "GET", `/v1/assets/${id}`);
      expect(view.body.error, FROM_THE_ISSUE[i]).toMatchObject({ code: "input_url_forbidden" });
    }
  });
});
