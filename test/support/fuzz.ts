/**
 * Schema-driven request fuzzing: fast-check arbitraries built from the served OpenAPI document, one per
 * operation, mixing valid, boundary and malformed path parameters, query strings, JSON bodies and headers
 * (tus headers for the tus operations), sent with keys of every scope and with another environment's IDs.
 * `checkResponse` holds the properties every answer must have.
 *
 * Runtime-agnostic (no cloudflare:test import): test/workers/fuzz.test.ts drives it inside workerd.
 * Generation is seeded: the same seed yields the same request sequence, so a finding is reproduced with
 * `FUZZ_SEED=… FUZZ_RUNS=…`.
 */
import fc from "fast-check";
import { deref, fillPath, isUrlTokenOperation, type Json, type Operation, synthesize } from "./openapi-ops";

/** An error body as the checks read it: any of these may be missing or wrong, which is what they report. */
interface ProblemView {
  code?: unknown;
  reason?: unknown;
  status?: unknown;
}

/** Who sends a request: a key label resolved by the test (a scope of the caller's env, or a bad credential). */
export type KeyLabel = string;

export interface FuzzRequest {
  op: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  key: KeyLabel;
  /** What the path's IDs are: the caller's own, another environment's, or made up. */
  ids: "own" | "other-env" | "made-up";
}

export interface FuzzWorld {
  doc: Json;
  /** Key labels with their scopes (caller's environment). `none`, `malformed`, `revoked` carry no scope. */
  keys: Record<KeyLabel, readonly string[] | null>;
  /** Real IDs by path-parameter name: the caller's own and another environment's. */
  own: Record<string, string>;
  other: Record<string, string>;
  /** URL tokens for the URL-token operations (tus, PUT): the caller's own upload's and another's. */
  ownUploadToken: string;
  otherUploadToken: string;
}

/** URLs in generated bodies only ever point at the discard port on loopback: the fuzz sends no traffic out. */
const SAFE_URL = "http://127.0.0.1:9/fuzz";

function safeUrls(v: unknown): unknown {
  if (typeof v === "string") return /^[a-z][a-z0-9+.-]*:\/\//i.test(v) && !v.startsWith(SAFE_URL) ? SAFE_URL : v;
  if (Array.isArray(v)) return v.map(safeUrls);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, safeUrls(x)]));
  return v;
}

const junkString = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.constantFrom("", " ", "null", "0", "-1", "1e309", "NaN", "../../etc/passwd", "%00", "☃", "a".repeat(5000)),
);

/** A value for `schema`: mostly valid or at the boundary, sometimes of the wrong type. */
export function valueArb(doc: Json, node: Json | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!node || depth > 5) return fc.constant(undefined);
  const s = deref(doc, node);
  const valid = fc.constant(synthesize(doc, s, true));
  const wrongType = fc.oneof(
    fc.constant(null),
    fc.integer(),
    fc.boolean(),
    junkString,
    fc.constant({}),
    fc.constant([]),
  );
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return fc.oneof(...variants.map((v: Json) => valueArb(doc, v, depth + 1)), wrongType);
  if (s.enum?.length)
    return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...s.enum) }, { weight: 1, arbitrary: junkString });
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== "null") : s.type;
  switch (type) {
    case "object": {
      const props = Object.entries<Json>(s.properties ?? {});
      if (props.length === 0)
        return fc.oneof(valid, fc.dictionary(fc.string({ maxLength: 8 }), junkString, { maxKeys: 3 }));
      const record = fc.record(Object.fromEntries(props.map(([k, v]) => [k, valueArb(doc, v, depth + 1)])), {
        requiredKeys: [],
      });
      const withExtra = fc
        .tuple(record, fc.option(fc.tuple(fc.string({ maxLength: 10 }), junkString)))
        .map(([r, extra]) => (extra ? { ...r, [extra[0]]: extra[1] } : r));
      return fc.oneof(
        { weight: 3, arbitrary: valid },
        { weight: 4, arbitrary: withExtra },
        { weight: 1, arbitrary: wrongType },
      );
    }
    case "array":
      return fc.oneof(
        { weight: 3, arbitrary: valid },
        {
          weight: 3,
          arbitrary: fc.array(valueArb(doc, s.items, depth + 1), { maxLength: Math.min((s.maxItems ?? 4) + 2, 12) }),
        },
        { weight: 1, arbitrary: wrongType },
      );
    case "integer":
    case "number": {
      const min = s.minimum ?? s.exclusiveMinimum ?? 0;
      const max = s.maximum ?? s.exclusiveMaximum ?? 2 ** 31;
      return fc.oneof(
        { weight: 2, arbitrary: valid },
        { weight: 3, arbitrary: fc.constantFrom(min, max, min - 1, max + 1, 0, -1, 2 ** 53, 0.5) },
        // Bounds may be fractional (a watermark's opacity is 0–1): the integer arbitrary needs whole ones.
        {
          weight: 2,
          arbitrary: fc.integer({
            min: Math.max(-(2 ** 31), Math.floor(min) - 2),
            max: Math.min(2 ** 31, Math.ceil(max) + 2),
          }),
        },
        { weight: 1, arbitrary: fc.oneof(junkString, fc.constant(null), fc.boolean()) },
      );
    }
    case "boolean":
      return fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: wrongType });
    default: {
      const maxLength = s.maxLength ?? 64;
      return fc.oneof(
        { weight: 3, arbitrary: valid },
        { weight: 2, arbitrary: fc.string({ minLength: 0, maxLength: Math.min(maxLength + 2, 300) }) },
        { weight: 1, arbitrary: fc.constant("x".repeat(maxLength + 1)) },
        { weight: 1, arbitrary: fc.oneof(junkString, fc.integer(), fc.constant(null)) },
      );
    }
  }
}

