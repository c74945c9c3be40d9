/**
 * withD1Retry over the real D1 binding (every statement path still works, batch takes the wrapped
 * statements), and its retry rules. The lock it retries locally only happens between two workerd
 * processes (covered for real by test/node/e2e-concurrency.test.ts), so the rules are checked here with
 * a database whose first calls fail with the exact messages workerd and D1 produce.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp, onError, requestIdMiddleware } from "../../src/app";
import { D1UnavailableError, isRetryableD1Error, withD1Retry } from "../../src/lib/d1-retry";

const LOCK = new Error(
  "D1_ERROR: Failed to parse body as JSON, got: Error: internal error; reference = 884b719lje9j3mcqo8hf4h71",
);

/** A D1Database whose first `failures` calls to first()/batch() throw `error`, then answer. */
function flaky(failures: number, error: Error) {
  let calls = 0;
  const attempt = <T>(value: T) => {
    calls++;
    if (calls <= failures) return Promise.reject(error);
    return Promise.resolve(value);
  };
  const stmt = { bind: () => stmt, first: () => attempt({ n: 1 }) };
  const db = { prepare: () => stmt, batch: () => attempt([]) } as unknown as D1Database;
  return { db, calls: () => calls };
}

describe("withD1Retry", () => {
  it("passes every statement path through to the real D1, batch included", async () => {
    const db = withD1Retry(env.DB, { local: true });
    await db.exec("create table if not exists t (id integer primary key, v text)");
    const insert = db.prepare("insert into t (id, v) values (?, ?)");
    await db.batch([insert.bind(1, "a"), insert.bind(2, "b")]);
    await db.prepare("insert into t (id, v) values (?, ?)").bind(3, "c").run();
    expect(await db.prepare("select v from t where id = ?").bind(2).first("v")).toBe("b");
    expect((await db.prepare("select id from t order by id").all()).results).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect(await db.prepare("select id, v from t where id = 1").raw()).toEqual([[1, "a"]]);
    // A failing batch is one transaction: nothing from it lands.
    await expect(db.batch([insert.bind(4, "d"), insert.bind(1, "dup")])).rejects.toThrow(/UNIQUE/);
    expect(await db.prepare("select count(*) as n from t").first("n")).toBe(3);
  });

  it("retries the local lock outside production, and Cloudflare's documented errors everywhere", async () => {
    const local = flaky(3, LOCK);
    expect(await withD1Retry(local.db, { local: true }).prepare("x").bind(1).first()).toEqual({ n: 1 });
    expect(local.calls()).toBe(4);

    const prod = flaky(3, LOCK);
    await expect(withD1Retry(prod.db, { local: false }).prepare("x").first()).rejects.toBe(LOCK);
    expect(prod.calls()).toBe(1);

    const lost = flaky(2, new Error("D1_ERROR: Network connection lost."));
    await expect(withD1Retry(lost.db, { local: false }).batch([])).resolves.toEqual([]);
    expect(lost.calls()).toBe(3);
  });

  it("does not retry other errors; gives up after 10 attempts deployed, after its time budget locally", async () => {
    const syntax = flaky(1, new Error('D1_ERROR: near "selct": syntax error'));
    await expect(withD1Retry(syntax.db, { local: true }).prepare("x").first()).rejects.toThrow(/syntax/);
    expect(syntax.calls()).toBe(1);

    const lost = flaky(100, new Error("D1_ERROR: Network connection lost."));
    const deployed = await withD1Retry(lost.db, { local: false })
      .prepare("x")
      .first()
      .catch((e) => e);
    expect(deployed).toBeInstanceOf(D1UnavailableError);
    expect((deployed as D1UnavailableError).cause).toBeInstanceOf(Error);
    expect(lost.calls()).toBe(10);

    const stuck = flaky(1000, LOCK);
    const started = Date.now();
    const local = await withD1Retry(stuck.db, { local: true, budgetMs: 600 })
      .prepare("x")
      .first()
      .catch((e) => e);
    expect(local).toBeInstanceOf(D1UnavailableError);
    expect((local as D1UnavailableError).cause).toBe(LOCK);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(stuck.calls()).toBeGreaterThan(3);
    expect(isRetryableD1Error(new Error("SQLITE_BUSY"), true)).toBe(true);
    expect(isRetryableD1Error(new Error("SQLITE_BUSY"), false)).toBe(false);
  });
});

describe("a D1 failure that outlasts the retries", () => {
  it("is a 503 service_unavailable with Retry-After from the API, not a 500", async () => {
    const app = createApp();
    app.use(requestIdMiddleware);
    // As drizzle throws it: its own error around the driver's.
    app.get("/x", () => {
      throw new Error("Failed query: select 1", { cause: new D1UnavailableError(LOCK) });
    });
    app.onError(onError);
    const res = await app.request("/x");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(await res.json()).toMatchObject({ code: "service_unavailable", status: 503 });
  });
});
