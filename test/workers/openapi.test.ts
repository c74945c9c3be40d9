/**
 * The OpenAPI document is the contract: valid 3.1, complete (every /v1 route the app registers is in
 * it), and honest about errors (every authenticated operation documents its problem+json responses).
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../../src/index";
import { ERROR_CODES } from "../../src/lib/errors";
import { idPattern } from "../../src/lib/ids";
import { TUS_METHODS } from "../../src/routes/tus/shared";
import {
  deref,
  isUrlTokenOperation,
  type Json,
  listOperations,
  type Operation,
  URL_TOKEN_OPERATIONS,
} from "../support/openapi-ops";
import { validateOpenApi31 } from "../support/openapi-validator";

const res = await SELF.fetch("http://keyframe.test/v1/openapi.json");
const doc: Json = await res.json();
const ops = listOperations(doc);

/** Routes that are deliberately not part of the public /v1 contract. */
const UNDOCUMENTED = [/^\/v1\/openapi\.json$/, /^\/v1\/internal\//, /^\/v1\/tus(\/|$)/, /^\/v1\/uploads\/[^/]+\/bytes/];
/** Served outside /v1 but part of the contract: the upload byte endpoints (authorized by the URL token). */
const UPLOAD_BYTE_PATHS = /^\/(tus|uploads)(\/|$)/;
/**
 * `app.all` routes dispatch by method inside their handler, so app.routes cannot say which methods they
 * serve: here is what each one documents, and why.
 */
const DISPATCHED: Record<string, readonly string[]> = {
  // tus core + creation + termination (src/routes/tus/index.ts handle()).
  "/tus/:upload_id": TUS_METHODS,
  // Discovery only: every other method is refused there (uploads are created with POST /v1/uploads).
  "/tus": ["OPTIONS"],
  // The same handler as /tus (trailing-slash alias): not documented twice.
  "/tus/": [],
};
const openApiPath = (p: string) => p.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}");

describe("GET /v1/openapi.json", () => {
  it("is served without a key as JSON", () => {
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
  });

  it("is a valid OpenAPI 3.1 document", async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const result = await validateOpenApi31(doc);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)?.slice(0, 2000)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("the validator really rejects broken documents", async () => {
    const broken = structuredClone(doc);
    delete broken.info;
    expect((await validateOpenApi31(broken)).valid).toBe(false);
    const badRef = structuredClone(doc);
    badRef.paths!["/v1/assets"].get!.responses!["200"] = { $ref: "#/components/responses/Nope" };
    expect((await validateOpenApi31(badRef)).valid).toBe(false);
  });

  it("lists every /v1 route the app registers, and nothing it does not", () => {
    const registered = new Set<string>();
    for (const r of app.routes) {
      const uploadBytes = UPLOAD_BYTE_PATHS.test(r.path);
      if (!uploadBytes && !r.path.startsWith("/v1/")) continue;
      if (r.method === "ALL") {
        if (!uploadBytes) continue; // middleware (app.use)
        const methods = DISPATCHED[r.path];
        expect(methods, `app.all("${r.path}") must list the methods it serves in DISPATCHED`).toBeDefined();
        for (const m of methods) registered.add(`${m} ${openApiPath(r.path)}`);
        continue;
      }
      if (UNDOCUMENTED.some((re) => re.test(r.path))) continue;
      registered.add(`${r.method} ${openApiPath(r.path)}`);
    }
    const documented = new Set(ops.map((o) => `${o.method} ${o.path}`));
    expect(
      [...registered].filter((r) => !documented.has(r)),
      "registered but undocumented",
    ).toEqual([]);
    expect(
      [...documented].filter((d) => !registered.has(d)),
      "documented but not registered",
    ).toEqual([]);
    for (const must of [
      "GET /v1/health",
      "POST /v1/assets",
      "GET /v1/assets",
      "GET /v1/assets/{asset_id}",
      "PATCH /v1/assets/{asset_id}",
      "DELETE /v1/assets/{asset_id}",
      "POST /v1/assets/{asset_id}/playback-ids",
      "GET /v1/assets/{asset_id}/playback-ids",
      "GET /v1/assets/{asset_id}/playback-ids/{playback_id}",
      "DELETE /v1/assets/{asset_id}/playback-ids/{playback_id}",
      "POST /v1/uploads",
      "GET /v1/uploads",
      "GET /v1/uploads/{upload_id}",
      "DELETE /v1/uploads/{upload_id}",
      "POST /v1/keys",
      "GET /v1/keys",
      "DELETE /v1/keys/{key_id}",
      ...URL_TOKEN_OPERATIONS,
    ]) {
      expect(documented.has(must), must).toBe(true);
    }
  });

  it("documents scope, security and problem+json responses on every authenticated operation", () => {
    const problem = doc.components?.schemas?.Problem;
    expect(problem, "Problem schema component").toBeTruthy();
    expect(problem!.properties!.code.enum).toEqual([...ERROR_CODES]);
    expect(doc.components!.securitySchemes!.ApiKey).toMatchObject({ type: "http", scheme: "bearer" });
    for (const op of ops) {
      const name = `${op.method} ${op.path}`;
      if (op.path === "/v1/health") {
        expect(op.operation.security, `${name} is public`).toEqual([]);
        continue;
      }
      if (isUrlTokenOperation(op)) {
        expectUrlTokenOperation(op);
        continue;
      }
      if (op.path === "/v1/keys/self") {
        // Any valid key may read itself: an API key, no scope.
        expect(op.operation.security, `${name} security`).toEqual([{ ApiKey: [] }]);
      } else {
        expect(op.scope, `${name} has x-keyframe-scope`).toBeTruthy();
        expect(op.operation.security, `${name} security`).toEqual([{ ApiKey: [op.scope] }]);
      }
      for (const status of ["400", "401", "403", "404", "500"]) {
        const r = op.operation.responses?.[status];
        expect(r, `${name} documents ${status}`).toBeTruthy();
        expect(r!.content?.["application/problem+json"]?.schema, `${name} ${status} is problem+json`).toEqual({
          $ref: "#/components/schemas/Problem",
        });
      }
      for (const [status, r] of Object.entries<Json>(op.operation.responses ?? {})) {
        if (Number(status) >= 400 && r.content) {
          expect(Object.keys(r.content), `${name} ${status} content types`).toEqual(["application/problem+json"]);
        }
      }
      const success = Object.keys(op.operation.responses ?? {}).filter((s) => s.startsWith("2"));
      expect(success.length, `${name} documents a success response`).toBeGreaterThan(0);
      for (const p of op.pathParams) {
        expect(p.schema?.pattern ?? p.schema?.$ref, `${name} path param ${p.name} is constrained`).toBeTruthy();
      }
    }
  });
});

