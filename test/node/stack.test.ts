/** The local stack as e2e tests and benchmarks use it: start on free ports, use it, stop it cleanly. */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyInD1 } from "../../scripts/lib/keys";
import { freePort, groupAlive } from "../../scripts/lib/proc";
import { type Stack, startStack } from "../../scripts/lib/stack";
import type { Asset } from "../support/api-types";

describe("startStack", () => {
  let dir: string;
  let stack: Stack | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "keyframe-stack-"));
    stack = await startStack({
      apiPort: await freePort(),
      edgePort: await freePort(),
      transcoderPort: await freePort(),
      persistTo: dir,
      quiet: true,
    });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers health on the API, the edge and the transcoder", async () => {
    const s = stack as Stack;
    const api = await fetch(`${s.apiUrl}/v1/health`);
    expect(api.status).toBe(200);
    expect(await api.json()).toMatchObject({ ok: true, database: "ok" });
    expect(api.headers.get("x-request-id")).toMatch(/^req_/);
    const edge = await fetch(`${s.edgeUrl}/health`);
    expect(edge.status).toBeLessThan(500);
    await edge.arrayBuffer();
    if (s.transcoderUrl) {
      const tc = await fetch(`${s.transcoderUrl}/health`);
      expect(tc.status).toBe(200);
      await tc.arrayBuffer();
    }
  });

  it("creates an asset with a key from keys:create, and the edge reads the same database", async () => {
    const s = stack as Stack;
    const key = await createKeyInD1({ persistTo: dir, scopes: ["*"], name: "stack test" });
    const headers = { authorization: `Bearer ${key.secret}`, "content-type": "application/json" };
    const res = await fetch(`${s.apiUrl}/v1/assets`, {
      method: "POST",
      headers,
      body: JSON.stringify({ title: "stack", playback_policy: "public" }),
    });
    const asset = (await res.json()) as Asset;
    expect(res.status, JSON.stringify(asset)).toBe(201);
    expect(asset.status).toBe("waiting");
    const got = await fetch(`${s.apiUrl}/v1/assets/${asset.id}`, { headers });
    expect(got.status).toBe(200);
    await got.arrayBuffer();

    // Two wrangler processes, one --persist-to: the edge knows this playback ID exists (it is just not
    // ready), whereas an unknown one is unknown. Same status, different reasons.
    const known = await fetch(`${s.edgeUrl}/${asset.playback_ids[0].id}.m3u8`);
    const unknown = await fetch(`${s.edgeUrl}/pb_${"0".repeat(26)}.m3u8`);
    const [knownBody, unknownBody] = [await known.text(), await unknown.text()];
    expect(known.status).toBeLessThan(500);
    expect(unknown.status).toBe(404);
    expect(knownBody).not.toEqual(unknownBody);

    // Cron is driven by the stack (wrangler dev does not fire it); the handler answers.
    const cron = await fetch(`${s.apiUrl}/cdn-cgi/handler/scheduled`);
    expect(cron.status).toBe(200);
    await cron.arrayBuffer();
  });

  it("stop() leaves no processes and frees the ports", async () => {
    const s = stack as Stack;
    const pids = s.services.map((x) => x.child.pid as number);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    await s.stop();
    stack = undefined;
    for (const pid of pids) expect(groupAlive(pid), `process group ${pid}`).toBe(false);
    await expect(fetch(`${s.apiUrl}/v1/health`)).rejects.toThrow();
    await expect(fetch(`${s.edgeUrl}/health`)).rejects.toThrow();
  });
});
