/**
 * `npm run keys:create -- --scopes '*' [--name n] [--environment env_… | --new-environment name]
 *   [--remote] [--persist-to dir] [--json]`
 *
 * Creates an API key directly in D1 (local by default, `--remote` for the deployed database) and prints
 * its secret once. Local runs apply pending migrations first, so this works on a fresh checkout.
 */
import { parseArgs } from "node:util";
import { createKeyInD1, validateScopes } from "./lib/keys";
import { applyMigrations } from "./lib/wrangler";

const USAGE = `usage: npm run keys:create -- --scopes '<scope,…>' [--name n] [--environment env_… | --new-environment name]
                            [--remote] [--persist-to dir] [--config wrangler.toml] [--json]
scopes: assets:read assets:write uploads:write playback:write live:read live:write
        webhooks:read webhooks:write events:read keys:write *`;

async function main() {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        scopes: { type: "string" },
        name: { type: "string" },
        environment: { type: "string" },
        "new-environment": { type: "string" },
        remote: { type: "boolean", default: false },
        "persist-to": { type: "string" },
        config: { type: "string" },
        env: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (typeof values.scopes !== "string") {
    console.error(`--scopes is required\n${USAGE}`);
    process.exit(2);
  }
  if (values.remote && values["persist-to"]) {
    console.error("--persist-to only applies to the local database; drop it with --remote");
    process.exit(2);
  }
  const target = {
    remote: values.remote === true,
    persistTo: values["persist-to"] as string | undefined,
    config: values.config as string | undefined,
    env: values.env as string | undefined,
  };
  const scopes = validateScopes(values.scopes.split(/[\s,]+/));
  if (!target.remote) await applyMigrations(target);
  const key = await createKeyInD1({
    ...target,
    scopes,
    name: values.name as string | undefined,
    environmentId: values.environment as string | undefined,
    newEnvironment: values["new-environment"] as string | undefined,
  });
  if (values.json) {
    console.log(
      JSON.stringify({
        key_id: key.keyId,
        secret: key.secret,
        environment_id: key.environmentId,
        name: key.name,
        scopes: key.scopes,
      }),
    );
    return;
  }
  console.log(`Created API key ${key.keyId} (${key.name}) in ${key.environmentId} with scopes ${key.scopes.join(" ")}
${target.remote ? `Database: remote${target.env ? ` (--env ${target.env})` : ""}` : `Database: local${target.persistTo ? ` (${target.persistTo})` : ""}`}

  ${key.secret}

This secret is shown once; only its hash is stored. Use it as 'Authorization: Bearer ${key.secret.slice(0, 10)}…'.`);
}

main().catch((err) => {
  console.error(`keys:create failed: ${(err as Error).message}`);
  process.exit(1);
});
