/**
 * The API worker's OpenAPI document, built in Node from the worker's own code (no wrangler, no workerd):
 * the app is imported with `cloudflare:*` modules stubbed (only Durable Object base classes come from
 * there, and building the document never instantiates one) and asked for `/v1/openapi.json`.
 * Used by `npm run sdk:generate`, the SDK drift test and the redocly lint test.
 */
import { register } from "node:module";

const STUB =
  "export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }" +
  "export class WorkerEntrypoint {} export class WorkflowEntrypoint {} export const env = {};";
const HOOK = `export async function resolve(specifier, context, next) {
  if (specifier.startsWith("cloudflare:")) return { url: "data:text/javascript,${encodeURIComponent(STUB)}", shortCircuit: true };
  return next(specifier, context);
}`;

let registered = false;

/** The document as the worker serves it; `origin` becomes `servers[0].url`. */
export async function buildOpenApiDocument(origin = "http://127.0.0.1:8787"): Promise<Record<string, any>> {
  if (!registered) {
    register(`data:text/javascript,${encodeURIComponent(HOOK)}`);
    registered = true;
  }
  const { app } = await import("../../src/index");
  const res = await app.request(`${origin}/v1/openapi.json`);
  if (res.status !== 200) throw new Error(`GET /v1/openapi.json answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, any>;
}
