/**
 * Event payloads carry the object (design.md, "Events"): `data` is the resource exactly as its `GET`
 * returns it, serialized by the same function the `GET` uses, over the ids the event carried before
 * (`asset_id`, `upload_id`, `job_id`, …, kept where they were for compatibility).
 *
 * The snapshot is of the state the change writes, and it is written in the same batch as the change:
 * an insert writes `rowWithDefaults(...)` (the very object the snapshot serializes), an update's
 * snapshot is the row it was decided on with the update's `set` applied. Secrets never enter it: the
 * serializers are called as for a caller without credential-bearing fields (no upload URLs, no stream
 * key or ingest URL); webhook endpoints and signing keys emit no events.
 */
import { getTableColumns, is, SQL } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { nowIso } from "../../lib/time";

/** `{...ids, ...resource}`: the resource wins where an old field has the same name (same meaning, same value). */
export function withResource(ids: Record<string, unknown>, resource: object): Record<string, unknown> {
  return { ...ids, ...(resource as Record<string, unknown>) };
}

/** A column's SQL default as the value the database would store (the few forms schema.ts uses). */
function sqlDefault(column: string, value: SQL, now: string): unknown {
  const text = value.queryChunks
    .map((c) => (typeof c === "object" && c !== null && "value" in c ? (c.value as string[]).join("") : String(c)))
    .join("");
  if (text.includes("strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")) return now;
  const literal = /^'(.*)'$/s.exec(text.trim());
  if (literal) return JSON.parse(literal[1]);
  throw new Error(`rowWithDefaults: no JS value for the SQL default of '${column}': ${text}`);
}

/**
 * The complete row an insert of `values` stores, column defaults filled in as the database would. Insert
 * this object (not `values`): then the row written and the row an event serializes are the same.
 */
export function rowWithDefaults<T extends SQLiteTable>(table: T, values: T["$inferInsert"]): T["$inferSelect"] {
  const row: Record<string, unknown> = {};
  const given = values as Record<string, unknown>;
  const now = nowIso();
  for (const [key, col] of Object.entries(getTableColumns(table))) {
    if (given[key] !== undefined) row[key] = given[key];
    else if (col.defaultFn) row[key] = col.defaultFn();
    else if (col.hasDefault && col.default !== undefined)
      row[key] = is(col.default, SQL) ? sqlDefault(key, col.default, now) : col.default;
    else row[key] = null;
  }
  return row as T["$inferSelect"];
}
