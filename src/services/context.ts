/**
 * What every service verb receives: the database, bindings, and who is calling. Built once per
 * request by middleware (requestContext) and by queue/cron handlers, callbacks and Durable Objects with a
 * system caller (systemContext), never a module singleton. These two are the only places one is built.
 */
import { createDb, type Db } from "../db/client";
import { newId } from "../lib/ids";

export interface Caller {
  environmentId: string;
  /** null for system work (queue consumers, cron, the transcoder callbacks). */
  keyId: string | null;
  scopes: readonly string[];
}

export interface ServiceContext {
  db: Db;
  env: Env;
  caller: Caller;
  requestId: string;
  /** The caller's X-Request-Id, when it sent a well-formed one (audit `client_request_id`). */
  clientRequestId?: string | null;
  /** Run work after the response without holding it (ExecutionContext.waitUntil). */
  waitUntil: (p: Promise<unknown>) => void;
}

export interface Verb<I> {
  ctx: ServiceContext;
  input: I;
}

/** The context of an API-key request (src/app.ts builds it once the key is authenticated). */
export function requestContext(
  env: Env,
  caller: Caller,
  request: { requestId: string; clientRequestId?: string | null; waitUntil: (p: Promise<unknown>) => void },
): ServiceContext {
  return { db: createDb(env.DB), env, caller, ...request };
}

/**
 * A system caller (every scope) acting in one environment: queue consumers, sweeps, transcoder callbacks,
 * upload tokens and Durable Objects. `db` when the caller already holds one (e.g. a retrying D1).
 */
export function systemContext(
  env: Env,
  environmentId: string,
  waitUntil: (p: Promise<unknown>) => void,
  requestId: string = newId("request"),
  db: Db = createDb(env.DB),
): ServiceContext {
  return { db, env, caller: { environmentId, keyId: null, scopes: ["*"] }, requestId, waitUntil };
}
