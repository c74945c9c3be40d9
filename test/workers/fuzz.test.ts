/**
 * The schema-driven fuzz suite (issue 10): requests generated from the served OpenAPI document for EVERY
 * operation (test/support/fuzz.ts), sent to the real worker in workerd (real D1, R2, queues, DOs) with keys
 * of every scope and with another environment's IDs. Properties: no 5xx, every error problem+json with a
 * code from the closed enum, no data for a key lacking the scope, no other environment's IDs in an answer.
 *
 * `npm test` runs a short pass (FUZZ_RUNS default 200); `npm run fuzz` the long one (FUZZ_RUNS=10000).
 * Seeded: the seed is printed; `FUZZ_SEED=<seed> FUZZ_RUNS=<n> npm run fuzz` replays the same sequence.
 * REGRESSION_SEEDS are seeds that once found a bug; they run on every pass.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { ERROR_CODES, ERROR_STATUS } from "../../src/lib/errors";
import { SCOPES } from "../../src/lib/scopes";
import { checkResponse, type FuzzRequest, type FuzzWorld, requestArb } from "../support/fuzz";
import { type Body, type Json, listOperations, type Operation } from "../support/openapi-ops";
import { createEnvironment, createKey, revokeKeyDirect, type TestKey } from "./factories";

const RUNS = Number(env.FUZZ_RUNS || 200);
const SEED = env.FUZZ_SEED ? Number(env.FUZZ_SEED) : Date.now() % 2 ** 31;
/**
 * Seeds that found bugs (each fixed; see the commit that added it), replayed for a few requests per
 * operation on every run.
 */
const REGRESSION_SEEDS: number[] = [];
/** Own resources are re-created this often, so deletes early in a run do not starve later requests. */
const RESEED_EVERY = 150;

/**
 * Every request goes to the worker's own fetch handler (the export SELF dispatches to) with the test env and a
 * real ExecutionContext whose waitUntil work is awaited before the next request, so a request's background
 * side effects (event fan-out, media deletions) run, and fail loudly, inside the request that caused them.
 *
 * Not SELF.fetch: @cloudflare/vitest-pool-workers 0.23 wraps its entrypoint wrapper's prototype in one more
 * Proxy on every construction (cloudflare/workers-sdk#15092, fixed only in the renamed @cloudflare/vitest-plugin),
 * so the n-th SELF.fetch in a file walks n nested `get` traps. Measured here: a loop of GET /v1/health went
 * from 14 ms to 1.2 s per request over 1,000 requests, and a CPU profile of workerd put half of all samples in
 * that trap; the fuzz's 280 ms per request at 1,000 requests was this, not the API.
 */
async function dispatch(path: string, init: RequestInit = {}): Promise<{ res: Response; settled: Promise<void> }> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://keyframe.test${path}`, init) as Parameters<typeof worker.fetch>[0],
    env,
    ctx,
  );
  return { res, settled: waitOnExecutionContext(ctx) };
}

/** A JSON call with `key`, for seeding. */
async function api(
  key: TestKey,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Body }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key.secret}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const { res, settled } = await dispatch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const out = { status: res.status, body: (await res.json()) as Body };
  await settled;
  return out;
}

const doc: Json = await (await dispatch("/v1/openapi.json")).res.json();
const ops = listOperations(doc).filter((o) => o.path !== "/v1/openapi.json");
const SAFE_HOOK = "http://127.0.0.1:9/fuzz-hook";

interface Seeded {
  ids: Record<string, string>;
  uploadToken: string;
  all: string[];
}

/** One of everything in `key`'s environment; returns the IDs by path-parameter name. */
async function seed(key: TestKey): Promise<Seeded> {
  const asset = await api(key, "POST", "/v1/assets", { title: "fuzz", playback_policy: "signed" });
  const assetId = asset.body.id as string;
  const pb = (asset.body.playback_ids as { id: string }[])[0].id;
  const upload = await api(key, "POST", "/v1/uploads", {});
  const uploadId = upload.body.id as string;
  const uploadToken = new URL(upload.body.url as string).searchParams.get("token") ?? "";
  const hook = await api(key, "POST", "/v1/webhook-endpoints", { url: SAFE_HOOK });
  const sk = await api(key, "POST", "/v1/signing-keys", {});
  const spare = await api(key, "POST", "/v1/keys", { name: "spare", scopes: ["assets:read"] });
  const events = await api(key, "GET", "/v1/events?limit=1");
  const ids: Record<string, string> = {
    asset_id: assetId,
    playback_id: pb,
    upload_id: uploadId,
    endpoint_id: hook.body.id as string,
    signing_key_id: sk.body.id as string,
    key_id: spare.body.id as string,
    event_id: (events.body.data as { id: string }[])[0]?.id ?? "",
  };
  const all = [key.environmentId, ...Object.values(ids).filter(Boolean)];
  return { ids, uploadToken, all };
}

/** Sends a generated request the way a client would. */
async function send(req: FuzzRequest, keys: Record<string, string | null>) {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    try {
      headers.set(k, v);
    } catch {
      // A header value fetch() itself refuses is not a request anyone can send.
    }
  }
  const secret = keys[req.key];
  if (secret) headers.set("authorization", `Bearer ${secret}`);
  const { res, settled } = await dispatch(req.path, {
    method: req.method,
    headers,
    body: req.body,
    redirect: "manual",
  });
  const answer = { status: res.status, contentType: res.headers.get("content-type") ?? "", text: await res.text() };
  // A request's background work must not fail either; a rejection is reported with the request that caused it.
  const background = await settled.then(
    () => "",
    (err: unknown) => String((err as Error)?.stack ?? err),
  );
  return { ...answer, background };
}

