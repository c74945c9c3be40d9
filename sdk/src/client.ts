/**
 * `new Keyframe({ baseUrl, apiKey })`: every /v1 operation as `kf.<resource>.<verb>(args)`, built from the
 * generated operation table (generated/operations.ts) over openapi-fetch and the generated types, so an
 * operation added to the API appears here after `npm run sdk:generate` with no hand-written code.
 *
 * One argument object per call: path and query parameters by name, every other field is the JSON body
 * (the generator refuses a body field that shares a parameter's name). Lists return a PageIterable: await
 * it for the first page, or `for await` over every item across pages. Creates send an Idempotency-Key.
 */
import createClient, { type Client } from "openapi-fetch";
import type { SuccessResponse } from "openapi-typescript-helpers";
import { AssetErroredError, KeyframeApiError, type Problem } from "./errors";
import type { paths } from "./generated/openapi";
import { OPERATIONS, type Operations } from "./generated/operations";
import { type RetryOptions, retryingFetch } from "./retry";

type OpOf<S> = S extends { method: infer M extends string; path: infer P extends keyof paths }
  ? paths[P] extends Record<M, infer O>
    ? O
    : never
  : never;
/** A parameter group (`path`, `query`), or `unknown` (no constraint) when the operation has none. */
type Part<O, K extends string> = O extends { parameters: Record<K, infer X> }
  ? [NonNullable<X>] extends [never]
    ? unknown
    : NonNullable<X>
  : O extends { parameters: Partial<Record<K, infer X>> }
    ? [NonNullable<X>] extends [never]
      ? unknown
      : Partial<NonNullable<X>>
    : unknown;
type BodyOf<O> = O extends { requestBody?: { content: { "application/json": infer B } } }
  ? [B] extends [never]
    ? unknown
    : B
  : unknown;
/** What one call takes: path params & query params & JSON body fields. */
export type ArgsOf<O> = Part<O, "path"> & Part<O, "query"> & BodyOf<O>;
type ResponsesOf<O> = O extends { responses: infer R extends Record<string | number, unknown> }
  ? R
  : Record<never, never>;
type Success<O> = SuccessResponse<ResponsesOf<O>, `${string}/${string}`>;
type OkOf<O> = [Success<O>] extends [never] ? undefined : Success<O>;
type Result<O> =
  OkOf<O> extends { data: (infer I)[]; next_cursor?: unknown }
    ? Part<O, "query"> extends { cursor?: unknown }
      ? PageIterable<I, OkOf<O>>
      : Promise<OkOf<O>>
    : Promise<OkOf<O>>;

export interface CallOptions {
  /** Overrides the generated Idempotency-Key of a create (reuse one to make a retry of yours safe). */
  idempotencyKey?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

type Method<O> =
  Record<never, never> extends ArgsOf<O>
    ? (args?: ArgsOf<O>, options?: CallOptions) => Result<O>
    : (args: ArgsOf<O>, options?: CallOptions) => Result<O>;
export type Resources = {
  [R in keyof Operations]: { [V in keyof Operations[R]]: Method<OpOf<Operations[R][V]>> };
};

export interface KeyframeOptions extends RetryOptions {
  /** The API origin, e.g. http://127.0.0.1:8787 or https://keyframe-api.example.workers.dev. */
  baseUrl: string;
  /** An API key secret, `kf_…`. */
  apiKey?: string;
  /** Defaults to globalThis.fetch; in a Worker, a service binding's `fetch` works too. */
  fetch?: (request: Request) => Promise<Response>;
}

/** Awaitable (first page) and async-iterable (every item, following next_cursor). */
export class PageIterable<I, P extends { data: I[]; next_cursor?: unknown }> implements AsyncIterable<I> {
  constructor(private readonly fetchPage: (cursor?: string) => Promise<P>) {}
  // biome-ignore lint/suspicious/noThenProperty: deliberately awaitable; the request starts only when awaited or iterated.
  then<A = P, B = never>(
    onOk?: ((p: P) => A | PromiseLike<A>) | null,
    onErr?: ((e: unknown) => B | PromiseLike<B>) | null,
  ) {
    return this.fetchPage().then(onOk, onErr);
  }
  catch<B = never>(onErr?: ((e: unknown) => B | PromiseLike<B>) | null) {
    return this.fetchPage().catch(onErr);
  }
  async *pages(): AsyncGenerator<P> {
    let cursor: string | undefined;
    do {
      const page = await this.fetchPage(cursor);
      yield page;
      cursor = (page.next_cursor as string | null | undefined) ?? undefined;
    } while (cursor);
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<I> {
    for await (const page of this.pages()) yield* page.data;
  }
  /** Every item, collected (at most `max`, default 10 000). */
  async toArray(max = 10_000): Promise<I[]> {
    const out: I[] = [];
    for await (const item of this) {
      out.push(item);
      if (out.length >= max) break;
    }
    return out;
  }
}

/** `raw.request` for a method and path known only at run time. */
type RawRequest = (
  method: string,
  path: string,
  init: {
    params: { path: Record<string, unknown>; query: Record<string, unknown> };
    body: Record<string, unknown> | undefined;
    headers: Record<string, string>;
    signal: AbortSignal | undefined;
  },
) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

interface Spec {
  method: string;
  path: string;
  path_params: readonly string[];
  query_params: readonly string[];
  paginated: boolean;
  idempotent: boolean;
}

export type Asset = OkOf<OpOf<Operations["assets"]["get"]>>;
export type AssetStatus = Asset extends { status: infer S } ? S : string;

export interface WaitForAssetOptions {
  /** A status (default `ready`) or a predicate on the asset. */
  until?: AssetStatus | ((asset: Asset) => boolean);
  timeoutMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
  onPoll?: (asset: Asset) => void;
}

export interface Keyframe extends Resources {}
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the resource groups are assigned in the constructor from the generated table.
export class Keyframe {
  /** The underlying openapi-fetch client, for anything the resource methods do not cover. */
  readonly raw: Client<paths>;