function bodyArb(doc: Json, op: Operation): fc.Arbitrary<string | undefined> {
  const json = op.bodySchema
    ? fc.oneof(
        { weight: 3, arbitrary: fc.constant(synthesize(doc, op.bodySchema)) },
        { weight: 2, arbitrary: fc.constant(synthesize(doc, op.bodySchema, true)) },
        { weight: 6, arbitrary: valueArb(doc, op.bodySchema) },
      )
    : fc.oneof(
        fc.constant(undefined),
        fc.constant({}),
        fc.dictionary(fc.string({ maxLength: 6 }), junkString, { maxKeys: 2 }),
      );
  const malformed = fc.constantFrom("{", "[]", "null", '"x"', '{"a":}', "", "{}}", "\u0000", "[".repeat(2000));
  return fc.oneof(
    { weight: 8, arbitrary: json.map((v) => (v === undefined ? undefined : JSON.stringify(safeUrls(v)))) },
    { weight: 2, arbitrary: malformed },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  );
}

function queryArb(doc: Json, op: Operation): fc.Arbitrary<string> {
  const params = [...(op.operation.parameters ?? [])]
    .map((p: Json) => deref(doc, p))
    .filter((p: Json) => p.in === "query");
  const pairs = params.map((p: Json) =>
    fc.option(
      fc
        .oneof(valueArb(doc, p.schema), junkString)
        .map((v) => [p.name as string, typeof v === "string" ? v : JSON.stringify(v)] as const),
      { freq: 2 },
    ),
  );
  const extra = fc.option(fc.tuple(fc.string({ maxLength: 8 }), junkString), { freq: 4 });
  return fc.tuple(fc.tuple(...pairs), extra).map(([ps, ex]) => {
    const q = new URLSearchParams();
    for (const p of ps) if (p) q.append(p[0], p[1] ?? "");
    if (ex?.[0]) q.append(ex[0], ex[1]);
    const s = q.toString();
    return s ? `?${s}` : "";
  });
}

