/**
 * The deploy, as data. Everything `npm run deploy` does is decided here by pure functions — which
 * resources a deployed environment needs (read from the two wrangler.toml files through wrangler's own
 * config reader), which of them already exist (parsed from `wrangler … list` output), the wrangler
 * command of every step, the config checks — so it is unit-tested without a Cloudflare account, and
 * `--dry-run` prints exactly the commands a real run would execute. scripts/deploy.ts only runs them.
 */
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { unstable_readConfig } from "wrangler";
import { KEYFRAME_ENVS, publicUrlProblem } from "../../src/lib/config";

/** Environments `npm run deploy` accepts (the top level is production values without resources). */
export const DEPLOY_ENVS = ["staging", "production"] as const;
export type DeployEnv = (typeof DEPLOY_ENVS)[number];

export const PLACEHOLDER_DB_ID = "00000000-0000-0000-0000-000000000000";

export interface WorkerTarget {
  configPath: string;
  name: string;
  vars: Record<string, string>;
  d1: { name: string; id: string };
  bucket: string;
  /** Every queue the worker produces to, consumes, or dead-letters into. */
  queues: string[];
  /** Custom-domain hostnames (routes with custom_domain = true) and other route patterns. */
  routes: string[];
  /** The API worker the edge binds as `API` (edge only). */
  apiService?: string;
  containers: { className: string; image: string; instanceType: string; maxInstances: number }[];
}

export interface EnvTarget {
  env: DeployEnv;
  api: WorkerTarget;
  edge: WorkerTarget;
}

/** The part of wrangler's resolved config this module reads. */
interface RawWorkerConfig {
  name?: string;
  vars?: Record<string, unknown>;
  d1_databases: { binding: string; database_name?: string; database_id?: string }[];
  r2_buckets: { binding: string; bucket_name?: string }[];
  queues: { producers?: { queue: string }[]; consumers?: { queue: string; dead_letter_queue?: string }[] };
  routes?: (string | { pattern: string })[];
  services?: { binding: string; service: string }[];
  containers?: { class_name: string; image: string; instance_type?: unknown; max_instances?: number }[];
}

/** Reads one worker's config for one environment exactly as wrangler will see it. */
export function readWorker(configPath: string, env: string | undefined): WorkerTarget {
  const c = unstable_readConfig({ config: configPath, env }, { hideWarnings: true }) as unknown as RawWorkerConfig;
  const d1 = c.d1_databases.find((d) => d.binding === "DB");
  const queues = new Set<string>();
  for (const p of c.queues.producers ?? []) queues.add(p.queue);
  for (const q of c.queues.consumers ?? []) {
    queues.add(q.queue);
    if (q.dead_letter_queue) queues.add(q.dead_letter_queue);
  }
  const routes = (c.routes ?? []).map((r) => (typeof r === "string" ? r : r.pattern));
  return {
    configPath,
    name: c.name ?? "",
    vars: Object.fromEntries(Object.entries(c.vars ?? {}).map(([k, v]) => [k, String(v)])),
    d1: { name: d1?.database_name ?? "", id: d1?.database_id ?? "" },
    bucket: c.r2_buckets.find((b) => b.binding === "MEDIA")?.bucket_name ?? "",
    queues: [...queues].sort(),
    routes,
    apiService: c.services?.find((s) => s.binding === "API")?.service,
    containers: (c.containers ?? []).map((k) => ({
      className: k.class_name,
      image: k.image,
      instanceType: typeof k.instance_type === "string" ? k.instance_type : "custom",
      maxInstances: k.max_instances ?? 0,
    })),
  };
}

/** Config paths are relative to the repository root (wrangler runs there), so plans print the same anywhere. */
export const API_TOML = "wrangler.toml";
export const EDGE_TOML = "workers/edge/wrangler.toml";

export function readTarget(root: string, env: DeployEnv): EnvTarget {
  const read = (rel: string) => ({ ...readWorker(path.join(root, rel), env), configPath: rel });
  return { env, api: read(API_TOML), edge: read(EDGE_TOML) };
}

const LOOPBACK = /(^|\/\/)(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0)([:/]|$)/i;

/**
 * Everything wrong with a deployed environment's two configs: drift between API and edge (one database,
 * one bucket, the same public URLs and KEYFRAME_ENV, the edge bound to this env's API), development values
 * (loopback URLs, KEYFRAME_ENV=development, private-address allowances), missing routes or container.
 * `placeholders` also refuses the shipped example domains (a real deploy; CI and --dry-run allow them).
 * Placeholder database ids are not a problem here: the deploy writes the real ones.
 */
