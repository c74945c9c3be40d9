import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { devApiVars, devEdgeVars } from "./scripts/lib/dev-vars.js";
import { deriveEdgeApiSecretNode, thumbnailApiStub } from "./test/edge/thumbnail-api-stub.js";

const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));

/**
 * The wrangler.toml files carry production values; tests run as development, with the same values
 * `npm start` passes (scripts/lib/dev-vars.ts).
 */
const devUrls = {
  apiUrl: "http://127.0.0.1:8787",
  edgeUrl: "http://127.0.0.1:8788",
  // Queue messages are really delivered in tests: never let them reach a developer's running transcoder.
  transcoderUrl: "http://127.0.0.1:9",
};

/** Bindings only tests need: development vars, and secrets that production gets from `wrangler secret put`. */
const testBindings = {
  ...devApiVars(devUrls),
  JOB_TOKEN_SECRET: "test-job-token-secret-0123456789abcdef",
  TEST_MIGRATIONS: migrations,
  KEYFRAME_TEST_LOGS: process.env.KEYFRAME_TEST_LOGS ?? "",
};

/** The edge's HMAC key for calls to the API, derived the way `npm start` and production derive it. */
const edgeApiSecret = deriveEdgeApiSecretNode(testBindings.JOB_TOKEN_SECRET);

export default defineConfig({
  test: {
    projects: [
      {
        // The API worker, in workerd against real D1, R2, Queues and Durable Objects.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ...testBindings,
                // Webhooks: the Node receiver started by globalSetup, private URLs allowed (it is on
                // 127.0.0.1), a 1 s retry schedule and a 1.5 s per-attempt timeout so tests run fast.
                WEBHOOK_RECEIVER_URL: inject<string>("webhookReceiverUrl"),
                ALLOW_PRIVATE_WEBHOOK_URLS: "true",
                WEBHOOK_RETRY_SCHEDULE: "0,1,1,1,1",
                WEBHOOK_TIMEOUT_MS: "1500",
                // The fuzz suite's seed and size (test/workers/fuzz.test.ts); `npm run fuzz` sets both.
                FUZZ_SEED: process.env.FUZZ_SEED ?? "",
                FUZZ_RUNS: process.env.FUZZ_RUNS ?? "",
              },
              // A real Rate Limiting binding with a tiny budget: rate-limits.test.ts swaps it in for one
              // policy's binding, so 429s are reached in a few requests without shrinking everyone's budgets.
              ratelimits: { RL_TEST_TINY: { namespace_id: "9901", simple: { limit: 3, period: 60 } } },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          setupFiles: ["./test/workers/setup.ts"],
          globalSetup: ["./test/support/webhook-receiver-setup.ts"],
          // One file at a time: with parallel files the pool intermittently stopped starting new files after
          // a teardown error ("Closing rpc while resolve was pending") while queue consumers were still
          // running in the previous file's runtime. Sequential costs ~40 s and has not hung.
          fileParallelism: false,
        },
      },
      {
        // The edge worker, in workerd with its own config.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./workers/edge/wrangler.toml" },
            miniflare: {
              bindings: {
                ...testBindings,
                ...devEdgeVars(devUrls),
                EDGE_API_SECRET: edgeApiSecret,
                // The edge fuzz's seed and size (test/edge/fuzz.test.ts); `npm run fuzz` sets both.
                FUZZ_SEED: process.env.FUZZ_SEED ?? "",
                FUZZ_RUNS: process.env.FUZZ_RUNS ?? "",
              },
              // The API worker behind the edge's `API` service binding: a Node stub of its thumbnail endpoint.
              serviceBindings: { API: thumbnailApiStub(edgeApiSecret) },
            },
          }),
        ],
        test: {
          name: "edge",
          include: ["test/edge/**/*.test.ts"],
          setupFiles: ["./test/edge/setup.ts"],
          // Beside the other CI lane's end-to-end runs, a file's first storage call in a fresh runtime once took
          // over 5 s (vitest's default): generous bounds, which no test here comes near alone.
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Node: the transcoder with real ffmpeg, scripts, and end-to-end runs of the local stack.
        test: {
          name: "node",
          environment: "node",
          include: ["test/node/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