  constructor(readonly options: KeyframeOptions) {
    const inner = options.fetch ?? ((req: Request) => globalThis.fetch(req));
    this.raw = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      fetch: retryingFetch(inner, options),
      headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
    });
    for (const [resource, verbs] of Object.entries(OPERATIONS)) {
      const group: Record<string, unknown> = {};
      for (const [verb, spec] of Object.entries<Spec>(verbs)) {
        group[verb] = (args?: Record<string, unknown>, opts?: CallOptions) => this.call(spec, args ?? {}, opts ?? {});
      }
      (this as Record<string, unknown>)[resource] = group;
    }
  }

  private call(spec: Spec, args: Record<string, unknown>, opts: CallOptions): unknown {
    const path: Record<string, unknown> = {};
    const query: Record<string, unknown> = {};
    const body: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(args)) {
      if (spec.path_params.includes(k)) path[k] = v;
      else if (spec.query_params.includes(k)) query[k] = v;
      else body[k] = v;
    }
    for (const p of spec.path_params) {
      if (typeof path[p] !== "string" || !path[p])
        throw new TypeError(`${spec.method.toUpperCase()} ${spec.path}: '${p}' is required`);
    }
    const hasBody = spec.method !== "get" && spec.method !== "delete" && spec.method !== "head";
    const send = (cursor?: string) =>
      this.send(spec, path, cursor ? { ...query, cursor } : query, hasBody ? body : undefined, opts);
    // A paginated operation answers a page; the public type of each method comes from Resources, not from here.
    return spec.paginated
      ? new PageIterable((cursor) => send(cursor) as Promise<{ data: unknown[]; next_cursor?: unknown }>)
      : send();
  }

  private async send(
    spec: Spec,
    path: Record<string, unknown>,
    query: Record<string, unknown>,
    body: Record<string, unknown> | undefined,
    opts: CallOptions,
  ): Promise<unknown> {
    const headers: Record<string, string> = { ...opts.headers };
    if (spec.idempotent) headers["idempotency-key"] = opts.idempotencyKey ?? crypto.randomUUID();
    // The method and path come from the operation table at run time, which openapi-fetch's per-path generics
    // cannot express: call it through the shape it has for any one of them.
    const request = this.raw.request as unknown as RawRequest;
    const { data, error, response } = await request(spec.method, spec.path, {
      params: { path, query },
      body,
      headers,
      signal: opts.signal,
    });
    if (response.ok) return data;
    throw toApiError(response, error);
  }

  /** Polls the asset until it reaches `until` (default `ready`); throws AssetErroredError if it errors first. */
  async waitForAsset(assetId: string, opts: WaitForAssetOptions = {}): Promise<Asset> {
    const until = opts.until ?? "ready";
    const reached = typeof until === "function" ? until : (a: Asset) => (a as { status: string }).status === until;
    const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
    const interval = opts.intervalMs ?? 1000;
    for (;;) {
      const asset = (await this.assets.get({ asset_id: assetId }, { signal: opts.signal })) as Asset;
      opts.onPoll?.(asset);
      if (reached(asset)) return asset;
      const status = (asset as { status: string }).status;
      if (status === "errored" || status === "deleted") throw new AssetErroredError(asset);
      if (Date.now() + interval > deadline) {
        throw new Error(`Timed out waiting for asset ${assetId} (last status '${status}').`);
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  }
}

function toApiError(response: Response, error: unknown): KeyframeApiError {
  const requestId = response.headers.get("x-request-id") ?? undefined;
  if (error && typeof error === "object" && "code" in error) {
    return new KeyframeApiError(response.status, error as Partial<Problem>, requestId);
  }
  const text = typeof error === "string" ? error : undefined;
  return new KeyframeApiError(response.status, undefined, requestId, text?.slice(0, 500) || response.statusText);
}
