/**
 * `npm run deploy -- --env staging|production [--dry-run]`: one command from an empty account to a
 * working Keyframe. Creates what is missing by name (D1, R2 bucket, queues + dead-letter queues), writes
 * the database id into both wrangler.toml files, generates the secrets it can (JOB_TOKEN_SECRET and the
 * edge's EDGE_API_SECRET derived from it), applies remote migrations, deploys the API worker with its
 * transcoder container and the edge worker, creates the first admin key when the database has none, and
 * prints the URLs. Every step is decided by scripts/lib/deploy-plan.ts; running it twice changes nothing
 * the first run did. `--dry-run` prints the plan without running anything that writes.
 *
 * `npm run deploy -- --check` checks every environment's config (drift between the API and edge files,
 * development values) without calling Cloudflare: .ci/run runs it.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { deriveEdgeApiSecret } from "../src/lib/edge-auth";
import {
  DEPLOY_ENVS,
  type DeployEnv,
  databaseIdStep,
  deploySteps,
  discoverySteps,
  type EnvTarget,
  type Existing,
  finalUrls,
  needsSecrets,
  PLACEHOLDER_DB_ID,
  parseCreatedDatabaseId,
  parseD1List,
  parseQueuesList,
  parseR2BucketList,
  parseSecretList,
  readTarget,
  renderStep,
  resourceSteps,
  SECRETS_FILE,
  type Step,
  setDatabaseId,
  targetProblems,
} from "./lib/deploy-plan";
import { d1Execute, ROOT, run, wranglerBin } from "./lib/wrangler";

const USAGE = `usage: npm run deploy -- --env ${DEPLOY_ENVS.join("|")} [--dry-run]
       npm run deploy -- --check        (config checks for every environment, no Cloudflare calls)`;

const WRANGLER_ENV = { CI: "true", WRANGLER_SEND_METRICS: "false" };

async function wrangler(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(wranglerBin(), argv, { env: WRANGLER_ENV });
}

async function mustWrangler(step: Step, argv = step.argv): Promise<string> {
  const res = await wrangler(argv);
  if (res.code !== 0)
    throw new Error(`${step.title} failed (wrangler ${argv.join(" ")}):\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

/** What the account already has. Read-only; used by real runs and by --dry-run when logged in. */
async function discover(t: EnvTarget): Promise<Existing> {
  const [d1, r2, queues, apiSecrets, edgeSecrets] = discoverySteps(t);
  const d1Out = await mustWrangler(d1);
  const r2Out = await mustWrangler(r2);
  const names: string[] = [];
  // `queues list` pages; an empty page ends it.
  for (let page = 1; page <= 50; page++) {
    const got = parseQueuesList(await mustWrangler(queues, [...queues.argv, "--page", String(page)]));
    if (got.length === 0) break;
    names.push(...got);
  }
  const a = await wrangler(apiSecrets.argv);
  const e = await wrangler(edgeSecrets.argv);
  return {
    d1: parseD1List(d1Out),
    buckets: parseR2BucketList(r2Out),
    queues: names,
    apiSecrets: parseSecretList(a.stdout, a.code),
    edgeSecrets: parseSecretList(e.stdout, e.code),
  };
}

function writeDatabaseId(t: EnvTarget, id: string) {
  for (const rel of [t.api.configPath, t.edge.configPath]) {
    const file = path.join(ROOT, rel);
    writeFileSync(file, setDatabaseId(readFileSync(file, "utf8"), t.api.d1.name, id));
  }
}

function check(): number {
  let bad = 0;
  for (const env of DEPLOY_ENVS) {
    const problems = targetProblems(readTarget(ROOT, env), { placeholders: false });
    console.log(`[env.${env}] ${problems.length ? "problems:" : "ok"}`);
    for (const p of problems) console.log(`  - ${p}`);
    bad += problems.length;
  }
  return bad ? 1 : 0;
}

