/**
 * Creating API keys from outside the API (the first key of a deployment has nobody to ask for it).
 * Same secret format and hash as the worker (src/lib/auth.ts is runtime-agnostic), written with
 * `wrangler d1 execute` into the local or the remote database.
 */
import { hashKeySecret, newKeySecret } from "../../src/lib/auth";
import { idPattern, newId } from "../../src/lib/ids";
import { SCOPES } from "../../src/lib/scopes";
import { type D1Target, d1Execute, sqlString } from "./wrangler";

export interface CreateKeyOptions extends D1Target {
  scopes: string[];
  name?: string;
  /** Use (and create if missing) this environment. */
  environmentId?: string;
  /** Create a new environment with this name. */
  newEnvironment?: string;
}

export interface CreatedKey {
  keyId: string;
  secret: string;
  environmentId: string;
  name: string;
  scopes: string[];
}

export function validateScopes(scopes: string[]): string[] {
  const unique = [...new Set(scopes.map((s) => s.trim()).filter(Boolean))];
  if (unique.length === 0) throw new Error("give at least one scope, e.g. --scopes '*'");
  const bad = unique.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length) throw new Error(`unknown scope(s): ${bad.join(", ")}. Known: ${SCOPES.join(", ")}`);
  return unique;
}

/**
 * Inserts the key (and its environment when needed) in one `d1 execute` call. Without an explicit
 * environment the key joins the oldest one, or a new "default" environment on an empty database.
 * Every statement is safe to run twice with the same IDs (`insert or ignore`, `where not exists`):
 * d1Execute retries a call that hit the local lock, and the first try may have committed.
 */
export async function createKeyInD1(opts: CreateKeyOptions): Promise<CreatedKey> {
  const scopes = validateScopes(opts.scopes);
  if (opts.environmentId && opts.newEnvironment) throw new Error("use --environment or --new-environment, not both");
  if (opts.environmentId && !idPattern("environment").test(opts.environmentId)) {
    throw new Error(`'${opts.environmentId}' is not an environment ID (env_ + 26 characters)`);
  }
  const name = opts.name ?? "admin";
  if (name.length < 1 || name.length > 128) throw new Error("--name must be 1–128 characters");
  const keyId = newId("apiKey");
  const secret = newKeySecret();
  const hash = await hashKeySecret(secret);

  const statements: string[] = [];
  let envExpr: string;
  if (opts.newEnvironment !== undefined) {
    const envId = newId("environment");
    statements.push(
      `insert or ignore into environments (id, name) values (${sqlString(envId)}, ${sqlString(opts.newEnvironment)})`,
    );
    envExpr = sqlString(envId);
  } else if (opts.environmentId) {
    statements.push(
      `insert or ignore into environments (id, name) values (${sqlString(opts.environmentId)}, 'default')`,
    );
    envExpr = sqlString(opts.environmentId);
  } else {
    const envId = newId("environment");
    statements.push(
      `insert into environments (id, name) select ${sqlString(envId)}, 'default' where not exists (select 1 from environments)`,
    );
    envExpr = "(select id from environments order by created_at, id limit 1)";
  }
  statements.push(
    "insert or ignore into api_keys (id, environment_id, name, secret_prefix, secret_hash, scopes) values (" +
      [sqlString(keyId), envExpr, sqlString(name), sqlString(secret.slice(0, 10)), sqlString(hash)].join(", ") +
      `, ${sqlString(JSON.stringify(scopes))})`,
  );
  statements.push(`select environment_id from api_keys where id = ${sqlString(keyId)}`);
  const results = await d1Execute(opts, statements.join(";\n"));
  const environmentId = results.at(-1)?.[0]?.environment_id;
  if (typeof environmentId !== "string") throw new Error("the key was not stored (no row came back)");
  return { keyId, secret, environmentId, name, scopes };
}

/** Whether a secret is a live (stored, unrevoked) key in the database. */
export async function keyIsLive(t: D1Target, secret: string): Promise<boolean> {
  const hash = await hashKeySecret(secret);
  const rows = await d1Execute(
    t,
    `select id from api_keys where secret_hash = ${sqlString(hash)} and revoked_at is null`,
  );
  return (rows[0]?.length ?? 0) > 0;
}
