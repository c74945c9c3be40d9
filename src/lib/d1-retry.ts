/**
 * D1 with retries on transient failures, for the API and the edge.
 *
 * Everywhere: the errors Cloudflare documents as retryable ("Network connection lost", "storage caused
 * object to be reset", "reset because its code was updated"; d1/best-practices/retry-queries).
 * In development only (KEYFRAME_ENV=development, which `npm start` and the tests set) also SQLite's lock: locally the API and the edge are two `wrangler dev` processes
 * over one state folder, and a read in one while the other writes fails with SQLITE_BUSY, which reaches
 * the worker as "internal error; reference = …" (measured: 4 writers + 8 readers → a third of the edge's
 * reads and over half of the API's writes answered 500). A statement or batch that hit the lock did not
 * run (a batch is one transaction), so running it again is safe.
 *
 * Exponential backoff with jitter (10 ms doubling, capped at 250 ms). Deployed: 10 attempts, ~1.5 s at most.
 * In development: attempts until 8 s have passed — the lock is held for as long as the other process's write
 * takes, and a loaded 2-core machine running the e2e stacks held it past 1.5 s (one edge read of 80 answered
 * 500 in CI). When the retries run out, the error becomes a `D1UnavailableError`, which the API and the edge
 * answer with 503 `service_unavailable` and `Retry-After`, never 500. Statements keep their native identity
 * for `batch`, which only takes D1's own prepared statements.
 */

import { isDevelopment } from "./config";

const DOCUMENTED = [
  "Network connection lost",
  "storage caused object to be reset",
  "reset because its code was updated",
];
const LOCAL_LOCK = ["database is locked", "SQLITE_BUSY", "internal error; reference ="];
const ATTEMPTS = 10;
const LOCAL_BUDGET_MS = 8_000;
const MAX_BACKOFF_MS = 250;

/** A transient D1 failure that outlasted the retries. The caller may try again shortly. */
export class D1UnavailableError extends Error {
  readonly retryAfterSeconds = 1;
  constructor(cause: unknown) {
    super(`The database is briefly unavailable: ${String((cause as Error)?.message ?? cause)}`, { cause });
    this.name = "D1UnavailableError";
  }
}

/** The D1UnavailableError behind `err`, if any: drizzle wraps a failed query in its own error (`cause`). */
export function d1Unavailable(err: unknown): D1UnavailableError | null {
  for (let e = err, depth = 0; e && depth < 5; e = (e as Error).cause, depth++) {
    if (e instanceof D1UnavailableError) return e;
  }
  return null;
}

export interface D1RetryOptions {
  /** Development: SQLite's lock is retryable too, and retries run for a time budget instead of 10 attempts. */
  local: boolean;
  /** The development budget (tests shorten it). */
  budgetMs?: number;
}

export function isRetryableD1Error(err: unknown, local: boolean): boolean {
  const message = String((err as Error)?.message ?? err);
  return DOCUMENTED.some((m) => message.includes(m)) || (local && LOCAL_LOCK.some((m) => message.includes(m)));
}

async function retrying<T>(opts: D1RetryOptions, op: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + (opts.budgetMs ?? LOCAL_BUDGET_MS);
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isRetryableD1Error(err, opts.local)) throw err;
      if (opts.local ? Date.now() >= deadline : attempt >= ATTEMPTS) throw new D1UnavailableError(err);
      const backoff = Math.min(MAX_BACKOFF_MS, 10 * 2 ** (attempt - 1));
      await new Promise((r) => setTimeout(r, backoff / 2 + Math.random() * backoff));
    }
  }
}

const RUNS = new Set<PropertyKey>(["first", "all", "run", "raw"]);

export function withD1Retry(db: D1Database, opts: D1RetryOptions): D1Database {
  const native = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        if (prop === "bind") return (...values: unknown[]) => wrap(target.bind(...values));
        const value = Reflect.get(target, prop, target);
        if (RUNS.has(prop) && typeof value === "function") {
          return (...args: unknown[]) => retrying(opts, () => value.apply(target, args));
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    native.set(proxy, stmt);
    return proxy;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") return (sql: string) => wrap(target.prepare(sql));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) =>
          retrying(opts, () => target.batch(statements.map((s) => native.get(s) ?? s)));
      }
      if (prop === "exec") return (sql: string) => retrying(opts, () => target.exec(sql));
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** `env` with its DB wrapped (once per env object); everything else untouched. */
export function withRetryingDb<E extends { DB: D1Database; KEYFRAME_ENV?: string }>(env: E): E {
  let out = wrappedEnvs.get(env) as E | undefined;
  if (!out) {
    out = { ...env, DB: withD1Retry(env.DB, { local: isDevelopment(env) }) };
    wrappedEnvs.set(env, out);
  }
  return out;
}

const wrappedEnvs = new WeakMap<object, object>();
