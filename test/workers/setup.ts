import { applyD1Migrations, env } from "cloudflare:test";
import { setLogSink } from "../../src/lib/log";

// Storage is isolated per test file; migrations are applied once per file before its tests run.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// The API's logs are dropped here. Queue consumers run on their own schedule (1 s batches, delayed
// retries), and a console line written by one just as a test file ends leaves the pool waiting forever
// for that file: no next file, no error (reproduced: a consumer logging ~1 s after the file's last
// request hangs every time; the same consumer with logs dropped never does). KEYFRAME_TEST_LOGS=1 turns
// them back on for debugging a single file.
if (env.KEYFRAME_TEST_LOGS !== "1") setLogSink(null);