const TUS_HEADERS = fc.record(
  {
    "tus-resumable": fc.constantFrom("1.0.0", "0.2.2", "", "1.0.0, 0.2"),
    "upload-length": fc.oneof(fc.constantFrom("0", "1", "-1", "abc", "9".repeat(30), "1048576"), fc.nat().map(String)),
    "upload-offset": fc.oneof(
      fc.constantFrom("0", "-5", "x", "18446744073709551616"),
      fc.nat({ max: 4096 }).map(String),
    ),
    "upload-metadata": fc.constantFrom(
      "filename dGVzdC5tcDQ=,filetype dmlkZW8vbXA0",
      "filetype dGV4dC9wbGFpbg==",
      "filetype",
      "bad metadata ===",
      "a b,c",
      "filename dGVzdC5tcDQ=,filename eC5tcDQ=",
      ",,,",
      `filename ${"QUFB".repeat(2000)}`,
    ),
    "upload-concat": fc.constantFrom("partial", "final;/tus/x /tus/y", "final;", "final", "bogus"),
    "upload-defer-length": fc.constantFrom("1", "0", "yes"),
    "upload-checksum": fc.constantFrom("sha1 2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "md5 xx", "nope"),
    "content-type": fc.constantFrom("application/offset+octet-stream", "application/json", "text/plain"),
  },
  { requiredKeys: [] },
);

/** The arbitrary of requests for one operation. `world` may be updated in place: IDs and tokens are read when a request is generated. */
export function requestArb(world: FuzzWorld, op: Operation): fc.Arbitrary<FuzzRequest> {
  const { doc } = world;
  const label = `${op.method} ${op.path}`;
  const urlToken = Array.isArray(op.operation.security) && op.operation.security.length === 0;
  const idsArb = fc.constantFrom<FuzzRequest["ids"]>("own", "own", "other-env", "made-up");
  const junkParam = fc.oneof(
    fc.string({ minLength: 1, maxLength: 30 }),
    fc.constantFrom("as_ZZZZZZZZZZZZZZZZZZZZZZZZZZ", "x".repeat(300)),
  );
  const paramsArb = fc.tuple(
    idsArb,
    fc.array(junkParam, { minLength: op.pathParams.length, maxLength: op.pathParams.length }),
  );
  // Mostly keys that pass the scope check (so requests reach validation and handlers), often any other.
  const keyArb = fc.oneof(
    { weight: 5, arbitrary: fc.constant("*") },
    { weight: 3, arbitrary: fc.constant(op.scope && world.keys[op.scope] ? op.scope : "*") },
    { weight: 4, arbitrary: fc.constantFrom(...Object.keys(world.keys)) },
  );
  const headersArb = fc.record(
    {
      "idempotency-key": fc.oneof(fc.uuid(), fc.string({ maxLength: 300 })),
      "x-request-id": fc.oneof(fc.constant("client-req-1"), fc.string({ maxLength: 200 })),
      "content-type": fc.constantFrom(
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "multipart/form-data",
      ),
      range: fc.constantFrom("bytes=0-0", "bytes=5-1", "bytes=-1", "bytes=abc", "items=0-1"),
      origin: fc.constantFrom("https://example.com", "null"),
    },
    { requiredKeys: [] },
  );
  const bytes = fc.uint8Array({ maxLength: 64 });
  return fc
    .tuple(
      paramsArb,
      queryArb(doc, op),
      bodyArb(doc, op),
      keyArb,
      headersArb,
      urlToken ? TUS_HEADERS : fc.constant({}),
      bytes,
    )
    .map(([[ids, junk], query, body, key, headers, tus, raw]) => {
      const values: Record<string, string> = {};
      op.pathParams.forEach((p, i) => {
        const own = world.own[p.name];
        const other = world.other[p.name];
        if (ids === "own" && own) values[p.name] = own;
        else if (ids === "other-env" && other) values[p.name] = other;
        else values[p.name] = junk[i];
      });
      let path = fillPath(doc, op, values) + query;
      const h: Record<string, string> = { ...headers, ...(tus as Record<string, string>) };
      let sentBody: string | Uint8Array | undefined = body;
      if (urlToken) {
        // Tokens: the caller's own upload's, another environment's, or none.
        const token = ids === "own" ? world.ownUploadToken : ids === "other-env" ? world.otherUploadToken : "";
        if (token) path += `${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
        if (op.method === "PATCH" || op.method === "PUT") sentBody = raw;
      }
      if (op.method === "GET" || op.method === "HEAD" || op.method === "OPTIONS") sentBody = undefined;
      if (sentBody === undefined) delete h["content-type"];
      return { op: label, method: op.method, path, headers: h, body: sentBody, key, ids };
    });
}

export interface FuzzAnswer {
  status: number;
  contentType: string;
  text: string;
}

/**
 * Every answer's properties. Returns the violations (empty when fine).
 * - never a 5xx;
 * - every error is problem+json with a code from the closed enum whose status matches;
 * - a key lacking the operation's scope gets no data (an error);
 * - an answer to the caller's environment never names another environment's IDs.
 */
export function checkResponse(
  req: FuzzRequest,
  op: Operation,
  res: FuzzAnswer,
  ctx: {
    codes: readonly string[];
    statusOf: Record<string, number>;
    keyScopes: readonly string[] | null;
    foreignIds: string[];
  },
): string[] {
  const out: string[] = [];
  if (res.status >= 500) out.push(`5xx: ${res.status} ${res.text.slice(0, 200)}`);
  if (res.status >= 400 && req.method !== "HEAD") {
    if (!res.contentType.includes("application/problem+json")) {
      out.push(`error is not problem+json (${res.contentType}): ${res.text.slice(0, 120)}`);
    } else {
      let body: ProblemView | null = null;
      try {
        body = JSON.parse(res.text);
      } catch {
        out.push("problem body is not JSON");
      }
      if (body) {
        if (!ctx.codes.includes(body.code as string)) out.push(`code '${body.code}' is not in the enum`);
        else if (ctx.statusOf[body.code as string] !== res.status)
          out.push(`code ${body.code} with status ${res.status}`);
        if (body.status !== res.status) out.push(`body.status ${body.status} ≠ ${res.status}`);
      }
    }
  }
  const needs = op.scope;
  const scopes = ctx.keyScopes;
  if (needs && scopes && !scopes.includes("*") && !scopes.includes(needs) && res.status < 400) {
    out.push(`key without '${needs}' got ${res.status}`);
  }
  // URL-token operations (tus, the one-time PUT) are authorised by the upload's own token, not by the API
  // key's environment: a 2xx there means the token matched that upload, so naming it is no leak.
  if (res.status < 400 && !isUrlTokenOperation(op)) {
    for (const id of ctx.foreignIds) if (res.text.includes(id)) out.push(`answer names another environment's ${id}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The edge (test/edge/fuzz.test.ts): Range headers of every shape, checked against an independent reading of
// RFC 9110 §14 (not the edge's own parser), and the error shape of the data plane.

/** Range header values: none, single, suffix, open, multi, overlapping, beyond EOF, garbage, huge numbers. */
export function rangeHeaderArb(size: number): fc.Arbitrary<string | undefined> {
  const pos = fc.oneof(
    fc.nat({ max: size + 2 }),
    fc.constantFrom(0, size - 1, size, size + 1, 2 ** 31, 2 ** 53 + 1),
    fc.bigInt({ min: 10n ** 18n, max: 10n ** 30n }),
  );
  const spec = fc.oneof(
    fc.tuple(pos, pos).map(([a, b]) => `${a}-${b}`),
    pos.map((a) => `${a}-`),
    pos.map((n) => `-${n}`),
    fc.constantFrom("-", "", "1-2-3", "a-b", "0x10-20", " 0-1", "-0", "0-0", "00000000000000000000001-2"),
  );
  const unit = fc.oneof(
    { weight: 8, arbitrary: fc.constant("bytes=") },
    { weight: 1, arbitrary: fc.constantFrom("BYTES=", "Bytes=", "bytes =", "items=", "bytes", "=") },
  );
  const set = fc.oneof(
    { weight: 5, arbitrary: spec },
    { weight: 2, arbitrary: fc.array(spec, { minLength: 2, maxLength: 4 }).map((s) => s.join(",")) },
    { weight: 1, arbitrary: fc.array(spec, { minLength: 2, maxLength: 3 }).map((s) => s.join(", ")) },
    { weight: 1, arbitrary: spec.map((s) => `${s},`) },
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 10, arbitrary: fc.tuple(unit, set).map(([u, s]) => u + s) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constant(`bytes=${"9".repeat(5000)}-`) },
  );
}

type RangeSpec = { first: bigint; last: bigint | null } | { suffix: bigint };

/** RFC 9110 §14.1.2 ranges-specifier for the `bytes` unit; null when absent or not valid (to be ignored). */
function parseRanges(header: string | undefined): { specs: RangeSpec[]; canonical: boolean } | null {
  if (header === undefined) return null;
  const m = /^bytes=(.*)$/is.exec(header);
  if (!m) return null;
  const parts = m[1].split(",").map((p) => p.trim());
  const specs: RangeSpec[] = [];
  for (const p of parts) {
    if (p === "") continue; // #rule: empty list elements are allowed and ignored
    const r = /^(\d*)-(\d*)$/.exec(p);
    if (!r || (r[1] === "" && r[2] === "")) return null;
    if (r[1] === "") specs.push({ suffix: BigInt(r[2]) });
    else {
      const first = BigInt(r[1]);
      const last = r[2] === "" ? null : BigInt(r[2]);
      if (last !== null && last < first) return null;
      specs.push({ first, last });
    }
  }
  if (specs.length === 0) return null;
  // What the edge documents it honours: one range, lowercase unit, no list syntax.
  const canonical = specs.length === 1 && /^bytes=\d*-\d*$/.test(header);
  return { specs, canonical };
}

/** The satisfiable ranges of `specs` against `size`, as [first, last] inclusive. */
function resolveRanges(specs: RangeSpec[], size: number): [number, number][] {
  const n = BigInt(size);
  const out: [number, number][] = [];
  for (const s of specs) {
    if ("suffix" in s) {
      if (s.suffix > 0n && n > 0n) out.push([Number(n - (s.suffix < n ? s.suffix : n)), size - 1]);
    } else if (s.first < n) {
      const last = s.last === null || s.last >= n ? n - 1n : s.last;
      out.push([Number(s.first), Number(last)]);
    }
  }
  return out;
}

export interface RangeAnswer {
  method: string;
  status: number;
  header(name: string): string | null;
  body: Uint8Array;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Whether an answer to a GET/HEAD with `range` for an object of known bytes is right:
 * 200 carries the whole object (and only when no satisfiable single canonical range was asked); 206 carries
 * exactly the bytes its Content-Range names, which must be one of the asked ranges; 416 only when no asked
 * range is satisfiable, with `Content-Range: bytes *\/size`. Ignoring a Range with a 200 is allowed (RFC 9110
 * §14.2: a server MAY ignore Range) except for a single canonical range on a resource that advertises
 * `Accept-Ranges: bytes`.
 */
export function checkRangeAnswer(range: string | undefined, object: Uint8Array, res: RangeAnswer): string[] {
  const out: string[] = [];
  const size = object.length;
  const parsed = parseRanges(range);
  const satisfiable = parsed ? resolveRanges(parsed.specs, size) : [];
  const head = res.method === "HEAD";
  if (head && res.body.length > 0) out.push(`HEAD answered with a ${res.body.length}-byte body`);
  const length = res.header("content-length");
  if (res.status === 200) {
    if (!head && !sameBytes(res.body, object))
      out.push(`200 body is ${res.body.length} bytes, not the object's ${size}`);
    if (length !== null && Number(length) !== size) out.push(`200 Content-Length ${length} ≠ ${size}`);
    // A server may ignore Range (RFC 9110 §14.2), but not one that advertises byte ranges for this resource.
    const strict = parsed?.canonical && res.header("accept-ranges") === "bytes";
    if (strict && satisfiable.length === 1) out.push(`ignored the satisfiable range ${range}`);
    if (strict && satisfiable.length === 0) out.push(`unsatisfiable range ${range} answered 200, not 416`);
  } else if (res.status === 206) {
    const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.header("content-range") ?? "");
    if (!parsed) out.push(`206 for a Range that is absent or invalid (${range})`);
    if (!cr) out.push(`206 without a valid Content-Range (${res.header("content-range")})`);
    else {
      const [a, b, total] = [Number(cr[1]), Number(cr[2]), Number(cr[3])];
      if (total !== size) out.push(`Content-Range total ${total} ≠ ${size}`);
      if (!satisfiable.some(([x, y]) => x === a && y === b)) out.push(`Content-Range ${a}-${b} is none of ${range}`);
      if (!head && !sameBytes(res.body, object.subarray(a, b + 1))) out.push(`206 body is not bytes ${a}-${b}`);
      if (length !== null && Number(length) !== b - a + 1) out.push(`206 Content-Length ${length} ≠ ${b - a + 1}`);
    }
  } else if (res.status === 416) {
    if (!parsed || satisfiable.length > 0)
      out.push(`416 for ${range}, which is ${parsed ? "satisfiable" : "ignorable"}`);
    if (res.header("content-range") !== `bytes */${size}`) out.push(`416 Content-Range ${res.header("content-range")}`);
  }
  return out;
}

/**
 * An edge error's properties: never a 5xx but a capacity 503 that says when to retry, and a JSON body
 * naming a machine-readable code (`reason` today, `code` in problem+json).
 */
export function checkEdgeError(
  res: { status: number; method: string; header(name: string): string | null; text: string },
  allowed503: readonly string[],
): string[] {
  const out: string[] = [];
  if (res.status < 400 || res.status === 416) return out;
  const type = res.header("content-type") ?? "";
  let body: ProblemView | null = null;
  if (res.method !== "HEAD") {
    if (!/^application\/(problem\+)?json/.test(type))
      out.push(`error is not JSON (${type}): ${res.text.slice(0, 120)}`);
    else {
      try {
        body = JSON.parse(res.text);
      } catch {
        out.push("error body is not JSON");
      }
    }
  }
  const code = body ? (body.code ?? body.reason) : undefined;
  if (body && (typeof code !== "string" || !/^[a-z][a-z0-9_]*$/.test(code))) out.push(`error code ${code}`);
  if (body && type.startsWith("application/problem+json") && body.status !== res.status)
    out.push(`problem status ${body.status} ≠ ${res.status}`);
  if (res.status >= 500) {
    const ok = res.status === 503 && typeof code === "string" && allowed503.includes(code) && res.header("retry-after");
    if (!ok) out.push(`5xx: ${res.status} ${res.text.slice(0, 200)}`);
  }
  return out;
}