interface Figures {
  requests: number;
  operations: Set<string>;
  statuses: Map<number, number>;
  findings: { seed: number; req: FuzzRequest; problems: string[]; status: number; text: string }[];
  ms: number;
}

async function runFuzz(seedValue: number, runs: number): Promise<Figures> {
  const other = await createKey(["*"]);
  const callerEnv = await createEnvironment("fuzz-caller");
  const admin = await createKey(["*"], callerEnv);
  // Keys of every scope in the caller's environment, plus credentials that must be refused.
  const keyScopes: Record<string, readonly string[] | null> = { none: null, malformed: null, revoked: null };
  const keySecrets: Record<string, string | null> = { none: null, malformed: "kf_short", revoked: null };
  for (const scope of SCOPES) {
    const k = await createKey([scope], callerEnv);
    keyScopes[scope] = [scope];
    keySecrets[scope] = k.secret;
  }
  const revoked = await createKey(["*"], callerEnv);
  await revokeKeyDirect(revoked.keyId);
  keySecrets.revoked = revoked.secret;

  const foreign = await seed(other);
  // One world object, updated in place on a reseed: the arbitraries are built once per operation and read
  // the current own IDs when they generate (rebuilding them per request was ~5% of the run's CPU).
  const world: FuzzWorld = {
    doc,
    keys: keyScopes,
    own: {},
    other: foreign.ids,
    ownUploadToken: "",
    otherUploadToken: foreign.uploadToken,
  };
  const reseed = async () => {
    const own = await seed(admin);
    world.own = own.ids;
    world.ownUploadToken = own.uploadToken;
  };
  await reseed();
  const arbs = ops.map((op) => requestArb(world, op));

  // A fixed number of requests per operation, interleaved round-robin so every operation is covered
  // however short the run; per-operation streams are seeded from the run seed and the operation's index.
  // Each request is generated when it is sent (so it sees the current own IDs), from a seed derived from
  // the run seed, the operation's index and the round: the sequence is the same for the same seed.
  const perOp = Math.max(1, Math.ceil(runs / ops.length));
  const figures: Figures = { requests: 0, operations: new Set(), statuses: new Map(), findings: [], ms: 0 };
  const started = Date.now();
  for (let round = 0; round < perOp && figures.requests < runs; round++) {
    for (let i = 0; i < ops.length && figures.requests < runs; i++) {
      if (figures.requests > 0 && figures.requests % RESEED_EVERY === 0) await reseed();
      const op: Operation = ops[i];
      const [req] = fc.sample(arbs[i], {
        seed: (seedValue + i * 7919 + round * 104_729) | 0,
        numRuns: 1,
      });
      const res = await send(req, keySecrets);
      figures.requests++;
      figures.operations.add(req.op);
      figures.statuses.set(res.status, (figures.statuses.get(res.status) ?? 0) + 1);
      const problems = checkResponse(req, op, res, {
        codes: ERROR_CODES,
        statusOf: ERROR_STATUS,
        keyScopes: keyScopes[req.key] ?? null,
        foreignIds: foreign.all,
      });
      if (res.background) problems.push(`waitUntil work failed: ${res.background.slice(0, 300)}`);
      if (problems.length)
        figures.findings.push({ seed: seedValue, req, problems, status: res.status, text: res.text });
      if (figures.requests % 1000 === 0) {
        console.log(
          `fuzz progress: ${figures.requests} requests, ${figures.findings.length} findings, ${Date.now() - started} ms`,
        );
      }
    }
  }
  figures.ms = Date.now() - started;
  return figures;
}

function report(label: string, f: Figures) {
  const statuses = [...f.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`);
  console.log(
    `fuzz ${label}: ${f.requests} requests, ${f.operations.size}/${ops.length} operations, ` +
      `${(f.ms / 1000).toFixed(1)} s, ${f.findings.length} findings; statuses ${statuses.join(" ")}`,
  );
  for (const x of f.findings.slice(0, 20)) {
    console.log(
      `  FINDING seed=${x.seed} ${x.req.method} ${x.req.path.slice(0, 160)} key=${x.req.key} ids=${x.req.ids} → ${x.status}: ` +
        `${x.problems.join("; ")}\n    headers=${JSON.stringify(x.req.headers).slice(0, 300)} body=${String(x.req.body).slice(0, 300)}`,
    );
  }
}

const timeoutMs = Math.max(120_000, RUNS * 400);
let main: Figures | undefined;
afterAll(() => {
  if (main) report(`seed=${SEED} FUZZ_RUNS=${RUNS}`, main);
});

describe("schema-driven fuzz", () => {
  it(
    `every operation, seeded (FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS})`,
    async () => {
      main = await runFuzz(SEED, RUNS);
      expect(main.operations.size, "every operation was exercised").toBe(Math.min(ops.length, RUNS));
      expect(main.findings.map((f) => `${f.req.method} ${f.req.path}: ${f.problems.join("; ")}`)).toEqual([]);
    },
    timeoutMs,
  );

  for (const s of REGRESSION_SEEDS) {
    it(`regression seed ${s}`, async () => {
      const f = await runFuzz(s, ops.length * 3);
      report(`regression seed=${s}`, f);
      expect(f.findings.map((x) => `${x.req.method} ${x.req.path}: ${x.problems.join("; ")}`)).toEqual([]);
    }, 300_000);
  }
});
