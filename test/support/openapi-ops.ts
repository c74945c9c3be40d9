/**
 * Reads the served OpenAPI document and turns it into concrete requests: every operation, its
 * `x-keyframe-scope`, placeholder path parameters that satisfy their schema pattern, and request
 * bodies synthesised from the request schema. The shared auth test iterates over these, so routes
 * added later are covered without anyone editing the test.
 *
 * Runtime-agnostic (no cloudflare:test import): the caller supplies the document.
 */

/**
 * A node of the served OpenAPI document as these walkers read it: the document itself, a path item, an
 * operation, a parameter, a request body or a JSON Schema. Every field is optional (a node is one of those),
 * nested nodes are nodes again, and the `x-keyframe-*` extensions are read by name.
 */
export interface Json {
  $ref?: string;
  // JSON Schema
  type?: string | string[];
  format?: string;
  pattern?: string;
  enum?: unknown[];
  const?: unknown;
  example?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  required?: string[];
  properties?: Record<string, Json>;
  additionalProperties?: boolean | Json;
  items?: Json;
  anyOf?: Json[];
  oneOf?: Json[];
  allOf?: Json[];
  // Parameters, bodies, responses
  name?: string;
  in?: string;
  schema?: Json;
  content?: Record<string, Json>;
  description?: string;
  summary?: string;
  // Operations and path items
  operationId?: string;
  tags?: string[];
  parameters?: Json[];
  requestBody?: Json;
  responses?: Record<string, Json>;
  headers?: Record<string, Json>;
  security?: Record<string, string[]>[];
  get?: Json;
  put?: Json;
  post?: Json;
  delete?: Json;
  patch?: Json;
  head?: Json;
  options?: Json;
  trace?: Json;
  // The document
  openapi?: string;
  info?: Json & { title?: string; version?: string; license?: Json };
  servers?: { url: string }[];
  paths?: Record<string, Json>;
  webhooks?: Record<string, Json>;
  components?: {
    schemas?: Record<string, Json>;
    securitySchemes?: Record<string, Json>;
    responses?: Record<string, Json>;
  };
  "x-keyframe-scope"?: string;
  "x-keyframe-idempotent-replay"?: string;
  [extension: `x-${string}`]: unknown;
}

/** A (dereferenced) parameter node: `name` and `in` are required by OpenAPI. */
export type Param = Json & { name: string; in: string };

/** A response or error body read by the checks (not a document node). */
export type Body = Record<string, unknown>;

export interface Operation {
  method: string;
  /** OpenAPI form: /v1/assets/{asset_id} */
  path: string;
  operation: Json;
  scope: string | undefined;
  pathParams: Param[];
  bodySchema: Json | undefined;
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

export function listOperations(doc: Json): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const params = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p: Json) => deref(doc, p));
      const body = operation.requestBody ? deref(doc, operation.requestBody) : undefined;
      ops.push({
        method: method.toUpperCase(),
        path,
        operation,
        scope: operation["x-keyframe-scope"],
        pathParams: params.filter((p: Json): p is Param => p.in === "path"),
        bodySchema: body?.content?.["application/json"]?.schema,
      });
    }
  }
  return ops;
}

/** The operations documented with `security: []`, by name: tests pin this set so none joins or leaves it unseen. */
export const URL_TOKEN_OPERATIONS: readonly string[] = [
  "OPTIONS /tus",
  "HEAD /tus/{upload_id}",
  "PATCH /tus/{upload_id}",
  "POST /tus/{upload_id}",
  "DELETE /tus/{upload_id}",
  "OPTIONS /tus/{upload_id}",
  "PUT /uploads/{upload_id}",
  "OPTIONS /uploads/{upload_id}",
];

/**
 * Operations that declare `security: []`: authorized by the upload URL's own token, not by an API key
 * (tus and the one-time PUT). Only an explicit empty list counts; a missing `security` does not.
 */
export function isUrlTokenOperation(op: Operation): boolean {
  // Health also states `security: []` (the document says so for every public operation) but is not a URL-token one.
  return Array.isArray(op.operation.security) && op.operation.security.length === 0 && op.path !== "/v1/health";
}

