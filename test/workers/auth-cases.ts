/**
 * The common authorization cases, run against EVERY operation the OpenAPI document lists with an
 * `x-keyframe-scope`: routes added later are covered without editing this file. Run as four test files
 * (auth-1…4.test.ts), each taking every fourth operation.
 */
import { SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { newKeySecret } from "../../src/lib/auth";
import { SCOPES } from "../../src/lib/scopes";
import type { CreatedApiKey, LiveStream, Upload } from "../support/api-types";
import {
  creatorFor,
  fillPath,
  idPrefixOf,
  isUrlTokenOperation,
  type Json,
  listOperations,
  otherScope,
  synthesize,
  URL_TOKEN_OPERATIONS,
} from "../support/openapi-ops";
import { expectProblem } from "../support/problem";
import { api, createAsset, createKey, revokeKeyDirect, type TestKey } from "./factories";

// Every SELF.fetch adds one Proxy layer in vitest-pool-workers (cloudflare/workers-sdk#15092), so a file's
// requests get slower as it goes: one file of all ~800 took 122 s in CI, its last cases over 1 s each. Four
// files (a fresh runtime each) keep every part short.
vi.setConfig({ testTimeout: 60_000 });

const doc: Json = await (await SELF.fetch("http://keyframe.test/v1/openapi.json")).json();
const allOps = listOperations(doc);
const label = (o: { method: string; path: string }) => `${o.method} ${o.path}`;
/**
 * Operations documented with `security: []` take no API key: the upload URL's token is their authority
 * (tus, the one-time PUT). They are skipped here, BY NAME: the sanity test below fails if the set changes,
 * so an operation that forgets its security cannot silently escape this file. Their token refusals are
 * proved against the real worker in openapi-uploads.test.ts.
 */
const urlTokenOps = allOps.filter(isUrlTokenOperation);
const scopedOps = allOps.filter((o) => o.scope && !isUrlTokenOperation(o));
/** What these generic checks read of any operation's response: a resource's `id`, a list's `data[].id`. */
interface ResourceView {
  id?: unknown;
  data?: { id?: unknown }[];
}

async function call(key: TestKey | string | null, method: string, path: string, body?: unknown) {
  return api<ResourceView>(key, method, path, body);
}

/**
 * Defines part `part` (0-based) of `parts` of the suite: every `parts`-th scoped operation from `part` on,
 * so an operation added later lands in some part without editing any file; part 0 also runs the sanity
 * and public-endpoint checks.
 */
export function defineAuthSuite(part: number, parts: number): void {
  const mine = scopedOps.filter((_, i) => i % parts === part);
  /** Which cross-environment checks ran against a real env A resource, printed at the end for reviewers. */
  const crossEnvCoverage = new Map<string, string>();
  afterAll(() => {
    const placeholders = [...crossEnvCoverage].filter(([, v]) => v === "placeholder").map(([k]) => k);
    console.log(
      `cross-environment checks: ${crossEnvCoverage.size - placeholders.length} on real resources` +
        (placeholders.length ? `; placeholder IDs only for: ${placeholders.join(", ")}` : ""),
    );
  });

  describe.runIf(part === 0)("auth helper sanity", () => {
    it("finds the authenticated operations in the document", () => {
      expect(scopedOps.length).toBeGreaterThanOrEqual(14);
      for (const must of ["POST /v1/assets", "GET /v1/keys", "DELETE /v1/uploads/{upload_id}"]) {
        expect(scopedOps.map(label)).toContain(must);
      }
    });

    it("skips exactly the URL-token operations; every other operation requires an API key scope", () => {
      expect(urlTokenOps.map(label).sort()).toEqual([...URL_TOKEN_OPERATIONS].sort());
      for (const op of urlTokenOps) expect(op.scope, `${label(op)} has no scope`).toBeUndefined();
      for (const op of allOps) {
        // Health takes no key; GET /v1/keys/self takes any key (security [{ ApiKey: [] }], no scope).
        if (isUrlTokenOperation(op) || op.path === "/v1/health" || op.path === "/v1/keys/self") continue;
        expect(op.scope, `${label(op)} declares x-keyframe-scope`).toBeTruthy();
        expect(op.operation.security, `${label(op)} security`).toEqual([{ ApiKey: [op.scope] }]);
      }
    });

    it("leaves only health (and the spec) without a scope under /v1", async () => {
      for (const op of allOps.filter((o) => !o.scope && o.path.startsWith("/v1/"))) {
        if (op.path === "/v1/health") continue;
        // Anything else under /v1 still sits behind the API-key middleware.
        const res = await call(null, op.method, fillPath(doc, op), synthesize(doc, op.bodySchema));
        expectProblem(res, 401, "unauthenticated", label(op));
      }
    });
  });

  describe.runIf(part === 0)("public endpoints", () => {
    it("GET /v1/health answers without a key", async () => {
      const res = await call(null, "GET", "/v1/health");
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ok: true, database: "ok" });
      expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    });

    it("every response carries X-Request-Id, and a sane incoming one is echoed", async () => {
      for (const [method, path] of [
        ["GET", "/v1/health"],
        ["GET", "/v1/openapi.json"],
        ["GET", "/v1/assets"],
        ["GET", "/nope"],
        ["GET", "/docs"],
      ]) {
        const res = await SELF.fetch(`http://keyframe.test${path}`, { method, redirect: "manual" });
        await res.arrayBuffer();
        expect(res.headers.get("x-request-id"), path).toMatch(/^req_/);
      }
      const echoed = await SELF.fetch("http://keyframe.test/v1/health", {
        headers: { "x-request-id": "client-abc.1" },
      });
      // The client's ID is kept for correlation, but the request ID is always the server's own.
      expect(echoed.headers.get("x-request-id")).toMatch(/^req_/);
      expect(echoed.headers.get("x-client-request-id")).toBe("client-abc.1");
      const refused = await SELF.fetch("http://keyframe.test/v1/health", { headers: { "x-request-id": "bad id <x>" } });
      expect(refused.headers.get("x-request-id")).toMatch(/^req_/);
    });
  });

  describe.each(mine.map((o) => [label(o), o] as const))("%s", (_name, op) => {
    /** Env A owns real resources; env B is a stranger with a full-power key. */
    let keyA: TestKey;
    let keyB: TestKey;
    let revoked: TestKey;
    let wrongScope: TestKey;
    const idsA: Record<string, string> = {};

    beforeAll(async () => {
      keyA = await createKey(["*"]);
      keyB = await createKey(["*"]);
      revoked = await createKey(["*"], keyA.environmentId);
      await revokeKeyDirect(revoked.keyId);
      wrongScope = await createKey([otherScope(op.scope as string, SCOPES)], keyA.environmentId);
      await createResourcesInA(keyA, op.pathParams, idsA);
      if (op.method === "GET" && op.pathParams.length === 0) {
        // Put something of this collection's kind into env A when the API can create it.
        const creator = allOps.find((o) => o.method === "POST" && o.path === op.path);
        if (creator) await postSynthesized(keyA, fillPath(doc, creator), creator.bodySchema);
      }
    });

    const path = () => fillPath(doc, op, idsA);
    const body = () => synthesize(doc, op.bodySchema);

    it("no key → 401", async () => {
      expectProblem(await call(null, op.method, path(), body()), 401, "unauthenticated");
    });

    it("malformed keys → 401", async () => {
      for (const header of [
        "Bearer garbage",
        "Bearer kf_short",
        "Basic a2Y6eA==",
        "Bearer",
        `Bearer ${"kf_"}${"!".repeat(43)}`,
      ]) {
        const res = await api(null, op.method, path(), body(), { authorization: header });
        expectProblem(res, 401, "unauthenticated", header);
      }
    });

    it("unknown well-formed key → 401", async () => {
      expectProblem(await call(newKeySecret(), op.method, path(), body()), 401, "unauthenticated");
    });

    it("revoked key → 401", async () => {
      expectProblem(await call(revoked, op.method, path(), body()), 401, "unauthenticated");
    });

    it(`key without '${op.scope}' → 403`, async () => {
      expectProblem(await call(wrongScope, op.method, path(), body()), 403, "forbidden");
    });

    it.runIf(op.pathParams.length > 0)("key from another environment → 404", async () => {
      const resolved = op.pathParams.every((p) => idsA[p.name]);
      let res = await call(keyB, op.method, path(), body());
      if (res.status === 400 && op.bodySchema)
        res = await call(keyB, op.method, path(), synthesize(doc, op.bodySchema, true));
      crossEnvCoverage.set(label(op), resolved ? "real resource" : "placeholder");
      if (resolved) {
        expectProblem(res, 404, "not_found", "resource exists in env A");
        if (op.method === "GET") {
          // The same request with env A's key finds it: the 404 above is the environment boundary.
          const own = await call(keyA, op.method, path());
          expect(own.status, JSON.stringify(own.body)).toBe(200);
        }
      } else {
        // Could not create this kind of resource generically: at least it is a clean refusal.
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expectProblem(res, res.status);
      }
    });
  });

  describe("bad bodies get a precise 4xx, never a 500", () => {
    const bodyOps = mine.filter((o) => o.bodySchema && ["POST", "PATCH", "PUT"].includes(o.method));
    const cases: [string, string | undefined, Record<string, string>][] = [
      ["malformed JSON", "{", { "content-type": "application/json" }],
      ["empty body", "", { "content-type": "application/json" }],
      ["JSON null", "null", { "content-type": "application/json" }],
      ["JSON array", "[]", { "content-type": "application/json" }],
      ["JSON string", '"x"', { "content-type": "application/json" }],
      ["deeply nested", `${"[".repeat(2000)}${"]".repeat(2000)}`, { "content-type": "application/json" }],
      ["text/plain", "hello", { "content-type": "text/plain" }],
      ["no content-type", '{"a":1}', {}],
    ];
    it.each(bodyOps.map((o) => [label(o), o] as const))("%s", async (_name, op) => {
      const key = await createKey(["*"]);
      const ids = await createResourcesInA(key, op.pathParams, {});
      for (const [what, payload, headers] of cases) {
        const raw = await SELF.fetch(`http://keyframe.test${fillPath(doc, op, ids)}`, {
          method: op.method,
          headers: { authorization: `Bearer ${key.secret}`, ...headers },
          body: payload,
        });
        const body = raw.headers.get("content-type")?.includes("json") ? ((await raw.json()) as Json) : {};
        expect(raw.status, `${what}: ${JSON.stringify(body)}`).toBeGreaterThanOrEqual(400);
        expect(raw.status, `${what}: ${JSON.stringify(body)}`).toBeLessThan(500);
        expectProblem({ status: raw.status, body, headers: raw.headers }, raw.status, undefined, what);
      }
    });
  });

  describe("lists never leak across environments", () => {
    // The events list is the longest by now (every earlier test wrote events): more than the default 5 s.
    it.each(mine.filter((o) => o.method === "GET" && o.pathParams.length === 0).map((o) => [label(o), o] as const))(
      "%s",
      async (_name, op) => {
        const keyA = await createKey(["*"]);
        const keyB = await createKey(["*"]);
        const ids: Record<string, string> = {};
        await createResourcesInA(keyA, [{ name: "asset_id" }, { name: "upload_id" }, { name: "key_id" }], ids);
        const creator = allOps.find((o) => o.method === "POST" && o.path === op.path);
        if (creator) await postSynthesized(keyA, fillPath(doc, creator), creator.bodySchema);
        const listA = await call(keyA, "GET", op.path);
        const listB = await call(keyB, "GET", op.path);
        expect(listA.status).toBe(200);
        expect(listB.status).toBe(200);
        const idsOf = (r: { body: ResourceView }) => new Set((r.body.data ?? []).map((x) => x.id));
        const a = idsOf(listA);
        for (const id of idsOf(listB)) expect(a.has(id), `${id} visible to env B`).toBe(false);
        for (const id of Object.values(ids)) expect(idsOf(listB).has(id)).toBe(false);
      },
      30_000,
    );
  });
}

