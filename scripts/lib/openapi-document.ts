/**
 * The API worker's OpenAPI document, built in Node from the worker's own code (no wrangler, no workerd):
 * the app is imported with `cloudflare:*` modules stubbed (only Durable Object base classes come from
 * there, and building the document never instantiates one), text-imported bundles stubbed as empty strings,
 * and asked for `/v1/openapi.json`.
 * Used by `npm run sdk:generate`, the SDK drift test and the redocly lint test.
 */
import { register } from "node:module";

const STUB =
  "export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }" +
  "export class WorkerEntrypoint {} export class WorkflowEntrypoint {} export const env = {};";
/** Modules wrangler imports as text (the `[[rules]] type = "Text"` globs of wrangler.toml): an empty string here. */
const TEXT_MODULES = String.raw`(client/app\.(js|css)|hls\.min\.js|tus\.min\.js|browser/standalone\.js)$`;
const HOOK = `export async function resolve(specifier, context, next) {
  if (specifier.startsWith("cloudflare:")) return { url: "data:text/javascript,${encodeURIComponent(STUB)}", shortCircuit: true };
  if (new RegExp(${JSON.stringify(TEXT_MODULES)}).test(specifier)) return { url: "data:text/javascript,export%20default%20%22%22", shortCircuit: true };
  return next(specifier, context);
}`;

let registered = false;

/** The document as the worker serves it; `origin` becomes `servers[0].url`. */
export async function buildOpenApiDocument(origin = "http://127.0.0.1:8787"): Promise<Record<string, unknown>> {
  if (!registered) {
    register(`data:text/javascript,${encodeURIComponent(HOOK)}`);
    registered = true;
  }
  const { app } = await import("../../src/index");
  const res = await app.request(`${origin}/v1/openapi.json`);
  if (res.status !== 200) throw new Error(`GET /v1/openapi.json answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}
