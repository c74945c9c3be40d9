import { z } from "@hono/zod-openapi";
import { idPattern } from "../../lib/ids";
import { MAX_TOKEN_LIFETIME_SECONDS } from "../../lib/playback-token";

export const SigningKeyIdSchema = z
  .string()
  .regex(idPattern("signingKey"), "must be a signing key ID (sk_…)")
  .openapi({ param: { name: "signing_key_id", in: "path" } });

export const PublicJwkSchema = z
  .object({
    kty: z.literal("EC"),
    crv: z.literal("P-256"),
    x: z.string(),
    y: z.string(),
    kid: z.string(),
    alg: z.literal("ES256"),
    use: z.literal("sig"),
  })
  .openapi("SigningPublicJwk");

export const SigningKeySchema = z
  .object({
    id: z.string().openapi({ example: "sk_01j9z3m4k5q6r7s8t9v0w1x2y3" }),
    public_jwk: PublicJwkSchema,
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .openapi("SigningKey");
export type SigningKey = z.infer<typeof SigningKeySchema>;

export const CreatedSigningKeySchema = SigningKeySchema.extend({
  private_key_pem: z.string().openapi({
    description: "The private key as PKCS#8 PEM, returned once. Keyframe keeps only the public key.",
  }),
  private_jwk: z
    .object({
      kty: z.literal("EC"),
      crv: z.literal("P-256"),
      x: z.string(),
      y: z.string(),
      d: z.string(),
      kid: z.string(),
      alg: z.literal("ES256"),
    })
    .openapi({ description: "The same private key as a JWK, returned once." }),
}).openapi("CreatedSigningKey");

export const ThumbnailPinSchema = z
  .object({
    time: z
      .number()
      .min(0)
      .max(86_400)
      .optional()
      .openapi({
        description:
          "Seconds. The edge snaps it to the time grid: 0.1 s up to 20 s of video, then duration / 200 " +
          "(X-Keyframe-Thumbnail-Time says which time was used).",
      }),
    width: z
      .number()
      .int()
      .min(1)
      .max(3840)
      .optional()
      .openapi({
        description:
          "Pixels; the edge snaps it up to the size grid 64, 90, 100, 120, 160, 180, 200, 240, 320, 360, 480, 540, " +
          "640, 720, 854, 960, 1080, 1280, 1440, 1920, 2160, 2560, 3840.",
      }),
    height: z.number().int().min(1).max(3840).optional().openapi({ description: "Pixels; snapped like width." }),
    fit_mode: z.enum(["preserve", "stretch", "crop", "smartcrop", "pad"]).optional(),
  })
  .strict()
  .openapi("ThumbnailTokenParams");

export const ClipPinSchema = z
  .object({
    asset_start_time: z.number().min(0).optional(),
    asset_end_time: z.number().positive().optional(),
  })
  .strict()
  .refine(
    (c) => c.asset_start_time === undefined || c.asset_end_time === undefined || c.asset_end_time > c.asset_start_time,
    {
      message: "asset_end_time must be greater than asset_start_time",
      path: ["asset_end_time"],
    },
  )
  .openapi("ClipTokenParams");

export const MintTokensSchema = z
  .object({
    expires_in: z
      .number()
      .int()
      .min(60)
      .max(MAX_TOKEN_LIFETIME_SECONDS)
      .default(3600)
      .openapi({ description: "Token lifetime in seconds (60 s to 7 days, default 1 hour)." }),
    thumbnail: ThumbnailPinSchema.optional().openapi({
      description: "Thumbnail parameters pinned into the thumbnail token: the edge refuses other values.",
    }),
    clip: ClipPinSchema.optional().openapi({
      description:
        "An instant-clip range pinned into the video token: its playlists are trimmed to it, other ranges refused.",
    }),
  })
  .strict()
  .openapi("MintPlaybackTokensRequest");
export type MintTokensInput = z.infer<typeof MintTokensSchema>;

export const PlaybackTokensSchema = z
  .object({
    playback_id: z.string(),
    expires_at: z.string(),
    video: z.string().openapi({ description: "aud v: master, variant playlists, segments." }),
    thumbnail: z.string().openapi({ description: "aud t: thumbnail.jpg." }),
    storyboard: z.string().openapi({ description: "aud s: storyboard.vtt and its sprite." }),
    download: z.string().openapi({ description: "aud d: the static rendition downloads (downloads/…)." }),
    animated: z.string().openapi({ description: "aud g: animated previews (animated.gif, animated.webp)." }),
    urls: z.object({
      master: z.string(),
      thumbnail: z.string(),
      storyboard: z.string(),
      embed: z.string(),
      download: z.string().nullable().openapi({
        description: "The asset's download with its token; null when the asset has no ready download.",
      }),
    }),
  })
  .openapi("PlaybackTokens");
export type PlaybackTokens = z.infer<typeof PlaybackTokensSchema>;

export const RotateSystemKeySchema = z
  .object({
    revoke_previous: z
      .boolean()
      .default(false)
      .openapi({
        description:
          "Also revoke every earlier system key now: tokens they signed stop verifying at the edge within its " +
          "key-cache TTL (≤ 60 s). Leave false to let outstanding tokens run out on their own `exp`.",
      }),
  })
  .strict()
  .openapi("RotateSystemSigningKeyRequest");
export type RotateSystemKeyInput = z.infer<typeof RotateSystemKeySchema>;

export const SystemKeyRotationSchema = z
  .object({
    signing_key: SigningKeySchema.openapi({ description: "The new system key; tokens minted from now use it." }),
    revoked_key_ids: z.array(z.string()).openapi({ description: "Earlier system keys revoked by this call." }),
  })
  .openapi("SystemSigningKeyRotation");
