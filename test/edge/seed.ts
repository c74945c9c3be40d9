/**
 * Edge test seeding: D1 rows (environment, ready asset with a live run, playback IDs, signing keys) and
 * R2 objects (small playlists and a few bytes per segment) written directly, the way the pipeline
 * leaves them. Real media through hls.js/Chromium is the e2e suite's job.
 */
import { env } from "cloudflare:test";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { newId } from "../../src/lib/ids";
import { signPlaybackToken, type TokenAudience } from "../../src/lib/playback-token";

export const MASTER = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO="aud"
v720/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2000000,CODECS="avc1.640028,mp4a.40.2",RESOLUTION=1920x1080,AUDIO="aud"
fast/index.m3u8
`;

export const VARIANT = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:6
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="init.mp4"
#EXTINF:6.000,
seg_00000.m4s
#EXTINF:4.000,
seg_00001.m4s
#EXT-X-ENDLIST
`;

export const STORYBOARD_VTT = `WEBVTT

00:00:00.000 --> 00:00:02.000
storyboard.jpg#xywh=0,0,160,90

00:00:02.000 --> 00:00:04.000
storyboard.jpg#xywh=160,0,160,90
`;

/** 1000 bytes, value = index % 251, so any range can be checked. */
export const SEGMENT = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);

export async function createEnvironment(): Promise<string> {
  const id = newId("environment");
  await env.DB.prepare("insert into environments (id, name) values (?, ?)").bind(id, "edge-test").run();
  return id;
}

export interface SeededAsset {
  environmentId: string;
  assetId: string;
  runId: string;
}

export async function seedAsset(
  opts: { environmentId?: string; status?: string; renditionsStatus?: "preparing" | "complete"; media?: boolean } = {},
): Promise<SeededAsset> {
  const environmentId = opts.environmentId ?? (await createEnvironment());
  const assetId = newId("asset");
  const runId = newId("job");
  const status = opts.status ?? "ready";
  await env.DB.prepare(
    `insert into assets (id, environment_id, status, current_run_id, renditions_status, has_poster, has_storyboard, playback_policy)
     values (?, ?, ?, ?, ?, 1, 1, 'public')`,
  )
    .bind(assetId, environmentId, status, status === "ready" ? runId : null, opts.renditionsStatus ?? "complete")
    .run();
  if (opts.media !== false) {
    const prefix = `assets/${assetId}/runs/${runId}/`;
    await env.MEDIA.put(`${prefix}master.m3u8`, MASTER);
    for (const r of ["v720", "fast", "audio"]) {
      await env.MEDIA.put(`${prefix}${r}/index.m3u8`, VARIANT);
      await env.MEDIA.put(`${prefix}${r}/init.mp4`, SEGMENT.slice(0, 100));
      await env.MEDIA.put(`${prefix}${r}/seg_00000.m4s`, SEGMENT);
      await env.MEDIA.put(`${prefix}${r}/seg_00001.m4s`, SEGMENT.slice(0, 500));
    }
    await env.MEDIA.put(`${prefix}poster.jpg`, new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]));
    await env.MEDIA.put(`${prefix}storyboard.jpg`, new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 9, 9, 0xff, 0xd9]));
    await env.MEDIA.put(`${prefix}storyboard.vtt`, STORYBOARD_VTT);
  }
  return { environmentId, assetId, runId };
}

export async function seedPlaybackId(
  asset: SeededAsset,
  opts: { policy?: "public" | "signed"; allowedOrigins?: string[]; allowNoReferrer?: boolean; deleted?: boolean } = {},
): Promise<string> {
  const id = newId("playbackId");
  await env.DB.prepare(
    `insert into playback_ids (id, environment_id, asset_id, policy, allowed_origins, allow_no_referrer, deleted_at)
     values (?, ?, ?, ?, ?, ?, ?)`,
  )
    .bind(
      id,
      asset.environmentId,
      asset.assetId,
      opts.policy ?? "public",
      JSON.stringify(opts.allowedOrigins ?? []),
      opts.allowNoReferrer === false ? 0 : 1,
      opts.deleted ? new Date().toISOString() : null,
    )
    .run();
  return id;
}

export interface SeededKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

/** A signing key the way POST /v1/signing-keys stores it: only the public JWK in D1. */
export async function seedSigningKey(environmentId: string, opts: { revoked?: boolean } = {}): Promise<SeededKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = newId("signingKey");
  await env.DB.prepare("insert into signing_keys (id, environment_id, public_jwk, revoked_at) values (?, ?, ?, ?)")
    .bind(kid, environmentId, JSON.stringify(publicJwk), opts.revoked ? new Date().toISOString() : null)
    .run();
  return { kid, privateJwk, publicJwk, privateKey: privateKey as CryptoKey };
}

export function sign(
  key: SeededKey,
  playbackId: string,
  aud: TokenAudience = "v",
  opts: { expiresIn?: number; claims?: Record<string, unknown> } = {},
): Promise<string> {
  return signPlaybackToken({
    privateKey: key.privateKey,
    kid: key.kid,
    playbackId,
    audience: aud,
    expiresInSeconds: opts.expiresIn ?? 600,
    claims: opts.claims,
  });
}
