/**
 * End-to-end harness: the real local stack (two wrangler dev processes + the Node transcoder) on free
 * ports with a throwaway state folder (a copy of a migrated template with an admin key), and a small typed
 * API client.
 */
import { rmSync } from "node:fs";
import { freePort } from "../../../scripts/lib/proc";
import { type Stack, startStack } from "../../../scripts/lib/stack";
import type { Asset, DirectUploadResult, Upload } from "../../support/api-types";
import { migratedStateWithKey } from "./state-template";

export interface E2E {
  stack: Stack;
  /** The stack's local state (D1, R2, …), for checks through wrangler's `--local --persist-to`. */
  persistTo: string;
  secret: string;
  /** `T`: the body the caller expects (types in test/support/api-types.ts). */
  api: <T = Record<string, unknown>>(method: string, p: string, body?: unknown) => Promise<{ status: number; body: T }>;
  waitForAsset: (id: string, done: (a: Asset) => boolean, timeoutMs?: number) => Promise<Asset>;
  close: () => Promise<void>;
}

export async function startE2E(
  vars: Record<string, string> = {},
  transcoderEnv: Record<string, string> = {},
): Promise<E2E> {
  // Migrated, with an admin key: a copy of a template made once (./state-template.ts).
  const { persistTo, secret } = await migratedStateWithKey();
  const stack = await startStack({
    migrate: false,
    apiPort: await freePort(),
    edgePort: await freePort(),
    transcoderPort: await freePort(),
    persistTo,
    vars,
    transcoderEnv,
    // KEYFRAME_E2E_LOGS=1 prints the stack's own output (prefixed per service) while debugging a test.
    quiet: process.env.KEYFRAME_E2E_LOGS !== "1",
  });
  const key = { secret };
  const api = async <T = Record<string, unknown>>(method: string, p: string, body?: unknown) => {
    const { res, text } = await sendAgainIfRestarted(`${method} ${p}`, () =>
      fetch(`${stack.apiUrl}${p}`, {
        method,
        headers: {
          authorization: `Bearer ${key.secret}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  const waitForAsset = async (id: string, done: (a: Asset) => boolean, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: Asset | undefined;
    while (Date.now() < deadline) {
      const res = await api<Asset>("GET", `/v1/assets/${id}`);
      last = res.body;
      if (res.status === 200 && done(last)) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`asset ${id} did not reach the expected state; last: ${JSON.stringify(last)}`);
  };
  return {
    stack,
    persistTo,
    secret: key.secret,
    api,
    waitForAsset,
    close: async () => {
      await stack.stop();
      rmSync(persistTo, { recursive: true, force: true });
    },
  };
}

/**
 * A request and its body text, sent again (twice at most) when wrangler dev answers that it restarted the
 * worker under it: wrangler retries GET and HEAD itself and asks for anything else to be sent again. Once, in
 * CI, the first POST after a stack had started got that answer (e2e-thumbnails, its beforeAll).
 */
export async function sendAgainIfRestarted(
  what: string,
  send: () => Promise<Response>,
): Promise<{ res: Response; text: string }> {
  for (let attempt = 1; ; attempt++) {
    const res = await send();
    const text = await res.text();
    if (attempt < 3 && res.status === 503 && text.startsWith("Your worker restarted mid-request")) {
      console.warn(`${what}: wrangler dev restarted the worker mid-request; sending it again`);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    return { res, text };
  }
}

/** Creates an upload and PUTs a file to its one-time URL; returns the created asset ID. */
export async function uploadFile(
  e: E2E,
  bytes: Uint8Array,
  settings: Record<string, unknown> = { playback_policy: "public" },
  contentType = "video/mp4",
): Promise<{ uploadId: string; assetId: string | null; putStatus: number; putBody: unknown }> {
  const created = await e.api<Upload>("POST", "/v1/uploads", { new_asset_settings: settings });
  if (created.status !== 201) throw new Error(`create upload: ${created.status} ${JSON.stringify(created.body)}`);
  const { res: put, text } = await sendAgainIfRestarted("PUT upload", () =>
    fetch(created.body.url!, {
      method: "PUT",
      headers: { "content-type": contentType, "content-length": String(bytes.byteLength) },
      body: bytes,
    }),
  );
  // The upload's result, or a problem document when the PUT is refused.
  const putBody = (text ? JSON.parse(text) : null) as Partial<DirectUploadResult> | null;
  return { uploadId: created.body.id, assetId: putBody?.asset_id ?? null, putStatus: put.status, putBody };
}
