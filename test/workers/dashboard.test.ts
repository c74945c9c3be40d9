/**
 * The dashboard is served by the API worker itself: its shell, script, stylesheet and the player/upload bundles,
 * each with a CSP that names no origin outside this deployment, and no reference to any other origin.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SCOPES } from "../../src/lib/scopes";

const BASE = "http://keyframe.test";

async function get(path: string) {
  const res = await SELF.fetch(`${BASE}${path}`);
  return { res, text: await res.text() };
}

/** Every source of every directive: keywords, schemes, and the deployment's own origins. */
function cspSources(csp: string): Map<string, string[]> {
  return new Map(
    csp
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...sources]) => [name, sources]),
  );
}

describe("GET /dashboard", () => {
  it("serves the shell with a strict CSP that allows only this deployment's origins", async () => {
    const { res, text } = await get("/dashboard");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const csp = res.headers.get("content-security-policy") ?? "";
    const d = cspSources(csp);
    expect(d.get("default-src")).toEqual(["'none'"]);
    expect(d.get("script-src")).toEqual(["'self'"]);
    expect(d.get("style-src")).toEqual(["'self'"]);
    expect(d.get("frame-ancestors")).toEqual(["'none'"]);
    expect(d.get("base-uri")).toEqual(["'none'"]);
    expect(d.get("form-action")).toEqual(["'none'"]);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    const ours = new Set([new URL(env.EDGE_PUBLIC_URL).origin, new URL(env.API_PUBLIC_URL).origin]);
    for (const [name, sources] of d) {
      for (const s of sources) {
        const allowed = ["'self'", "'none'", "data:", "blob:"].includes(s) || ours.has(s);
        expect(allowed, `${name} allows ${s}`).toBe(true);
      }
    }
    // The edge is where players fetch playlists and segments: the CSP must let the page reach it.
    expect(d.get("connect-src")).toContain(new URL(env.EDGE_PUBLIC_URL).origin);
    expect(d.get("media-src")).toContain(new URL(env.EDGE_PUBLIC_URL).origin);

    // No inline script or style, and every script/stylesheet comes from this worker.
    expect(text).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(text).not.toMatch(/<style|\sstyle=/);
    expect(text).not.toMatch(/(src|href)="(https?:)?\/\//);
    const refs = [...text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs).toEqual(expect.arrayContaining(["/dashboard/static/app.css", "/dashboard/static/app.js"]));
    for (const ref of refs) expect(ref.startsWith("/")).toBe(true);
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
  });

  it("serves its script, stylesheet and the hls.js and tus-js-client bundles itself", async () => {
    const files: [string, RegExp, RegExp][] = [
      ["app.js", /^text\/javascript/, /\/v1\/keys\/self/],
      ["app.css", /^text\/css/, /progressbar|\.bar/],
      ["hls.min.js", /^text\/javascript/, /Hls/],
      ["tus.min.js", /^text\/javascript/, /tus/],
    ];
    for (const [name, type, body] of files) {
      const { res, text } = await get(`/dashboard/static/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get("content-type"), name).toMatch(type);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(text, name).toMatch(body);
      expect(text.length, name).toBeGreaterThan(1000);
    }
    // The scope checkboxes come from the worker's own list (src/lib/scopes.ts), imported by the app.
    const { res: scopesRes, text: scopes } = await get("/dashboard/static/scopes.js");
    expect(scopesRes.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(scopes).toBe(`export const ALL_SCOPES = ${JSON.stringify(SCOPES)};\n`);
    // The app itself calls only relative /v1 paths and URLs the API returned: no hard-coded origin to fetch.
    const { text: app } = await get("/dashboard/static/app.js");
    const origins = [...app.matchAll(/https?:\/\/[^\s"'`)]+/g)].map((m) => m[0]);
    expect(origins.filter((o) => o !== "http://www.w3.org/2000/svg")).toEqual([]);
    // The key lives in sessionStorage only: never in localStorage, a cookie or a URL.
    expect(app).toMatch(/sessionStorage\.setItem\(KEY_STORAGE/);
    expect(app).not.toMatch(/document\.cookie|localStorage\.setItem\(KEY_STORAGE/);
  });

  it("answers unknown dashboard files with a 404 problem and leaves the OpenAPI document alone", async () => {
    const { res, text } = await get("/dashboard/static/nope.js");
    expect(res.status).toBe(404);
    expect(JSON.parse(text)).toMatchObject({ code: "not_found" });
    const doc = (await (await SELF.fetch(`${BASE}/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/dashboard"))).toEqual([]);
  });
});
