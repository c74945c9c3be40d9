/**
 * The SDK suite (test/support/sdk-suite.ts) in Node against the real local stack: the transcoder takes
 * the clip to `ready`, and the signed master is fetched from the edge with a token the SDK signed.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { sdkSuite } from "../support/sdk-suite";
import { type E2E, startE2E } from "./support/e2e";
import { makeClip } from "./support/media";

let e: E2E;
let clip: Uint8Array;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "keyframe-sdk-"));
  [e, clip] = await Promise.all([
    startE2E(),
    makeClip(path.join(work, "clip.mp4"), { seconds: 2, width: 320, height: 180 }).then(
      (f) => new Uint8Array(readFileSync(f)),
    ),
  ]);
}, 400_000);

afterAll(async () => {
  await e?.close();
  rmSync(work, { recursive: true, force: true });
});

sdkSuite(() => ({ baseUrl: e.stack.apiUrl, apiKey: e.secret, clip, edgeUrl: e.stack.edgeUrl }));
