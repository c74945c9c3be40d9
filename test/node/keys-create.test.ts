/**
 * `npm run keys:create` end to end: the printed secret authenticates against a real `wrangler dev` of the
 * API worker sharing the same local state.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devApiVars } from "../../scripts/lib/dev-vars";
import { freePort, groupAlive, type Service, startService, waitForHttp } from "../../scripts/lib/proc";
import { API_CONFIG, applyMigrations, d1Execute, ROOT, wranglerBin } from "../../scripts/lib/wrangler";
import type { ApiKey, Page, Problem } from "../support/api-types";

/**
 * Runs `npm run keys:create`. One run that never ended held this test to its 180 s timeout in CI with no
 * trace: after 60 s the run is killed and the test fails with what it had printed.
 */
function keysCreate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "-s", "keys:create", "--", ...args], {
      cwd: ROOT,
      stdio: "pipe",
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
      reject(new Error(`keys:create ${args.join(" ")} did not end in 60 s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

describe("npm run keys:create", () => {
  let dir: string;
  let api: Service;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "keyframe-keys-"));
    await applyMigrations({ persistTo: dir });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    api = startService(
      "api",
      wranglerBin(),
      [
        "dev",
        "-c",
        API_CONFIG,
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--persist-to",
        dir,
        "--inspector-port",
        String(await freePort()),
        "--show-interactive-dev-session=false",
        "--var",
        "JOB_TOKEN_SECRET:keys-create-test-secret-0123456789",
        // Deployed values are the default (wrangler.toml): a local run passes development's, as npm start does.
        ...Object.entries(
          devApiVars({ apiUrl: url, edgeUrl: "http://127.0.0.1:9", transcoderUrl: "http://127.0.0.1:9" }),
        ).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      ],
      { cwd: ROOT, quiet: true, env: { WRANGLER_SEND_METRICS: "false" } },
    );
    await waitForHttp(`${url}/v1/health`, api);
  });

  afterAll(async () => {
    await api?.stop();
    if (api?.child.pid) expect(groupAlive(api.child.pid)).toBe(false);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `T`: the body expected (a list of keys by default). */
  const get = async <T = Page<ApiKey>>(secret: string, p: string) => {
    const res = await fetch(`${url}${p}`, { headers: { authorization: `Bearer ${secret}` } });
    return { status: res.status, body: (await res.json()) as T };
  };

  it("prints a secret that authenticates; a garbage key does not", async () => {
    const out = await keysCreate(["--scopes", "*", "--name", "ci admin", "--persist-to", dir, "--json"]);
    expect(out.code, out.stderr).toBe(0);
    const key = JSON.parse(out.stdout.trim().split("\n").at(-1) as string);
    expect(key).toMatchObject({ name: "ci admin", scopes: ["*"] });
    expect(key.secret).toMatch(/^kf_[A-Za-z0-9_-]{43}$/);
    expect(key.key_id).toMatch(/^key_[0-9a-z]{26}$/);
    expect(key.environment_id).toMatch(/^env_[0-9a-z]{26}$/);

    const ok = await get(key.secret, "/v1/assets");
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ data: [], next_cursor: null });
    const keys = await get(key.secret, "/v1/keys");
    expect(keys.body.data.map((k) => k.id)).toEqual([key.key_id]);

    const garbage = await get<Problem>(`kf_${"A".repeat(43)}`, "/v1/assets");
    expect(garbage.status).toBe(401);
    expect(garbage.body.code).toBe("unauthenticated");

    // Human output (the default) carries the same kind of secret; a second key joins the same environment.
    const human = await keysCreate(["--scopes", "assets:read", "--persist-to", dir]);
    expect(human.code, human.stderr).toBe(0);
    const secret = /kf_[A-Za-z0-9_-]{43}/.exec(human.stdout)?.[0] as string;
    expect(human.stdout).toContain(key.environment_id);
    expect((await get(secret, "/v1/assets")).status).toBe(200);
    expect((await get(secret, "/v1/keys")).status).toBe(403);

    // A key in a new environment sees none of the first environment's keys.
    const other = await keysCreate(["--scopes", "*", "--new-environment", "staging", "--persist-to", dir, "--json"]);
    expect(other.code, other.stderr).toBe(0);
    const otherKey = JSON.parse(other.stdout.trim().split("\n").at(-1) as string);
    expect(otherKey.environment_id).not.toBe(key.environment_id);
    const otherKeys = await get(otherKey.secret, "/v1/keys");
    expect(otherKeys.body.data.map((k) => k.id)).toEqual([otherKey.key_id]);
  });

  it("refuses unknown scopes and bad environment IDs without writing anything", async () => {
    const before = await d1Execute({ persistTo: dir }, "select count(*) as n from api_keys");
    const bad = await keysCreate(["--scopes", "assets:read,root", "--persist-to", dir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("unknown scope");
    const badEnv = await keysCreate(["--scopes", "*", "--environment", "production", "--persist-to", dir]);
    expect(badEnv.code).not.toBe(0);
    expect(badEnv.stderr).toContain("not an environment ID");
    const missing = await keysCreate(["--persist-to", dir]);
    expect(missing.code).toBe(2);
    const after = await d1Execute({ persistTo: dir }, "select count(*) as n from api_keys");
    expect(after[0][0].n).toBe(before[0][0].n);
  });
});