async function postSynthesized(key: TestKey, path: string, bodySchema: Json | undefined) {
  let res = await call(key, "POST", path, synthesize(doc, bodySchema));
  if (res.status === 400) res = await call(key, "POST", path, synthesize(doc, bodySchema, true));
  return res;
}

/**
 * Real resources in environment A for the operation's path parameters: assets, playback IDs, uploads
 * and keys directly; anything else through the create operation on its collection, with a body
 * synthesised from its schema.
 */
async function createResourcesInA(key: TestKey, params: { name: string }[], ids: Record<string, string>) {
  const names = params.map((p) => p.name as string);
  // Always: an asset (and with it events, audit entries and a playback ID) exists in env A.
  {
    const asset = await createAsset(key, { playback_policy: "public", title: "env A" });
    ids.asset_id = asset.id;
    ids.playback_id = asset.playback_ids[0].id;
  }
  if (names.includes("live_stream_id")) {
    // A live stream with its own playback ID: routes under it only know the stream's playback IDs.
    const ls = await api<LiveStream>(key, "POST", "/v1/live-streams", { playback_policy: "public" });
    expect(ls.status).toBe(201);
    ids.live_stream_id = ls.body.id;
    ids.playback_id = ls.body.playback_ids[0].id;
  }
  if (names.includes("upload_id")) {
    const up = await api<Upload>(key, "POST", "/v1/uploads", {});
    expect(up.status).toBe(201);
    ids.upload_id = up.body.id;
  }
  if (names.includes("key_id")) {
    const k = await api<CreatedApiKey>(key, "POST", "/v1/keys", { name: "env A key", scopes: ["assets:read"] });
    expect(k.status).toBe(201);
    ids.key_id = k.body.id;
  }
  for (const p of params) {
    if (ids[p.name]) continue;
    const creator = creatorFor(allOps, p.name);
    if (!creator?.pathParams.every((cp) => ids[cp.name])) continue;
    const res = await postSynthesized(key, fillPath(doc, creator, ids), creator.bodySchema);
    const prefix = idPrefixOf(doc, p);
    if (res.status === 201 && typeof res.body.id === "string" && (!prefix || res.body.id.startsWith(`${prefix}_`))) {
      ids[p.name] = res.body.id;
    }
  }
  for (const p of params) {
    // No create operation (e.g. events): take one env A already has from the collection's list.
    if (ids[p.name]) continue;
    const holder = allOps.find((o) => o.method === "GET" && o.path.endsWith(`/{${p.name}}`));
    const list =
      holder && allOps.find((o) => o.method === "GET" && o.path === holder.path.slice(0, -`/{${p.name}}`.length));
    if (!list?.pathParams.every((lp) => ids[lp.name])) continue;
    const res = await call(key, "GET", fillPath(doc, list, ids));
    const prefix = idPrefixOf(doc, p);
    const found = (res.body.data ?? [])
      .map((x) => x.id)
      .find((id): id is string => typeof id === "string" && (!prefix || id.startsWith(`${prefix}_`)));
    if (found) ids[p.name] = found;
  }
  return ids;
}
