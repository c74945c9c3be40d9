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
  /** Run work after the response without holding it (ExecutionContext.waitUntil). */
  waitUntil: (p: Promise<unknown>) => void;
}

export interface Verb<I> {
  ctx: ServiceContext;
  input: I;
}