export function deref(doc: Json, node: Json): Json {
  let n = node;
  const seen = new Set<string>();
  while (n && typeof n.$ref === "string") {
    if (seen.has(n.$ref)) throw new Error(`circular $ref ${n.$ref}`);
    seen.add(n.$ref);
    const parts = n.$ref.replace(/^#\//, "").split("/");
    n = parts.reduce<Json>(
      (acc, k) => (acc as Record<string, Json> | undefined)?.[k.replace(/~1/g, "/").replace(/~0/g, "~")] as Json,
      doc,
    );
  }
  return n;
}

/**
 * The ID prefix a path parameter expects, read from its schema pattern (`^as_[0-9a-z]{26}$` → "as").
 * Undefined when the parameter is not a prefixed ID.
 */
export function idPrefixOf(doc: Json, param: Json): string | undefined {
  const schema = deref(doc, param.schema ?? {});
  const m = /^\^([a-z]+)_\[0-9a-z\]\{26\}\$$/.exec(schema.pattern ?? "");
  return m?.[1];
}

/** A syntactically valid ID that no one created: `as_0000…`. */
export function placeholderFor(doc: Json, param: Json): string {
  const schema = deref(doc, param.schema ?? {});
  const prefix = idPrefixOf(doc, param);
  if (prefix) return `${prefix}_${"0".repeat(26)}`;
  if (schema.enum?.length) return String(schema.enum[0]);
  if (schema.type === "integer" || schema.type === "number") return String(schema.minimum ?? 1);
  if (schema.pattern) {
    // Unknown pattern shapes: try a few candidates and keep the first that matches.
    const re = new RegExp(schema.pattern);
    for (const c of ["x", "0", "a".repeat(20), "0".repeat(26), "abc-123"]) if (re.test(c)) return c;
    throw new Error(`cannot synthesise a value for path parameter ${param.name} (pattern ${schema.pattern})`);
  }
  return "x";
}

/** Fill a path template: values by parameter name, placeholders for the rest. */
export function fillPath(doc: Json, op: Operation, values: Record<string, string> = {}): string {
  let path = op.path;
  for (const p of op.pathParams) {
    path = path.replace(`{${p.name}}`, encodeURIComponent(values[p.name] ?? placeholderFor(doc, p)));
  }
  return path;
}

/**
 * A value that satisfies `schema`. `full` also fills optional properties (some operations reject an
 * empty object, e.g. PATCH needs at least one field).
 */
export function synthesize(doc: Json, schemaNode: Json | undefined, full = false, depth = 0): unknown {
  if (!schemaNode || depth > 8) return undefined;
  const s = deref(doc, schemaNode);
  if (s.example !== undefined) return s.example;
  if (s.default !== undefined && !full) return s.default;
  if (s.const !== undefined) return s.const;
  if (s.enum?.length) return s.enum[0];
  const variants = s.anyOf ?? s.oneOf;
  if (variants) {
    const nonNull = variants.map((v: Json) => deref(doc, v)).find((v: Json) => v.type !== "null");
    return synthesize(doc, nonNull ?? variants[0], full, depth + 1);
  }
  if (s.allOf) {
    return Object.assign({}, ...s.allOf.map((v: Json) => synthesize(doc, v, full, depth + 1)));
  }
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== "null") : s.type;
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const required = new Set<string>(s.required ?? []);
      for (const [k, v] of Object.entries<Json>(s.properties ?? {})) {
        if (!required.has(k) && !full) continue;
        const value = synthesize(doc, v, full, depth + 1);
        if (value !== undefined) out[k] = value;
      }
      return out;
    }
    case "array": {
      const n = Math.max(s.minItems ?? 0, full ? 1 : 0);
      return Array.from({ length: n }, () => synthesize(doc, s.items, full, depth + 1));
    }
    case "integer":
    case "number":
      return s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
    case "boolean":
      return false;
    case "null":
      return null;
    default: {
      if (s.format === "uri" || s.format === "url") return "https://example.com/keyframe-test";
      if (s.format === "email") return "test@example.com";
      if (s.format === "date-time") return new Date().toISOString();
      if (s.pattern) {
        const m = /^\^([a-z]+)_\[0-9a-z\]\{26\}\$$/.exec(s.pattern);
        if (m) return `${m[1]}_${"0".repeat(26)}`;
        const re = new RegExp(s.pattern);
        for (const c of ["https://example.com", "example.com", "video/mp4", "x", "abc", "0"]) if (re.test(c)) return c;
      }
      return "x".repeat(Math.max(1, s.minLength ?? 1));
    }
  }
}

/** The operation's collection path and the create operation on it: `/v1/assets/{asset_id}` → POST /v1/assets. */
export function creatorFor(ops: Operation[], paramName: string): Operation | undefined {
  const holder = ops.find((o) => o.path.endsWith(`/{${paramName}}`));
  if (!holder) return undefined;
  const collection = holder.path.slice(0, -`/{${paramName}}`.length);
  return ops.find((o) => o.method === "POST" && o.path === collection);
}

/** A scope other than `required` (and other than `*`), to build a key that must be refused. */
export function otherScope(required: string, scopes: readonly string[]): string {
  const other = scopes.find((s) => s !== required && s !== "*" && s !== "keys:write");
  if (!other) throw new Error(`no scope other than ${required}`);
  return other;
}
