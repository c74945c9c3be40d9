import { z } from "@hono/zod-openapi";
import { idPattern } from "../../lib/ids";
import { PlaybackUrlsSchema } from "../../lib/playback-urls";
import { PlaybackPolicySchema } from "../assets/schemas";

export const PlaybackIdParamSchema = z
  .string()
  .regex(idPattern("playbackId"), "must be a playback ID (pb_…)")
  .openapi({ param: { name: "playback_id", in: "path" } });

/** `example.com` or `*.example.com` (any subdomain), optionally with a port. */
export const OriginPatternSchema = z
  .string()
  .max(253)
  .regex(
    /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(:\d{1,5})?$/i,
    "must be a host like 'example.com' or '*.example.com'",
  );

export const CreatePlaybackIdSchema = z
  .object({
    policy: PlaybackPolicySchema,
    allowed_origins: z.array(OriginPatternSchema).max(100).optional().openapi({
      description: "Hosts allowed to embed or request playback. Empty or absent: any origin.",
    }),
    allow_no_referrer: z.boolean().optional().openapi({
      description: "Whether requests without Origin/Referer are allowed when allowed_origins is set (default true).",
    }),
  })
  .strict()
  .openapi("CreatePlaybackIdRequest");
export type CreatePlaybackIdInput = z.infer<typeof CreatePlaybackIdSchema>;

export const PlaybackIdSchema = z
  .object({
    id: z.string(),
    asset_id: z.string().nullable(),
    live_stream_id: z.string().nullable(),
    policy: PlaybackPolicySchema,
    allowed_origins: z.array(z.string()),
    allow_no_referrer: z.boolean(),
    urls: PlaybackUrlsSchema,
    created_at: z.string(),
  })
  .openapi("PlaybackId");
export type PlaybackId = z.infer<typeof PlaybackIdSchema>;
