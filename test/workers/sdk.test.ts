/**
 * The SDK suite (test/support/sdk-suite.ts) in workerd: `@keyframe/sdk` imported as-is, driving the API
 * worker through SELF.fetch (no transcoder here, so assets stop at `queued`).
 */
import { SELF } from "cloudflare:test";
import { beforeAll } from "vitest";
import { sdkSuite } from "../support/sdk-suite";
import { createKey } from "./factories";
import { testBytes } from "./tus-helpers";

let apiKey = "";
beforeAll(async () => {
  apiKey = (await createKey(["*"])).secret;
});

sdkSuite(() => ({
  baseUrl: "http://keyframe.test",
  apiKey,
  fetch: (req) => SELF.fetch(req),
  clip: testBytes(300 * 1024),
}));
