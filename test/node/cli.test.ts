/**
 * `npx keyframe …` as a subprocess against the real local stack: login (config file mode 0600), upload of
 * a generated clip (tus, resumed after the process is killed mid-upload, waits for ready), assets
 * ls/get/rm, events tail, keys create, and clear failures with non-zero exit codes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2E, startE2E } from "./support/e2e";
import { makeClip } from "./support/media";

const ROOT = path.join(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "node_modules/.bin/keyframe");
let e: E2E;
let work: string;
let clip: string;
let env: Record<string, string | undefined>;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(
  args: string[],
  extraEnv: Record<string, string> = {},
  onStderr?: (text: string, child: ChildProcess) => void,
  direct = false,
) {
  return new Promise<Run>((resolve) => {
    // `npx keyframe` as a user runs it; the mid-upload kill targets the CLI process itself (killing npx
    // would leave its child running).
    const [cmd, argv] = direct ? [BIN, args] : ["npx", ["keyframe", ...args]];
    const child = spawn(cmd, argv, {
      cwd: ROOT,
      env: { ...env, ...extraEnv } as unknown as NodeJS.ProcessEnv,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
      onStderr?.(stderr, child);
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "keyframe-cli-"));
  env = { ...process.env, XDG_CONFIG_HOME: path.join(work, "config"), KEYFRAME_API_KEY: "", KEYFRAME_BASE_URL: "" };
  [e, clip] = await Promise.all([
    startE2E(),
    makeClip(path.join(work, "clip.mp4"), { seconds: 2, width: 320, height: 180 }),
  ]);
}, 400_000);

afterAll(async () => {
  await e?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("npx keyframe", () => {
  it("refuses a bad key at login with a clear message and exit code 1, and saves nothing", async () => {
    const r = await cli(["login", "--base-url", e.stack.apiUrl, "--api-key", "kf_wrong_0000000000000000000000000000"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unauthenticated \(HTTP 401\)/);
    expect(r.stderr).toMatch(/request_id: req_/);
    expect(() => statSync(path.join(work, "config/keyframe/config.json"))).toThrow();
  });

  it("without a login, says how to log in (exit 2)", async () => {
    const r = await cli(["assets", "ls"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("keyframe login");
  });

  it("logs in and stores the key in $XDG_CONFIG_HOME/keyframe/config.json with mode 0600", async () => {
    const r = await cli(["login", "--base-url", e.stack.apiUrl, "--api-key", e.secret, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const file = path.join(work, "config/keyframe/config.json");
    expect(JSON.parse(r.stdout).config).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ base_url: e.stack.apiUrl, api_key: e.secret });
  });

  let assetId = "";

  it("uploads a clip, resumes after being killed mid-upload, waits for ready and prints the playback URL", async () => {
    const small = { KEYFRAME_UPLOAD_CHUNK_SIZE: String(16 * 1024) };
    const killed = await cli(
      ["upload", clip, "--public"],
      small,
      (text, child) => {
        if (/uploaded \d+\//.test(text) && child.exitCode === null) child.kill("SIGKILL");
      },
      true,
    );
    expect(killed.code).not.toBe(0);
    const stored = JSON.parse(readFileSync(path.join(work, "config/keyframe/uploads.json"), "utf8"));
    expect(stored).toHaveLength(1);

    const r = await cli(["upload", clip, "--public", "--json"], small);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Resuming upload up_/);
    const result = JSON.parse(r.stdout);
    expect(result.status).toBe("ready");
    expect(result.url).toBe(`${e.stack.edgeUrl}/${result.playback_id}.m3u8`);
    assetId = result.asset_id;
    const master = await fetch(result.url);
    expect(master.status).toBe(200);
    expect(JSON.parse(readFileSync(path.join(work, "config/keyframe/uploads.json"), "utf8"))).toEqual([]);
    const upload = await e.api("GET", `/v1/uploads/${result.upload_id}`);
    expect(upload.body.size).toBe(statSync(clip).size);
  });

  it("lists, gets and removes assets", async () => {
    const ls = await cli(["assets", "ls", "--json"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout).map((a: { id: string }) => a.id)).toContain(assetId);
    const human = await cli(["assets", "ls"]);
    expect(human.stdout).toMatch(new RegExp(`${assetId}\\s+ready`));
    const get = await cli(["assets", "get", assetId, "--json"]);
    expect(JSON.parse(get.stdout)).toMatchObject({ id: assetId, status: "ready" });
    const rm = await cli(["assets", "rm", assetId, "--json"]);
    expect(rm.code, rm.stderr).toBe(0);
    const gone = await cli(["assets", "get", assetId]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/not_found \(HTTP 404\)/);
  });

  it("tails events, creates keys, and refuses live streams the API does not have", async () => {
    const tail = await cli(["events", "tail", "--from-start", "--once", "--json"]);
    expect(tail.code, tail.stderr).toBe(0);
    const types = tail.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).type);
    expect(types).toContain("upload.created");
    expect(types).toContain("asset.ready");

    const key = await cli(["keys", "create", "--name", "ci", "--scopes", "assets:read", "--json"]);
    expect(key.code, key.stderr).toBe(0);
    const created = JSON.parse(key.stdout);
    expect(created.secret).toMatch(/^kf_/);
    const denied = await cli(["keys", "create", "--name", "x", "--scopes", "*"], { KEYFRAME_API_KEY: created.secret });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/forbidden \(HTTP 403\)/);

    const live = await cli(["live", "ls"]);
    if ("liveStreams" in (await import("../../sdk/src/index")).OPERATIONS) expect(live.code).toBe(0);
    else {
      expect(live.code).toBe(2);
      expect(live.stderr).toContain("no live stream operations");
    }
  });
});
