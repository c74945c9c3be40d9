/**
 * Signing keys: ES256 key pairs for playback tokens. Apps' keys (`kind = user`) are generated here,
 * the private half returned once and never stored. Each environment also gets one system key
 * (`kind = system`), created on first use, whose private half is kept encrypted (key-wrap.ts) so the
 * API can mint tokens for apps that prefer server-side signing. The edge verifies both the same way:
 * by `kid`, against the public JWK, refusing revoked keys and keys from other environments.
 */
import { and, desc, eq, inArray, isNull, lt } from "drizzle-orm";
import { exportJWK, exportPKCS8, generateKeyPair, type JWK } from "jose";
import { schema } from "../../db/client";
import { NotFoundError } from "../../lib/errors";
import { idPattern, newId } from "../../lib/ids";
import { log } from "../../lib/log";
import { decodeCursor, page } from "../../lib/pagination";
import { signPlaybackToken, type TokenAudience } from "../../lib/playback-token";
import { downloadPath } from "../../lib/playback-urls";
import { nowIso } from "../../lib/time";
import { downloadFile, staticRenditionsView } from "../assets/serialize";
import type { ServiceContext, Verb } from "../context";
import { commit, type Statement } from "../events/record";
import { openPrivateJwk, sealPrivateJwk } from "./key-wrap";
import type { MintTokensInput, PlaybackTokens, RotateSystemKeyInput, SigningKey } from "./schemas";

type Row = typeof schema.signingKeys.$inferSelect;

export function serializeSigningKey(row: Row): SigningKey {
  const { kty, crv, x, y } = row.publicJwk as Record<string, string>;
  return {
    id: row.id,
    public_jwk: { kty: kty as "EC", crv: crv as "P-256", x, y, kid: row.id, alg: "ES256", use: "sig" },
    created_at: row.createdAt,
    revoked_at: row.revokedAt,
  };
}

async function newKeyPair(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const pub = await exportJWK(publicKey);
  const priv = await exportJWK(privateKey);
  return {
    publicJwk: { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, kid, alg: "ES256", use: "sig" },
    privateJwk: { kty: priv.kty, crv: priv.crv, x: priv.x, y: priv.y, d: priv.d, kid, alg: "ES256" },
    privatePem: await exportPKCS8(privateKey),
  };
}

export async function createSigningKey({ ctx }: Verb<Record<string, never>>) {
  const id = newId("signingKey");
  const pair = await newKeyPair(id);
  await commit(
    ctx,
    [
      ctx.db.insert(schema.signingKeys).values({
        id,
        environmentId: ctx.caller.environmentId,
        publicJwk: pair.publicJwk,
        kind: "user",
      }),
    ],
    [],
    [{ action: "signing_key.create", resourceType: "signing_key", resourceId: id }],
  );
  const row = await loadUserKey(ctx, id);
  return {
    ...serializeSigningKey(row),
    private_key_pem: pair.privatePem,
    private_jwk: pair.privateJwk as {
      kty: "EC";
      crv: "P-256";
      x: string;
      y: string;
      d: string;
      kid: string;
      alg: "ES256";
    },
  };
}

async function loadUserKey(ctx: ServiceContext, id: string): Promise<Row> {
  const k = schema.signingKeys;
  const row = await ctx.db.query.signingKeys.findFirst({
    where: and(eq(k.id, id), eq(k.environmentId, ctx.caller.environmentId), eq(k.kind, "user")),
  });
  if (!row) throw new NotFoundError("signing key", id);
  return row;
}

export async function getSigningKey({ ctx, input }: Verb<{ id: string }>) {
  return serializeSigningKey(await loadUserKey(ctx, input.id));
}

export async function listSigningKeys({ ctx, input }: Verb<{ limit: number; cursor?: string }>) {
  const after = decodeCursor(input.cursor, idPattern("signingKey"));
  const k = schema.signingKeys;
  const rows = await ctx.db
    .select()
    .from(k)
    .where(and(eq(k.environmentId, ctx.caller.environmentId), eq(k.kind, "user"), after ? lt(k.id, after) : undefined))
    .orderBy(desc(k.id))
    .limit(input.limit + 1);
  const { rows: pageRows, nextCursor } = page(rows, input.limit);
  return { data: pageRows.map(serializeSigningKey), next_cursor: nextCursor };
}

/** Idempotent. The edge refuses tokens signed by the key within its key-cache TTL (≤ 60 s). */
export async function revokeSigningKey({ ctx, input }: Verb<{ id: string }>) {
  const row = await loadUserKey(ctx, input.id);
  if (row.revokedAt) return;
  await commit(
    ctx,
    [
      ctx.db
        .update(schema.signingKeys)
        .set({ revokedAt: nowIso() })
        .where(and(eq(schema.signingKeys.id, row.id), isNull(schema.signingKeys.revokedAt))),
    ],
    [],
    [{ action: "signing_key.revoke", resourceType: "signing_key", resourceId: row.id }],
  );
}

/**
 * The environment's system key (private JWK + kid), created on first use. Two concurrent first uses
 * may each create one; both are valid keys and later calls pick the newest, so that race is harmless.
 */
