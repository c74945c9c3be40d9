import type { D1Migration } from "@cloudflare/vitest-pool-workers";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** "1" keeps the API's logs in workerd tests (test/workers/setup.ts). */
      KEYFRAME_TEST_LOGS?: string;
      /** Workers tests only: a real Rate Limiting binding with a tiny budget (vitest.config.ts). */
      RL_TEST_TINY: RateLimit;
      /** The fuzz suite's seed and request count ("" = random seed, 300 requests). */
      FUZZ_SEED: string;
      FUZZ_RUNS: string;
    }
  }
}