/**
 * An operation with `security: []` is one of the upload byte endpoints: outside /v1, no scope, the
 * `token` query parameter documented (required wherever a bad one is refused), upload IDs constrained
 * exactly as the handlers check them, and its refusals documented as problem+json (HEAD answers have no body).
 */
function expectUrlTokenOperation(op: Operation) {
  const name = `${op.method} ${op.path}`;
  expect(op.path, `${name} is an upload byte path`).toMatch(UPLOAD_BYTE_PATHS);
  expect(op.scope, `${name} has no scope`).toBeUndefined();
  expect(op.operation.tags, `${name} tags`).toEqual(["Uploads (bytes)"]);
  const params = (op.operation.parameters ?? []).map((p: Json) => deref(doc, p));
  for (const p of op.pathParams) {
    expect(p.name, `${name} path param`).toBe("upload_id");
    expect(p.schema?.pattern, `${name} upload_id pattern`).toBe(idPattern("upload").source);
  }
  const responses: Record<string, Json> = op.operation.responses ?? {};
  if (op.pathParams.length > 0) {
    const token = params.find((p: Json) => p.in === "query" && p.name === "token");
    expect(token, `${name} documents ?token=`).toBeTruthy();
    expect(token!.required ?? false, `${name} token required iff a bad one is refused`).toBe("401" in responses);
  }
  expect(
    Object.keys(responses).filter((s) => s.startsWith("2")),
    `${name} documents one success response`,
  ).toHaveLength(1);
  for (const [status, r] of Object.entries<Json>(responses)) {
    if (Number(status) < 400) continue;
    if (op.method === "HEAD") {
      expect(r.content, `${name} ${status}: HEAD answers carry no body`).toBeUndefined();
      continue;
    }
    expect(Object.keys(r.content ?? {}), `${name} ${status} content types`).toEqual(["application/problem+json"]);
    expect(r.content!["application/problem+json"].schema, `${name} ${status} is a Problem`).toEqual({
      $ref: "#/components/schemas/Problem",
    });
  }
}

describe("GET /docs", () => {
  it("serves the interactive reference as HTML pointing at the spec", async () => {
    const docs = await SELF.fetch("http://keyframe.test/docs");
    expect(docs.status).toBe(200);
    expect(docs.headers.get("content-type")).toContain("text/html");
    const html = await docs.text();
    expect(html).toContain("/v1/openapi.json");
    expect(html.toLowerCase()).toContain("<html");
  });

  it("renders offline: the page names no other origin, and its script bundle is served by the worker", async () => {
    const html = await (await SELF.fetch("http://keyframe.test/docs")).text();
    // No absolute URL at all (scripts, styles, fonts, images): everything is same-origin.
    expect(html.match(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/gi) ?? []).toEqual([]);
    const src = /<script src="([^"]+)"/.exec(html)?.[1];
    expect(src).toBe("/docs/scalar.js");
    // Scalar's hosted fonts are off (the bundle would otherwise load them from fonts.scalar.com).
    expect(html).toContain('"withDefaultFonts": false');
    const bundle = await SELF.fetch(`http://keyframe.test${src}`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toContain("javascript");
    const js = await bundle.text();
    expect(js.length).toBeGreaterThan(1_000_000);
    expect(js).toContain("createApiReference");
  });

  it("/ redirects to /docs", async () => {
    const root = await SELF.fetch("http://keyframe.test/", { redirect: "manual" });
    await root.arrayBuffer();
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/docs");
  });
});