async function main() {
  const { values } = parseArgs({
    options: {
      env: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      check: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return console.log(USAGE);
  if (values.check) process.exit(check());
  const env = values.env as DeployEnv;
  if (!(DEPLOY_ENVS as readonly string[]).includes(env ?? "")) {
    console.error(USAGE);
    process.exit(2);
  }
  const dryRun = values["dry-run"] === true;
  let t = readTarget(ROOT, env);

  const problems = targetProblems(t, { placeholders: !dryRun });
  if (problems.length) {
    console.error(`wrangler.toml [env.${env}] is not deployable:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    process.exit(1);
  }

  let have: Existing;
  let offline = false;
  const whoami = dryRun ? await wrangler(["whoami"]) : null;
  if (whoami && (whoami.code !== 0 || /not authenticated/i.test(whoami.stdout + whoami.stderr))) {
    // Not logged in: plan as if the account were empty (every create runs).
    offline = true;
    have = { d1: [], buckets: [], queues: [], apiSecrets: null, edgeSecrets: null };
  } else {
    have = await discover(t);
  }

  const secrets = needsSecrets(have);
  const plan: Step[] = [
    ...resourceSteps(t, have),
    databaseIdStep(t, have),
    ...deploySteps(t, { secrets, firstKey: null }),
  ];
  if (dryRun) {
    console.log(
      `Deploy plan for [env.${env}] (dry run${offline ? "; not logged in to Cloudflare, so every resource is assumed missing" : ""}):\n`,
    );
    for (const [i, s] of plan.entries()) console.log(renderStep(s, i + 1));
    const urls = finalUrls(t);
    console.log(`\nWould end with: API ${urls.api}  docs ${urls.docs}  edge ${urls.edge}`);
    return;
  }

  // Resources: create what is missing; remember the id of a database we create.
  let createdId: string | null = null;
  for (const s of resourceSteps(t, have)) {
    console.log(renderStep(s, 0).replace(/^\s*0\. /, "• "));
    if (s.skip) continue;
    const out = await mustWrangler(s);
    if (s.argv[0] === "d1") createdId = parseCreatedDatabaseId(out);
  }
  const id = createdId ?? have.d1.find((d) => d.name === t.api.d1.name)?.uuid;
  if (!id) throw new Error(`D1 database ${t.api.d1.name} neither exists nor was created`);
  if (t.api.d1.id !== id || t.edge.d1.id !== id) {
    writeDatabaseId(t, id);
    console.log(`• wrote database_id ${id} into wrangler.toml and workers/edge/wrangler.toml (commit them)`);
    t = readTarget(ROOT, env);
  }
  if (t.api.d1.id === PLACEHOLDER_DB_ID) throw new Error("the database id is still the placeholder");

  const tmp = mkdtempSync(path.join(tmpdir(), "keyframe-deploy-"));
  try {
    if (secrets) {
      const job = randomBytes(32).toString("base64url");
      const files = { api: path.join(tmp, "api-secrets.json"), edge: path.join(tmp, "edge-secrets.json") };
      writeFileSync(files.api, JSON.stringify({ JOB_TOKEN_SECRET: job }), { mode: 0o600 });
      writeFileSync(files.edge, JSON.stringify({ EDGE_API_SECRET: await deriveEdgeApiSecret(job) }), { mode: 0o600 });
    }
    const [migrate, deployApi, deployEdge, firstKey] = deploySteps(t, { secrets, firstKey: null });
    for (const s of [migrate, deployApi, deployEdge]) {
      console.log(renderStep(s, 0).replace(/^\s*0\. /, "• "));
      const argv = s.argv.map((a) =>
        a === SECRETS_FILE.api
          ? path.join(tmp, "api-secrets.json")
          : a === SECRETS_FILE.edge
            ? path.join(tmp, "edge-secrets.json")
            : a,
      );
      const out = await mustWrangler(s, argv);
      if (s !== migrate)
        console.log(
          out
            .split("\n")
            .filter((l) => /https:\/\/|Uploaded|Deployed/.test(l))
            .join("\n"),
        );
    }
    const [rows] = await d1Execute(
      { remote: true, env, config: t.api.configPath },
      "select count(*) as n from api_keys",
    );
    if (Number(rows[0]?.n ?? 0) === 0) {
      console.log(renderStep(firstKey, 0).replace(/^\s*0\. /, "• "));
      const res = await run(path.join(ROOT, "node_modules", ".bin", "tsx"), firstKey.argv, { env: WRANGLER_ENV });
      if (res.code !== 0) throw new Error(`creating the first admin key failed:\n${res.stdout}\n${res.stderr}`);
      console.log(res.stdout);
    } else {
      console.log("• first admin API key: skipped (the database already has API keys)");
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const urls = finalUrls(t);
  console.log(
    `\nKeyframe ${env} is deployed.\n  API   ${urls.api}\n  docs  ${urls.docs}\n  edge  ${urls.edge}\n  health ${urls.api}/health`,
  );
}

main().catch((err) => {
  console.error(`deploy failed: ${(err as Error).message}`);
  process.exit(1);
});
