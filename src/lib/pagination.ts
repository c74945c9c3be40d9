/**
 * Cursor pagination: `?limit=&cursor=` → `{ data, next_cursor }`. Lists are newest first and IDs are
 * time-ordered, so the cursor is just the last ID seen (opaque to clients, validated on the way in).
 */
import { z } from "@hono/zod-openapi";
import { KeyframeError } from "./errors";
import { base64url } from "./ids";

export const ListQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(25)
    .openapi({ param: { name: "limit", in: "query" } }),
  cursor: z
    .string()
    .max(200)
    .optional()
    .openapi({ param: { name: "cursor", in: "query" }, description: "next_cursor from the previous page" }),
});

export function encodeCursor(lastId: string): string {
  return base64url(new TextEncoder().encode(`v1:${lastId}`));
}

export function decodeCursor(cursor: string | undefined, idPattern: RegExp): string | undefined {
  if (cursor === undefined) return undefined;
  let text: string;
  try {
    const b64 = cursor.replace(/-/g, "+").replace(/_/g, "/");
    text = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  } catch {
    throw new KeyframeError("invalid_cursor", "The cursor is not one this API issued.");
  }
  const id = text.startsWith("v1:") ? text.slice(3) : "";
  if (!idPattern.test(id)) throw new KeyframeError("invalid_cursor", "The cursor is not one this API issued.");
  return id;
}

/** Given `limit + 1` rows, return the page and the cursor for the next one. */
export function page<T extends { id: string }>(rows: T[], limit: number): { rows: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const pageRows = rows.slice(0, limit);
  return { rows: pageRows, nextCursor: encodeCursor(pageRows[pageRows.length - 1].id) };
}

export const listResponseSchema = <T extends z.ZodTypeAny>(item: T, name: string) =>
  z.object({ data: z.array(item), next_cursor: z.string().nullable() }).openapi(name);
