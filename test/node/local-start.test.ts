/**
 * `npm start` as a new user runs it: a fresh state folder (no key, no database), then the dev-tool
 * promises of the local stack: the admin key is there on the first start, `keys:create` works while the
 * stack is busy, a transcoder killed mid-job is restarted and its job still ends `ready` with the full
 * ladder and no duplicate events, and a second upload's fast path does not wait behind the first's ladder.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type Service, startService } from "../../scripts/lib/proc";
import { ROOT } from "../../scripts/lib/wrangler";
import type { TranscoderHealth } from "../support/api-types";
import { makeClip } from "./support/media";

const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

function keysCreate(persistTo: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      TSX,
      ["scripts/keys-create.ts", "--scopes", "assets:read", "--persist-to", persistTo, "--json"],
      {
        cwd: ROOT,
        stdio: "pipe",
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("npm start on a fresh state folder", () => {
  let dir: string;
  let stateDir: string;
  let start: Service;
  let apiUrl: string;
  let edgeUrl: string;
  let transcoderUrl: string;
  let secret: string;
  let output = "";

  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${apiUrl}${p}`, {
      method,
      headers: {
        authorization: `Bearer ${secret}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  const upload = async (file: string) => {
    const created = await api("POST", "/v1/uploads", { new_asset_settings: { playback_policy: "public" } });
    expect(created.status).toBe(201);
    const bytes = await readFile(file);
    const put = await fetch(created.body.url, {
      method: "PUT",
      headers: { "content-type": "video/mp4" },
      body: bytes,
    });
    const putBody = (await put.json()) as { asset_id: string };
    expect(put.status).toBeLessThan(300);
    return { uploadId: created.body.id as string, assetId: putBody.asset_id, putAt: Date.now() };
  };

  const asset = async (id: string) => (await api("GET", `/v1/assets/${id}`)).body;
  // The event log (what webhooks project), this asset's entries.
  const eventTypes = async (id: string) =>
    ((await api("GET", "/v1/events?limit=100")).body.data as { type: string; data: { asset_id?: string } }[])
      .filter((e) => e.data.asset_id === id)
      .map((e) => e.type);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "keyframe-start-"));
    stateDir = path.join(dir, "state");
    const [apiPort, edgePort, transcoderPort] = [await freePort(), await freePort(), await freePort()];
    apiUrl = `http://127.0.0.1:${apiPort}`;
    edgeUrl = `http://127.0.0.1:${edgePort}`;
    transcoderUrl = `http://127.0.0.1:${transcoderPort}`;
    start = startService("start", TSX, ["scripts/start.ts"], {
      cwd: ROOT,
      quiet: process.env.KEYFRAME_E2E_LOGS !== "1",
      env: {
        KEYFRAME_STATE_DIR: stateDir,
        KEYFRAME_API_PORT: String(apiPort),
        KEYFRAME_EDGE_PORT: String(edgePort),
        KEYFRAME_TRANSCODER_PORT: String(transcoderPort),
        WRANGLER_SEND_METRICS: "false",
      },
    });
    start.child.stdout?.on("data", (d) => {
      output += d;
    });
    start.child.stderr?.on("data", (d) => {
      output += d;
    });
    secret = await until(
      "the banner's admin key",
      () => {
        if (start.child.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
        return /export KEYFRAME_KEY=(kf_\S+)/.exec(output)?.[1];
      },
      // A loaded CI box (load average 40+ on 2 cores) took over 4 minutes to get here.
      600_000,
    );
  }, 660_000);

  afterAll(async () => {
    if (start?.child.pid) {
      start.child.kill("SIGINT");
      await Promise.race([start.exited, new Promise((r) => setTimeout(r, 20_000))]);
      await start.stop();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("prints a working admin key on the first start and keeps it in a file beside the state", async () => {
    expect(output).not.toMatch(/Could not set up the local admin key|printed no JSON/);
    expect(output).toContain("Admin API key (new");
    const keyFile = path.join(dir, "keyframe-admin-key");
    expect(existsSync(keyFile)).toBe(true);
    expect(readFileSync(keyFile, "utf8").trim()).toBe(secret);
    const keys = await api("GET", "/v1/keys");
    expect(keys.status).toBe(200);
    expect(keys.body.data).toHaveLength(1);
    // The transcoder names the binaries it uses.
    const health = (await (await fetch(`${transcoderUrl}/health`)).json()) as TranscoderHealth;
    expect(health.ffmpeg).toMatchObject({ source: expect.stringMatching(/^(env|system|npm)$/) });
    expect(health.ffprobe).toMatchObject({ source: expect.stringMatching(/^(env|system|npm)$/) });
  });

  it("restarts a transcoder killed mid-job; the asset still reaches ready with its full ladder, events once; keys:create works meanwhile", async () => {
    const clip = await makeClip(path.join(dir, "kill.mp4"), { width: 1280, height: 720, seconds: 20 });
    const { assetId } = await upload(clip);
    // Mid-job: playable from the fast path, the ladder still encoding.
    const before = await until(
      "ready while the ladder prepares",
      async () => {
        const a = await asset(assetId);
        if (a.status === "errored") throw new Error(JSON.stringify(a));
        return a.status === "ready" ? a : undefined;
      },
      120_000,
    );
    expect(before.renditions_status).toBe("preparing");
    const health = (await (await fetch(`${transcoderUrl}/health`)).json()) as { pid: number; running: number };
    expect(health.running).toBe(1);
    // The whole transcoder (its node process and its ffmpeg children) dies at once, as in an OOM kill.
    const pgid = Number(
      execFileSync("ps", ["-o", "pgid=", "-p", String(health.pid)])
        .toString()
        .trim(),
    );
    process.kill(-pgid, "SIGKILL");

    // keys:create while the stack is busy re-running the job: each run succeeds and its key authenticates.
    const created = await Promise.all(Array.from({ length: 3 }, () => keysCreate(stateDir)));
    for (const out of created) {
      expect(out.code, out.stderr).toBe(0);
      const key = JSON.parse(out.stdout.trim().split("\n").at(-1) as string);
      const res = await fetch(`${apiUrl}/v1/assets?limit=1`, { headers: { authorization: `Bearer ${key.secret}` } });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
    }

    await until("the restart log line", () => (/transcoder restarted/.test(output) ? true : undefined), 60_000);
    expect(output).toMatch(/transcoder exited \(code \d+\); restarting it in 1 s/);
    const done = await until(
      "the full ladder",
      async () => {
        const a = await asset(assetId);
        if (a.status === "errored") throw new Error(JSON.stringify(a));
        return a.renditions_status === "complete" ? a : undefined;
      },
      240_000,
    );
    expect(done.status).toBe("ready");
    expect(done.renditions.map((r: { name: string }) => r.name)).toEqual(["v720", "v480", "v360", "audio"]);
    const types = await eventTypes(assetId);
    for (const type of ["asset.created", "asset.ready", "asset.renditions_ready"]) {
      expect(
        types.filter((t) => t === type),
        `${type} in ${types.join(",")}`,
      ).toHaveLength(1);
    }
    // Plays at the edge: the master lists the ladder and a segment downloads.
    const pb = done.playback_ids[0].id;
    const masterRes = await fetch(`${edgeUrl}/${pb}.m3u8`);
    const master = await masterRes.text();
    expect(masterRes.status, master).toBe(200);
    const variant = master.split("\n").find((l) => l && !l.startsWith("#")) as string;
    const variantUrl = new URL(variant, `${edgeUrl}/${pb}.m3u8`);
    const playlist = await (await fetch(variantUrl)).text();
    const segment = playlist.split("\n").find((l) => l && !l.startsWith("#")) as string;
    const seg = await fetch(new URL(segment, variantUrl));
    expect(seg.status).toBe(200);
    expect((await seg.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  }, 900_000);

  it("gives a second upload's fast path its own lane: both playable long before the first ladder ends", async () => {
    const [a, b] = await Promise.all([
      makeClip(path.join(dir, "a.mp4"), { width: 1280, height: 720, seconds: 12 }),
      makeClip(path.join(dir, "b.mp4"), { width: 1280, height: 720, seconds: 12 }),
    ]);
    const first = await upload(a);
    const second = await upload(b);
    const readyAt: Record<string, number> = {};
    const completeAt: Record<string, number> = {};
    await until(
      "both ladders",
      async () => {
        for (const u of [first, second]) {
          const got = await asset(u.assetId);
          if (got.status === "errored") throw new Error(JSON.stringify(got));
          if (got.status === "ready") readyAt[u.assetId] ??= Date.now();
          if (got.renditions_status === "complete") completeAt[u.assetId] ??= Date.now();
        }
        return Object.keys(completeAt).length === 2 ? true : undefined;
      },
      360_000,
    );
    const firstReadyMs = readyAt[first.assetId] - first.putAt;
    const secondReadyMs = readyAt[second.assetId] - second.putAt;
    const firstLadderMs = completeAt[first.assetId] - first.putAt;
    console.log(
      `[lanes] first ready ${firstReadyMs} ms, first ladder ${firstLadderMs} ms, second ready ${secondReadyMs} ms`,
    );
    // The second upload was playable before the first one's ladder finished, and within 2× the first's own
    // time to playable (issue 14's measure). A second fast path queued behind the first ladder would take that
    // ladder plus its own remux: over 2× in every run seen (ready 9.8 s / ladder 20.8 s on a quiet CI box,
    // 19 s / 60 s on a loaded one). Half the ladder time, the old bound, failed on the quiet box's short ladder.
    expect(readyAt[second.assetId]).toBeLessThan(completeAt[first.assetId]);
    expect(secondReadyMs).toBeLessThan(2 * firstReadyMs);
    for (const u of [first, second]) {
      const types = await eventTypes(u.assetId);
      for (const type of ["asset.created", "asset.ready", "asset.renditions_ready"]) {
        expect(
          types.filter((t) => t === type),
          `${type} in ${types.join(",")}`,
        ).toHaveLength(1);
      }
    }
  }, 900_000);
});
