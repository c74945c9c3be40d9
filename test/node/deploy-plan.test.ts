/**
 * The deploy as data (scripts/lib/deploy-plan.ts): the shipped configs pass the checks and every drift or
 * development leftover is caught; the idempotency logic against recorded `wrangler … list` outputs (a
 * second run over an account that has everything creates nothing and sets no secret); the database id
 * lands in exactly one block of both files; and the whole `--dry-run` output of scripts/deploy.ts.
 * None of this has run against a real Cloudflare account.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  API_TOML,
  databaseIdStep,
  deploySteps,
  EDGE_TOML,
  type EnvTarget,
  needsSecrets,
  parseCreatedDatabaseId,
  parseD1List,
  parseQueuesList,
  parseR2BucketList,
  parseSecretList,
  readTarget,
  readWorker,
  resourceSteps,
  setDatabaseId,
  targetProblems,
} from "../../scripts/lib/deploy-plan";
import { ROOT } from "../../scripts/lib/wrangler";
import {
  D1_LIST_JSON,
  QUEUES_LIST_EMPTY_PAGE,
  QUEUES_LIST_PAGE_1,
  R2_BUCKET_LIST,
  SECRET_LIST_API,
  SECRET_LIST_EDGE,
} from "./fixtures/wrangler-list-outputs";

const production = readTarget(ROOT, "production");
const staging = readTarget(ROOT, "staging");
const clone = (t: EnvTarget): EnvTarget => structuredClone(t);

describe("deploy config checks", () => {
  it("the shipped staging and production configs are consistent and carry no development values", () => {
    expect(targetProblems(production, { placeholders: false })).toEqual([]);
    expect(targetProblems(staging, { placeholders: false })).toEqual([]);
    // A real deploy refuses the example hostnames until the operator sets theirs.
    expect(targetProblems(production, { placeholders: true }).join("\n")).toMatch(
      /api\.keyframe\.example\.com is the shipped example domain/,
    );
  });

  it("the top level (what a plain `wrangler deploy` gets) carries production values, no loopback", () => {
    for (const file of [API_TOML, EDGE_TOML]) {
      const top = readWorker(path.join(ROOT, file), undefined);
      expect(top.vars.KEYFRAME_ENV).toBe("production");
      for (const v of Object.values(top.vars)) expect(v).not.toMatch(/127\.0\.0\.1|localhost/);
    }
  });

  it("each environment has its own database, bucket and queues", () => {
    const names = (t: EnvTarget) => [t.api.d1.name, t.api.bucket, ...t.api.queues, t.api.name, t.edge.name];
    const shared = names(production).filter((n) => names(staging).includes(n));
    expect(shared).toEqual([]);
    expect(production.api.queues).toHaveLength(4);
    expect(production.api.containers).toEqual([
      {
        className: "TranscoderContainer",
        image: path.join(ROOT, "transcoder", "Dockerfile"),
        instanceType: "standard-3",
        maxInstances: 50,
      },
    ]);
  });

  it("catches drift between the API and edge configs, and development leftovers", () => {
    const cases: [string, (t: EnvTarget) => void, RegExp][] = [
      ["edge on another database id", (t) => (t.edge.d1.id = "11111111-2222-4333-8444-555555555555"), /D1 differs/],
      ["edge on another bucket", (t) => (t.edge.bucket = "keyframe-media"), /R2 bucket differs/],
      ["edge bound to the wrong API", (t) => (t.edge.apiService = "keyframe-api"), /the edge binds API = keyframe-api/],
      [
        "public URL differs",
        (t) => (t.edge.vars.API_PUBLIC_URL = "https://other.example.org"),
        /API_PUBLIC_URL differs/,
      ],
      ["development env", (t) => (t.api.vars.KEYFRAME_ENV = "development"), /KEYFRAME_ENV must be "production"/],
      [
        "loopback transcoder",
        (t) => (t.api.vars.TRANSCODER_URL = "http://127.0.0.1:8790"),
        /TRANSCODER_URL=http:\/\/127\.0\.0\.1:8790 is a loopback/,
      ],
      [
        "private webhooks allowed",
        (t) => (t.api.vars.ALLOW_PRIVATE_WEBHOOK_URLS = "true"),
        /ALLOW_PRIVATE_WEBHOOK_URLS="true"/,
      ],
      ["http public URL", (t) => (t.api.vars.API_PUBLIC_URL = "http://api.keyframe.example.com"), /must be https/],
      ["no container", (t) => (t.api.containers = []), /no \[\[env\.production\.containers\]\]/],
      ["edge URL without a route", (t) => (t.edge.routes = []), /EDGE_PUBLIC_URL's host is not one of its routes/],
      [
        "shared queue",
        (t) => (t.api.queues = [...t.api.queues, "keyframe-transcode-jobs"]),
        /must carry the environment/,
      ],
    ];
    for (const [name, mutate, expected] of cases) {
      const t = clone(production);
      mutate(t);
      expect(targetProblems(t, { placeholders: false }).join("\n"), name).toMatch(expected);
    }
  });
});

describe("idempotency against recorded wrangler list outputs", () => {
  const d1 = parseD1List(D1_LIST_JSON);
  const buckets = parseR2BucketList(R2_BUCKET_LIST);
  const queues = [...parseQueuesList(QUEUES_LIST_PAGE_1), ...parseQueuesList(QUEUES_LIST_EMPTY_PAGE)];

  it("parses what exists", () => {
    expect(d1).toEqual([
      { name: "keyframe-production", uuid: "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f" },
      { name: "someone-elses-app", uuid: "0a0b0c0d-1111-4222-8333-444455556666" },
    ]);
    expect(buckets).toEqual(["keyframe-production-media", "someone-elses-bucket"]);
    expect(queues).toEqual([
      "keyframe-production-transcode-jobs",
      "keyframe-production-transcode-jobs-dlq",
      "keyframe-production-webhook-deliveries",
      "keyframe-production-webhook-deliveries-dlq",
    ]);
    expect(parseSecretList(SECRET_LIST_API, 0)).toEqual(["JOB_TOKEN_SECRET"]);
    // `secret list` of a worker that does not exist yet fails: it has no secrets.
    expect(parseSecretList("", 1)).toBeNull();
  });

  it("a second run over an account that has everything creates nothing and generates no secret", () => {
    const steps = resourceSteps(production, { d1, buckets, queues });
    expect(steps).toHaveLength(6);
    expect(steps.every((s) => s.skip)).toBe(true);
    expect(steps[0].skip).toBe("exists (6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f)");
    const have = { apiSecrets: parseSecretList(SECRET_LIST_API, 0), edgeSecrets: parseSecretList(SECRET_LIST_EDGE, 0) };
    expect(needsSecrets(have)).toBe(false);
    const deploy = deploySteps(production, { secrets: false, firstKey: false });
    expect(deploy.flatMap((s) => s.argv)).not.toContain("--secrets-file");
    expect(deploy.at(-1)?.skip).toBe("the database already has API keys");
    // With the id already written, the edit is skipped too.
    const written = clone(production);
    written.api.d1.id = written.edge.d1.id = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";
    expect(databaseIdStep(written, { d1 }).skip).toBe("already 6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f");
    expect(databaseIdStep(production, { d1 }).skip).toBeUndefined();
  });

  it("a partial account: only what is missing is created, dead-letter queues before their consumers", () => {
    const steps = resourceSteps(production, {
      d1: [],
      buckets,
      queues: ["keyframe-production-transcode-jobs-dlq"],
    });
    expect(steps.filter((s) => !s.skip).map((s) => s.argv.join(" "))).toEqual([
      "d1 create keyframe-production",
      "queues create keyframe-production-webhook-deliveries-dlq",
      "queues create keyframe-production-transcode-jobs",
      "queues create keyframe-production-webhook-deliveries",
    ]);
    // One secret missing: both are made anew (EDGE_API_SECRET derives from a JOB_TOKEN_SECRET nobody can read).
    expect(needsSecrets({ apiSecrets: ["JOB_TOKEN_SECRET"], edgeSecrets: [] })).toBe(true);
    expect(needsSecrets({ apiSecrets: null, edgeSecrets: null })).toBe(true);
  });
});

describe("writing the database id", () => {
  it("changes exactly the named block in both files, keeps every comment, and is idempotent", () => {
    const id = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";
    for (const file of [API_TOML, EDGE_TOML]) {
      const before = readFileSync(path.join(ROOT, file), "utf8");
      const after = setDatabaseId(before, "keyframe-production", id);
      const changed = after.split("\n").filter((l, i) => l !== before.split("\n")[i]);
      expect(changed).toEqual([`database_id = "${id}"`]);
      expect(setDatabaseId(after, "keyframe-production", id)).toBe(after);
      expect(after.split("\n").filter((l) => l.startsWith("#"))).toEqual(
        before.split("\n").filter((l) => l.startsWith("#")),
      );
    }
    expect(() => setDatabaseId("x", "keyframe-production", id)).toThrow(/found 0/);
    expect(() => setDatabaseId("x", "keyframe-production", "not-an-id")).toThrow(/not a D1 database id/);
  });

  it("reads the id `wrangler d1 create` prints (TOML or JSON snippet)", () => {
    const toml = `✅ Successfully created DB 'keyframe-production' in region WEUR\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "keyframe-production"\ndatabase_id = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"\n`;
    const json = `{\n  "d1_databases": [\n    {\n      "binding": "DB",\n      "database_name": "keyframe-production",\n      "database_id": "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"\n    }\n  ]\n}`;
    expect(parseCreatedDatabaseId(toml)).toBe("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f");
    expect(parseCreatedDatabaseId(json)).toBe("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f");
  });
});

describe("npm run deploy -- --dry-run", () => {
  it("prints every step, in order, without running any (not logged in: every resource assumed missing)", () => {
    const home = mkdtempSync(path.join(tmpdir(), "keyframe-deploy-home-"));
    const res = spawnSync(
      path.join(ROOT, "node_modules", ".bin", "tsx"),
      ["scripts/deploy.ts", "--env", "production", "--dry-run"],
      {
        cwd: ROOT,
        encoding: "utf8",
        env: {
          ...process.env,
          HOME: home,
          XDG_CONFIG_HOME: home,
          CLOUDFLARE_API_TOKEN: "",
          CI: "true",
          WRANGLER_SEND_METRICS: "false",
        },
      },
    );
    expect(res.stderr).toBe("");
    expect(res.status).toBe(0);
    expect(
      res.stdout,
    ).toBe(`Deploy plan for [env.production] (dry run; not logged in to Cloudflare, so every resource is assumed missing):

 1. run   D1 database keyframe-production
      wrangler d1 create keyframe-production
 2. run   R2 bucket keyframe-production-media
      wrangler r2 bucket create keyframe-production-media
 3. run   queue keyframe-production-transcode-jobs-dlq
      wrangler queues create keyframe-production-transcode-jobs-dlq
 4. run   queue keyframe-production-webhook-deliveries-dlq
      wrangler queues create keyframe-production-webhook-deliveries-dlq
 5. run   queue keyframe-production-transcode-jobs
      wrangler queues create keyframe-production-transcode-jobs
 6. run   queue keyframe-production-webhook-deliveries
      wrangler queues create keyframe-production-webhook-deliveries
 7. run   write database_id of keyframe-production into wrangler.toml, workers/edge/wrangler.toml
      edit: keyframe-production = <id printed by d1 create>
 8. run   remote D1 migrations (keyframe-production)
      wrangler d1 migrations apply DB --remote -c wrangler.toml --env production
 9. run   deploy keyframe-api-production + generated JOB_TOKEN_SECRET and its TranscoderContainer image (Docker builds and pushes it)
      wrangler deploy -c wrangler.toml --env production --containers-rollout immediate --secrets-file <tmp>/api-secrets.json
10. run   deploy keyframe-edge-production + EDGE_API_SECRET derived from it
      wrangler deploy -c workers/edge/wrangler.toml --env production --secrets-file <tmp>/edge-secrets.json
11. run   first admin API key (scopes *), printed once
      tsx scripts/keys-create.ts --remote --env production --scopes * --name admin (production deploy)

Would end with: API https://api.keyframe.example.com/v1  docs https://api.keyframe.example.com/docs  edge https://cdn.keyframe.example.com
`);
  });

  it("--check passes for every environment", () => {
    const res = spawnSync(path.join(ROOT, "node_modules", ".bin", "tsx"), ["scripts/deploy.ts", "--check"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(res.stdout).toBe("[env.staging] ok\n[env.production] ok\n");
    expect(res.status).toBe(0);
  });
});
