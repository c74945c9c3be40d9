/**
 * A migrated local state with an admin key, made once and copied for each end-to-end stack.
 *
 * Each stack used to run `wrangler d1 migrations apply` and then `wrangler d1 execute` for its key before
 * starting: two wrangler CLI processes, measured at 16 and 5 CPU-seconds on this 2-core machine — about 60 %
 * of what a whole stack start costs, paid by ~20 test files. The template is made by exactly those two
 * calls, once per content of the migrations, the API config and the wrangler version (its folder name is
 * their hash, under the OS temp dir, so later runs reuse it); a stack gets a copy of its files, which is what
 * the two calls would have produced.
 */
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createKeyInD1 } from "../../../scripts/lib/keys";
import { API_CONFIG, applyMigrations, ROOT } from "../../../scripts/lib/wrangler";

const KEY_FILE = "e2e-admin-key.json";

function templateHash(): string {
  const h = createHash("sha256");
  const migrations = path.join(ROOT, "migrations");
  for (const name of readdirSync(migrations)
    .filter((n) => n.endsWith(".sql"))
    .sort()) {
    h.update(name);
    h.update(readFileSync(path.join(migrations, name)));
  }
  h.update(readFileSync(API_CONFIG));
  h.update(readFileSync(path.join(ROOT, "node_modules", "wrangler", "package.json")));
  return h.digest("hex").slice(0, 16);
}

/** The template's folder, made on first use (two runs racing both build it; the first rename wins). */
async function template(): Promise<string> {
  const dir = path.join(tmpdir(), `keyframe-e2e-state-${templateHash()}`);
  if (existsSync(path.join(dir, KEY_FILE))) return dir;
  const building = mkdtempSync(path.join(tmpdir(), "keyframe-e2e-state-building-"));
  try {
    await applyMigrations({ persistTo: building, config: API_CONFIG });
    const key = await createKeyInD1({ persistTo: building, scopes: ["*"], name: "e2e" });
    writeFileSync(path.join(building, KEY_FILE), JSON.stringify({ secret: key.secret }));
    try {
      renameSync(building, dir);
    } catch (err) {
      // Another run finished first: use its template.
      if (!existsSync(path.join(dir, KEY_FILE))) throw err;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return dir;
}

/** A fresh state folder with every migration applied and an admin key (scopes `*`), and that key's secret. */
export async function migratedStateWithKey(): Promise<{ persistTo: string; secret: string }> {
  const from = await template();
  const persistTo = mkdtempSync(path.join(tmpdir(), "keyframe-e2e-"));
  cpSync(from, persistTo, { recursive: true });
  const { secret } = JSON.parse(readFileSync(path.join(persistTo, KEY_FILE), "utf8")) as { secret: string };
  return { persistTo, secret };
}