export function targetProblems(t: EnvTarget, opts: { placeholders: boolean }): string[] {
  const p: string[] = [];
  const { api, edge, env } = t;
  const where = `[env.${env}]`;
  if (api.vars.KEYFRAME_ENV !== env) p.push(`wrangler.toml ${where}: KEYFRAME_ENV must be "${env}"`);
  if (!(KEYFRAME_ENVS as readonly string[]).includes(api.vars.KEYFRAME_ENV ?? "")) {
    p.push(`wrangler.toml ${where}: KEYFRAME_ENV=${api.vars.KEYFRAME_ENV} is not one of ${KEYFRAME_ENVS.join(" | ")}`);
  }
  for (const [k, v] of Object.entries(api.vars)) {
    if (LOOPBACK.test(v)) p.push(`wrangler.toml ${where}: ${k}=${v} is a loopback address`);
  }
  for (const [k, v] of Object.entries(edge.vars)) {
    if (LOOPBACK.test(v)) p.push(`workers/edge/wrangler.toml ${where}: ${k}=${v} is a loopback address`);
  }
  for (const k of ["ALLOW_PRIVATE_INGEST_URLS", "ALLOW_PRIVATE_WEBHOOK_URLS"]) {
    if (api.vars[k] === "true") p.push(`wrangler.toml ${where}: ${k}="true" in a deployed environment`);
  }
  if (api.vars.TRANSCODER_URL) p.push(`wrangler.toml ${where}: TRANSCODER_URL must be empty (the container runs jobs)`);
  for (const k of ["API_PUBLIC_URL", "EDGE_PUBLIC_URL"]) {
    const problem = publicUrlProblem(k, api.vars[k]);
    if (problem) p.push(`wrangler.toml ${where}: ${problem}`);
  }
  for (const k of ["KEYFRAME_ENV", "API_PUBLIC_URL", "EDGE_PUBLIC_URL"]) {
    if (edge.vars[k] !== api.vars[k]) {
      p.push(`${where}: ${k} differs: API ${JSON.stringify(api.vars[k])}, edge ${JSON.stringify(edge.vars[k])}`);
    }
  }
  if (api.d1.name !== edge.d1.name || api.d1.id !== edge.d1.id) {
    p.push(`${where}: D1 differs: API ${api.d1.name} (${api.d1.id}), edge ${edge.d1.name} (${edge.d1.id})`);
  }
  if (api.bucket !== edge.bucket) p.push(`${where}: R2 bucket differs: API ${api.bucket}, edge ${edge.bucket}`);
  if (edge.apiService !== api.name) {
    p.push(`${where}: the edge binds API = ${edge.apiService}, but this environment's API worker is ${api.name}`);
  }
  const hostOf = (u: string | undefined) => {
    try {
      return new URL(u ?? "").hostname;
    } catch {
      return "";
    }
  };
  if (!api.routes.includes(hostOf(api.vars.API_PUBLIC_URL))) {
    p.push(
      `wrangler.toml ${where}: API_PUBLIC_URL's host is not one of its routes (${api.routes.join(", ") || "none"})`,
    );
  }
  if (!edge.routes.includes(hostOf(edge.vars.EDGE_PUBLIC_URL))) {
    p.push(
      `workers/edge/wrangler.toml ${where}: EDGE_PUBLIC_URL's host is not one of its routes (the edge cache needs a custom domain)`,
    );
  }
  if (!api.containers.some((c) => c.className === "TranscoderContainer")) {
    p.push(`wrangler.toml ${where}: no [[env.${env}.containers]] for TranscoderContainer`);
  }
  // Another environment's resources must not be shared with this one.
  const named = [api.d1.name, api.bucket, ...api.queues];
  if (!named.every((n) => n.includes(env))) {
    p.push(
      `wrangler.toml ${where}: resource names must carry the environment (${named.filter((n) => !n.includes(env)).join(", ")})`,
    );
  }
  if (opts.placeholders) {
    for (const h of [...api.routes, ...edge.routes]) {
      if (/(^|\.)example\.(com|net|org)$/.test(h)) {
        p.push(`${where}: ${h} is the shipped example domain: set your hostnames in both wrangler.toml files`);
      }
    }
  }
  return p;
}

// ───────────────────────── what exists ─────────────────────────

/** `wrangler d1 list --json`: [{ uuid, name, … }]. */
export function parseD1List(stdout: string): { name: string; uuid: string }[] {
  const start = stdout.indexOf("[");
  if (start < 0) throw new Error(`wrangler d1 list --json printed no JSON: ${stdout.slice(0, 200)}`);
  const rows = JSON.parse(stdout.slice(start)) as { name?: string; uuid?: string }[];
  return rows.filter((r) => r.name && r.uuid).map((r) => ({ name: r.name as string, uuid: r.uuid as string }));
}

