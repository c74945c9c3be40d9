/**
 * Chapters at the edge: `/{playback_id}/chapters.vtt` (token audience `v`, like the video it describes)
 * serves the asset's chapter markers as a WebVTT chapters file, and the embed page lists them. Chapters
 * are read from D1 once per asset per isolate per TTL, like playback state, so a PATCH shows up within
 * STATE_TTL_MS without any R2 write.
 */
import type { Hono } from "hono";
import { type ChapterMarker, chaptersVtt } from "../../../src/lib/chapters";
import { type EdgeEnv, SHORT_TTL_MS, STATE_TTL_MS } from "./state";

export interface AssetChapters {
  chapters: ChapterMarker[];
  durationSeconds: number | null;
}

const MAX_ENTRIES = 5_000;
const cache = new Map<string, { value: AssetChapters; expiresAt: number }>();

export function clearChapterCache() {
  cache.clear();
}

export async function assetChapters(env: EdgeEnv, assetId: string): Promise<AssetChapters> {
  const hit = cache.get(assetId);
  if (hit && hit.expiresAt > Date.now()) return hit.value;
  const row = await env.DB.prepare("select chapters, duration_ms from assets where id = ?")
    .bind(assetId)
    .first<{ chapters: string | null; duration_ms: number | null }>();
  let chapters: ChapterMarker[] = [];
  try {
    const parsed = row?.chapters ? JSON.parse(row.chapters) : [];
    if (Array.isArray(parsed)) chapters = parsed;
  } catch {
    // The API writes validated JSON; anything else is treated as no chapters rather than a 500.
  }
  const value = { chapters, durationSeconds: row?.duration_ms == null ? null : row.duration_ms / 1000 };
  if (cache.size >= MAX_ENTRIES) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(assetId, { value, expiresAt: Date.now() + (chapters.length ? STATE_TTL_MS : SHORT_TTL_MS) });
  return value;
}

interface ChapterGrant {
  state: { assetId: string };
  cors: Record<string, string>;
  visibility: "public" | "private";
}

export interface ChapterRouteDeps<G extends ChapterGrant> {
  authorize: (env: EdgeEnv, req: Request, playbackId: string, audience: "v") => Promise<G | Response>;
  deny: (status: number, reason: string, cors: Record<string, string>) => Response;
}

export function registerChapterRoutes<G extends ChapterGrant>(
  app: Hono<{ Bindings: EdgeEnv }>,
  { authorize, deny }: ChapterRouteDeps<G>,
) {
  app.get("/:pid/chapters.vtt", async (c) => {
    const g = await authorize(c.env, c.req.raw, c.req.param("pid"), "v");
    if (g instanceof Response) return g;
    const { chapters, durationSeconds } = await assetChapters(c.env, g.state.assetId);
    if (chapters.length === 0) return deny(404, "no_chapters", g.cors);
    return new Response(chaptersVtt(chapters, durationSeconds), {
      headers: {
        "Content-Type": "text/vtt; charset=utf-8",
        // Chapters change by PATCH: short-lived, like the playback state they come with.
        "Cache-Control": `${g.visibility}, max-age=30`,
        ...g.cors,
      },
    });
  });
}
