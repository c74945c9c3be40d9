/**
 * What every service verb receives: the database, bindings, and who is calling. Built once per
 * request by middleware (and by queue/cron handlers with a system caller), never a module singleton.
 */
import type { Db } from "../db/client";

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