/** `wrangler r2 bucket list` (no JSON mode): blocks of `name: …` / `creation_date: …`. */
export function parseR2BucketList(stdout: string): string[] {
  return stripVTControlCharacters(stdout)
    .split("\n")
    .map((l) => /^name:\s+(\S+)\s*$/.exec(l.trim())?.[1])
    .filter((n): n is string => !!n);
}

/** `wrangler queues list` (no JSON mode): a cli-table3 table with `id` and `name` columns. */
export function parseQueuesList(stdout: string): string[] {
  const rows = stripVTControlCharacters(stdout)
    .split("\n")
    .filter((l) => l.startsWith("│"))
    .map((l) =>
      l
        .split("│")
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  const header = rows.findIndex((r) => r.includes("name"));
  if (header < 0) return [];
  const col = rows[header].indexOf("name");
  return rows
    .slice(header + 1)
    .map((r) => r[col])
    .filter(Boolean);
}

export interface Existing {
  d1: { name: string; uuid: string }[];
  buckets: string[];
  queues: string[];
  /** Secret names already set on each worker (`wrangler secret list`), or null when the worker is new. */
  apiSecrets: string[] | null;
  edgeSecrets: string[] | null;
}

// ───────────────────────── steps ─────────────────────────

export interface Step {
  title: string;
  /** wrangler arguments (run as the project's own wrangler binary), or a tsx script for `script` steps. */
  argv: string[];
  kind: "wrangler" | "script" | "edit";
  /** Why this step is not needed (idempotency); printed, not run. */
  skip?: string;
}

const w = (title: string, argv: string[], skip?: string): Step => ({ title, argv, kind: "wrangler", skip });

/** Creates what is missing, by name; everything present is a skipped step that says so. */
export function resourceSteps(t: EnvTarget, have: Pick<Existing, "d1" | "buckets" | "queues">): Step[] {
  const steps: Step[] = [];
  const db = have.d1.find((d) => d.name === t.api.d1.name);
  steps.push(
    w(`D1 database ${t.api.d1.name}`, ["d1", "create", t.api.d1.name], db ? `exists (${db.uuid})` : undefined),
  );
  const hasBucket = have.buckets.includes(t.api.bucket);
  steps.push(
    w(`R2 bucket ${t.api.bucket}`, ["r2", "bucket", "create", t.api.bucket], hasBucket ? "exists" : undefined),
  );
  // Dead-letter queues first: a consumer naming a DLQ that does not exist is refused at deploy.
  const queues = [...t.api.queues].sort((a, b) => Number(b.endsWith("-dlq")) - Number(a.endsWith("-dlq")));
  for (const q of queues) {
    steps.push(w(`queue ${q}`, ["queues", "create", q], have.queues.includes(q) ? "exists" : undefined));
  }
  return steps;
}

/** The id wrangler needs: the one the account has, else whatever `d1 create` will print (filled at run time). */
export function databaseIdStep(t: EnvTarget, have: Pick<Existing, "d1">): Step {
  const id = have.d1.find((d) => d.name === t.api.d1.name)?.uuid;
  const files = "wrangler.toml, workers/edge/wrangler.toml";
  const current = t.api.d1.id === t.edge.d1.id ? t.api.d1.id : "";
  return {
    title: `write database_id of ${t.api.d1.name} into ${files}`,
    argv: [t.api.d1.name, id ?? "<id printed by d1 create>"],
    kind: "edit",
    skip: id && current === id ? `already ${id}` : undefined,
  };
}

/**
 * Whether to (re)generate the secrets: JOB_TOKEN_SECRET on the API and EDGE_API_SECRET (derived from it,
 * scripts/edge-secret.ts) on the edge. Secrets are write-only, so when either is missing both are made
 * anew (the edge's cannot be derived from a JOB_TOKEN_SECRET nobody can read back). They travel with the
 * deploys as `--secrets-file` (a 0600 temp file, deleted after), which also works for a worker that does
 * not exist yet.
 */
export function needsSecrets(have: Pick<Existing, "apiSecrets" | "edgeSecrets">): boolean {
  const apiHas = have.apiSecrets?.includes("JOB_TOKEN_SECRET") ?? false;
  const edgeHas = have.edgeSecrets?.includes("EDGE_API_SECRET") ?? false;
  return !(apiHas && edgeHas);
}

export const SECRETS_FILE = { api: "<tmp>/api-secrets.json", edge: "<tmp>/edge-secrets.json" };

export function deploySteps(t: EnvTarget, opts: { secrets: boolean; firstKey: boolean | null }): Step[] {
  const secretArgs = (file: string) => (opts.secrets ? ["--secrets-file", file] : []);
  const which = opts.secrets ? " + generated JOB_TOKEN_SECRET" : "";
  return [
    w(`remote D1 migrations (${t.api.d1.name})`, [
      "d1",
      "migrations",
      "apply",
      "DB",
      "--remote",
      "-c",
      t.api.configPath,
      "--env",
      t.env,
    ]),
    w(`deploy ${t.api.name}${which} and its TranscoderContainer image (Docker builds and pushes it)`, [
      "deploy",
      "-c",
      t.api.configPath,
      "--env",
      t.env,
      "--containers-rollout",
      "immediate",
      ...secretArgs(SECRETS_FILE.api),
    ]),
    w(`deploy ${t.edge.name}${opts.secrets ? " + EDGE_API_SECRET derived from it" : ""}`, [
      "deploy",
      "-c",
      t.edge.configPath,
      "--env",
      t.env,
      ...secretArgs(SECRETS_FILE.edge),
    ]),
    {
      title: "first admin API key (scopes *), printed once",
      argv: [
        "scripts/keys-create.ts",
        "--remote",
        "--env",
        t.env,
        "--scopes",
        "*",
        "--name",
        `admin (${t.env} deploy)`,
      ],
      kind: "script",
      skip: opts.firstKey === false ? "the database already has API keys" : undefined,
    },
  ];
}

/** The commands that find out what exists (read-only; run in --dry-run too when logged in). */
export function discoverySteps(t: EnvTarget): Step[] {
  return [
    w("list D1 databases", ["d1", "list", "--json"]),
    w("list R2 buckets", ["r2", "bucket", "list"]),
    w("list queues", ["queues", "list"]),
    w(`list secrets of ${t.api.name}`, ["secret", "list", "-c", t.api.configPath, "--env", t.env, "--format", "json"]),
    w(`list secrets of ${t.edge.name}`, [
      "secret",
      "list",
      "-c",
      t.edge.configPath,
      "--env",
      t.env,
      "--format",
      "json",
    ]),
  ];
}

/** `wrangler secret list --format json` → names; a worker that does not exist yet has none. */
export function parseSecretList(stdout: string, code: number): string[] | null {
  if (code !== 0) return null;
  const start = stdout.indexOf("[");
  if (start < 0) return [];
  return (JSON.parse(stdout.slice(start)) as { name: string }[]).map((s) => s.name);
}

/**
 * Writes `id` as the database_id of the D1 block named `databaseName` (and only that block) in a
 * wrangler.toml, keeping every comment and line as it was.
 */
export function setDatabaseId(toml: string, databaseName: string, id: string): string {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new Error(`not a D1 database id: ${id}`);
  const block = new RegExp(
    `(database_name\\s*=\\s*"${databaseName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"\\s*\\n\\s*database_id\\s*=\\s*")[^"]*(")`,
    "g",
  );
  const matches = toml.match(block)?.length ?? 0;
  if (matches !== 1)
    throw new Error(`expected one D1 block named ${databaseName} (database_name then database_id), found ${matches}`);
  return toml.replace(block, `$1${id}$2`);
}

/** `wrangler d1 create` prints the new binding block; the id is its only UUID. */
export function parseCreatedDatabaseId(stdout: string): string {
  const m = /"?database_id"?\s*[=:]\s*"([0-9a-f-]{36})"/i.exec(stdout);
  if (!m) throw new Error(`could not find the new database_id in:\n${stdout}`);
  return m[1];
}

/** Public URLs the deploy ends with. */
export function finalUrls(t: EnvTarget): { api: string; docs: string; edge: string } {
  return {
    api: `${t.api.vars.API_PUBLIC_URL}/v1`,
    docs: `${t.api.vars.API_PUBLIC_URL}/docs`,
    edge: t.api.vars.EDGE_PUBLIC_URL,
  };
}

/** One line per step, the way --dry-run prints the plan. */
export function renderStep(s: Step, n: number): string {
  const cmd =
    s.kind === "wrangler"
      ? `wrangler ${s.argv.join(" ")}`
      : s.kind === "script"
        ? `tsx ${s.argv.join(" ")}`
        : `edit: ${s.argv.join(" = ")}`;
  return `${String(n).padStart(2)}. ${s.skip ? "skip" : "run "}  ${s.title}\n      ${cmd}${s.skip ? `   (${s.skip})` : ""}`;
}
