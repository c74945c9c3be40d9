/**
 * Plumbing for system-driven state changes (queue consumers, cron, transcoder callbacks): a service
 * context with a system caller, and "exactly once" events. Callbacks and queue messages are
 * at-least-once, so every event the pipeline emits is inserted with a NOT EXISTS guard (and a state
 * guard) in the same batch as the state change it announces: a repeated callback re-runs the batch
 * harmlessly and announces nothing new.
 */
import { inArray, is, SQL, sql } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { schema } from "../../db/client";
import { newId } from "../../lib/ids";
import type { ServiceContext } from "../context";
import { type EventInput, enqueueEvents } from "../events/record";

/** The one system-context factory lives in ../context.ts; re-exported for the pipeline's callers. */
export { systemContext } from "../context";

/**
 * A statement for d1Batch: a drizzle query builder, or raw SQL. drizzle's own batch cannot carry raw
 * SQL (INSERT … SELECT … WHERE NOT EXISTS), so these batches are compiled and sent to D1 directly;
 * D1 runs a batch as one transaction.
 */
export type BatchStatement = { toSQL(): { sql: string; params: unknown[] } } | SQL;

const dialect = new SQLiteSyncDialect();

export async function d1Batch(env: Env, statements: BatchStatement[]): Promise<D1Result[]> {
  if (statements.length === 0) return [];
  return env.DB.batch(
    statements.map((s) => {
      const q = is(s, SQL) ? dialect.sqlToQuery(s) : s.toSQL();
      return env.DB.prepare(q.sql).bind(...q.params);
    }),
  );
}

export interface OnceEvent {
  event: EventInput;
  /** Events with the same subject, type and (if given) `data.job_id` are emitted at most once. */
  perJob?: string;
  /** Extra SQL condition, typically "the state change really landed". */
  guard?: SQL;
}

function onceEventStatement(ctx: ServiceContext, e: OnceEvent): { id: string; statement: SQL } {
  const id = newId("event");
  const ev = e.event;
  const perJob = e.perJob ? sql` AND json_extract(data, '$.job_id') = ${e.perJob}` : sql``;
  const guard = e.guard ? sql` AND (${e.guard})` : sql``;
  const statement = sql`INSERT INTO events
      (id, environment_id, type, subject_id, asset_id, upload_id, correlation_id, data)
    SELECT ${id}, ${ctx.caller.environmentId}, ${ev.type}, ${ev.subjectId}, ${ev.assetId ?? null},
      ${ev.uploadId ?? null}, ${ev.correlationId ?? null}, ${JSON.stringify(ev.data)}
    WHERE NOT EXISTS (SELECT 1 FROM events WHERE subject_id = ${ev.subjectId} AND type = ${ev.type}${perJob})${guard}`;
  return { id, statement };
}

/**
 * Runs the state changes and the guarded event inserts in one batch, then enqueues only the events
 * that were really written. Returns the IDs of those events.
 */
export async function commitOnce(ctx: ServiceContext, statements: BatchStatement[], events: OnceEvent[] = []) {
  const built = events.map((e) => onceEventStatement(ctx, e));
  await d1Batch(ctx.env, [...statements, ...built.map((b) => b.statement)]);
  if (built.length === 0) return [];
  const written = await ctx.db
    .select({ id: schema.events.id })
    .from(schema.events)
    .where(
      inArray(
        schema.events.id,
        built.map((b) => b.id),
      ),
    );
  const ids = written.map((w) => w.id);
  if (ids.length > 0) ctx.waitUntil(enqueueEvents(ctx.env, ids));
  return ids;
}

/** Exponential backoff for queue retries: 5 s, 10 s, 20 s … capped at 5 minutes. */
export function backoffSeconds(attempt: number): number {
  return Math.min(5 * 2 ** Math.max(0, attempt - 1), 300);
}