export async function systemSigningKey(ctx: ServiceContext): Promise<{ kid: string; privateJwk: JWK }> {
  const k = schema.signingKeys;
  const secret = ctx.env.JOB_TOKEN_SECRET;
  const existing = await ctx.db
    .select()
    .from(k)
    .where(and(eq(k.environmentId, ctx.caller.environmentId), eq(k.kind, "system"), isNull(k.revokedAt)))
    .orderBy(desc(k.id))
    .limit(1);
  const current = existing[0];
  if (current?.privateJwkEnc) {
    const jwk = await openPrivateJwk(secret, current.environmentId, current.id, current.privateJwkEnc);
    if (jwk) return { kid: current.id, privateJwk: jwk as JWK };
    // The wrapping secret changed: leave this key be (tokens it signed keep verifying by public key)
    // and make a new, newer one that later calls will pick.
    log.warn("system_signing_key_unreadable", { signing_key_id: current.id });
  }
  const made = await newSystemKey(ctx, [], "signing_key.create_system");
  return { kid: made.id, privateJwk: made.privateJwk as JWK };
}

/** Inserts a new system key (sealed private half) with `extra` statements in the same batch. */
async function newSystemKey(
  ctx: ServiceContext,
  extra: Statement[],
  action: string,
  details?: Record<string, unknown>,
) {
  const id = newId("signingKey");
  const pair = await newKeyPair(id);
  await commit(
    ctx,
    [
      ctx.db.insert(schema.signingKeys).values({
        id,
        environmentId: ctx.caller.environmentId,
        publicJwk: pair.publicJwk,
        kind: "system",
        privateJwkEnc: await sealPrivateJwk(ctx.env.JOB_TOKEN_SECRET, ctx.caller.environmentId, id, pair.privateJwk),
      }),
      ...extra,
    ],
    [],
    [{ action, resourceType: "signing_key", resourceId: id, details }],
  );
  return { id, privateJwk: pair.privateJwk };
}

/**
 * Replaces the environment's system key: minting uses the new key at once. With `revoke_previous`, every
 * earlier system key is revoked in the same batch, so tokens minted with them stop verifying at the edge
 * once its key cache expires (≤ 60 s); without it they keep verifying until their own `exp`.
 */
export async function rotateSystemSigningKey({ ctx, input }: Verb<RotateSystemKeyInput>) {
  const k = schema.signingKeys;
  const live = await ctx.db
    .select({ id: k.id })
    .from(k)
    .where(and(eq(k.environmentId, ctx.caller.environmentId), eq(k.kind, "system"), isNull(k.revokedAt)));
  const revoked = input.revoke_previous ? live.map((r) => r.id) : [];
  const revoke = revoked.length
    ? [
        ctx.db
          .update(k)
          .set({ revokedAt: nowIso() })
          .where(and(eq(k.environmentId, ctx.caller.environmentId), inArray(k.id, revoked), isNull(k.revokedAt))),
      ]
    : [];
  const made = await newSystemKey(ctx, revoke, "signing_key.rotate_system", {
    revoke_previous: input.revoke_previous,
    revoked_key_ids: revoked,
  });
  const row = await ctx.db.query.signingKeys.findFirst({ where: eq(k.id, made.id) });
  if (!row) throw new NotFoundError("signing key", made.id);
  return { signing_key: serializeSigningKey(row), revoked_key_ids: revoked };
}

export async function mintPlaybackTokens({
  ctx,
  input,
}: Verb<{ playbackId: string; body: MintTokensInput }>): Promise<PlaybackTokens> {
  const p = schema.playbackIds;
  const pb = await ctx.db.query.playbackIds.findFirst({
    where: and(eq(p.id, input.playbackId), eq(p.environmentId, ctx.caller.environmentId), isNull(p.deletedAt)),
  });
  if (!pb) throw new NotFoundError("playback ID", input.playbackId);
  const { kid, privateJwk } = await systemSigningKey(ctx);
  // Minting is audited: who asked for viewer credentials to which playback ID, with which key and lifetime.
  await commit(
    ctx,
    [],
    [],
    [
      {
        action: "playback_id.mint_tokens",
        resourceType: "playback_id",
        resourceId: pb.id,
        details: { signing_key_id: kid, expires_in: input.body.expires_in ?? 3600 },
      },
    ],
  );
  const now = Date.now();
  const expiresIn = input.body.expires_in ?? 3600;
  const mint = (audience: TokenAudience, claims?: Record<string, unknown>) =>
    signPlaybackToken({
      privateKey: privateJwk,
      kid,
      playbackId: pb.id,
      audience,
      expiresInSeconds: expiresIn,
      claims,
      now,
    });
  const defined = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const pinned = defined(input.body.thumbnail ?? {});
  const clip = defined(input.body.clip ?? {});
  const [video, thumbnail, storyboard, download, animated] = await Promise.all([
    mint("v", Object.keys(clip).length ? clip : undefined),
    mint("t", pinned),
    mint("s"),
    mint("d"),
    mint("g"),
  ]);
  const edge = (ctx.env.EDGE_PUBLIC_URL ?? "").replace(/\/+$/, "");
  const asset = pb.assetId
    ? await ctx.db.query.assets.findFirst({
        where: and(eq(schema.assets.id, pb.assetId), eq(schema.assets.environmentId, ctx.caller.environmentId)),
      })
    : undefined;
  const file = asset ? downloadFile(staticRenditionsView(asset)) : null;
  return {
    playback_id: pb.id,
    expires_at: new Date(Math.floor(now / 1000) * 1000 + expiresIn * 1000).toISOString(),
    video,
    thumbnail,
    storyboard,
    download,
    animated,
    urls: {
      master: `${edge}/${pb.id}.m3u8?token=${video}`,
      thumbnail: `${edge}/${pb.id}/thumbnail.jpg?token=${thumbnail}`,
      storyboard: `${edge}/${pb.id}/storyboard.vtt?token=${storyboard}`,
      embed: `${edge}/embed/${pb.id}?token=${video}`,
      download: file ? `${edge}${downloadPath(pb.id, file)}?token=${download}` : null,
    },
  };
}
