/**
 * Owns the last step of building the OpenAPI document: what every operation must carry for client
 * generators (openapi-typescript, the SDK, redocly lint), applied in one place so routes added later get
 * it without touching this file.
 *
 * - `operationId`: `<resource>.<verb>` derived from the method and the path template (see
 *   `deriveOperationId`); a route may set its own, and OPERATION_ID_OVERRIDES names the few the rule would
 *   name badly. IDs are part of the contract: the rule may gain cases, but an existing ID never changes
 *   (test/workers/openapi-fitness.test.ts pins them).
 * - `security`: an operation that declares none is public and says so with `security: []`.
 * - `info.license`.
 */

/** An OpenAPI operation, as far as finalizing it needs. */
interface Operation {
  operationId?: string;
  security?: unknown[];
}
type Document = { paths?: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>> };
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/** Where the rule's name would mislead: public endpoints and the upload byte protocol. */
export const OPERATION_ID_OVERRIDES: Record<string, string> = {
  "GET /v1/health": "health.check",
  // Singular sub-resources and state toggles, where the method rule would say list…/replace….
  "GET /v1/keys/self": "keys.getSelf",
  "GET /v1/live-streams/{live_stream_id}/health": "liveStreams.getHealth",
  "PUT /v1/live-streams/{live_stream_id}/disable": "liveStreams.disable",
  "PUT /v1/live-streams/{live_stream_id}/enable": "liveStreams.enable",
  "PUT /uploads/{upload_id}": "uploadBytes.put",
  "OPTIONS /uploads/{upload_id}": "uploadBytes.preflight",
  "OPTIONS /tus": "tus.discover",
  "OPTIONS /tus/{upload_id}": "tus.discoverUpload",
  "HEAD /tus/{upload_id}": "tus.getOffset",
  "PATCH /tus/{upload_id}": "tus.append",
  "POST /tus/{upload_id}": "tus.create",
  "DELETE /tus/{upload_id}": "tus.terminate",
};

const isParam = (s: string) => s.startsWith("{");
const camel = (s: string) => s.replace(/[-_]+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const pascal = (s: string) => camel(s).replace(/^./, (c) => c.toUpperCase());
const isPlural = (s: string) => /[^s]s$/.test(s);
function singular(s: string): string {
  if (s.endsWith("ies")) return `${s.slice(0, -3)}y`;
  return isPlural(s) ? s.slice(0, -1) : s;
}

/**
 * `<resource>.<verb>`: the resource is the first path segment after `/v1`, camelCased; the verb is
 * - on the resource itself: list / create (collection), get / update / delete (one item);
 * - below an item: `list<Sub>` / `get<Sub>` / `delete<Sub>` / `create<Sub>` for a plural sub-collection
 *   (`GET /v1/assets/{id}/playback-ids` → `assets.listPlaybackIds`), and the action's own name for a POST
 *   to a non-plural segment (`POST /v1/webhook-endpoints/{id}/rotate-secret` → `webhookEndpoints.rotateSecret`).
 */
export function deriveOperationId(method: string, path: string): string {
  const m = method.toLowerCase();
  const segments = path.split("/").filter(Boolean);
  if (segments[0] === "v1") segments.shift();
  const resource = camel(segments[0] ?? "root");
  const rest = segments.slice(1);
  const endsWithItem = rest.length > 0 && isParam(rest[rest.length - 1]);
  const nouns = rest.filter((s) => !isParam(s));
  const base: Record<string, string> = {
    get: endsWithItem ? "get" : "list",
    post: "create",
    patch: "update",
    put: "replace",
    delete: "delete",
    head: "head",
    options: "options",
    trace: "trace",
  };
  if (nouns.length === 0) return `${resource}.${base[m]}`;
  const last = nouns[nouns.length - 1];
  if (m === "post" && !endsWithItem && !isPlural(last)) {
    return `${resource}.${camel(last)}${nouns.slice(0, -1).map(pascal).join("")}`;
  }
  const noun = [...nouns.slice(0, -1), endsWithItem || m !== "get" ? singular(last) : last].map(pascal).join("");
  return `${resource}.${base[m]}${noun}`;
}

/** Fills in operationId and public `security: []`, and refuses duplicate IDs (a generator would too). */
export function finalizeOpenApiDocument<T extends object>(doc: T): T {
  const seen = new Map<string, string>();
  for (const [path, item] of Object.entries((doc as Document).paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const where = `${method.toUpperCase()} ${path}`;
      op.operationId ??= OPERATION_ID_OVERRIDES[where] ?? deriveOperationId(method, path);
      op.security ??= [];
      const id = op.operationId;
      const clash = seen.get(id);
      if (clash) throw new Error(`operationId '${id}' is used by both ${clash} and ${where}`);
      seen.set(id, where);
    }
  }
  return doc;
}

export const LICENSE = { name: "MIT", identifier: "MIT" } as const;
