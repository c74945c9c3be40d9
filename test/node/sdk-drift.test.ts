/**
 * The SDK's generated client matches the API: regenerating from the document the worker's code serves
 * (in memory, `sdk:generate --check`) reproduces the committed files, and a changed document is caught.
 * Also: the document lints clean with redocly's recommended rules (redocly.yaml).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = path.join(import.meta.dirname, "../..");
const tsx = path.join(ROOT, "node_modules/.bin/tsx");
let dir: string;
let docFile: string;

const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", timeout: 120_000 });

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "keyframe-openapi-"));
  docFile = path.join(dir, "openapi.json");
  const out = run(tsx, ["scripts/openapi.ts", "--out", docFile]);
  expect(out.status, out.stderr).toBe(0);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("generated SDK client", () => {
  it("is up to date with the worker's OpenAPI document", () => {
    const res = run(tsx, ["sdk/scripts/generate.ts", "--check", "--from", docFile]);
    expect(res.status, `${res.stderr}\nRun \`npm run sdk:generate\` and commit the result.`).toBe(0);
  });

  it("is reported stale when the document changes", () => {
    const doc = JSON.parse(readFileSync(docFile, "utf8"));
    doc.paths["/v1/assets"].get.parameters.push({ name: "added_filter", in: "query", schema: { type: "string" } });
    const changed = path.join(dir, "changed.json");
    writeFileSync(changed, JSON.stringify(doc));
    const res = run(tsx, ["sdk/scripts/generate.ts", "--check", "--from", changed]);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain("openapi.ts is out of date");
    expect(res.stderr).toContain("operations.ts is out of date");
  });
});

describe("redocly lint (recommended rules, redocly.yaml)", () => {
  it("reports no errors and no warnings", () => {
    const res = run(path.join(ROOT, "node_modules/.bin/redocly"), [
      "lint",
      docFile,
      "--config",
      "redocly.yaml",
      "--format=json",
    ]);
    const report = JSON.parse(res.stdout.slice(res.stdout.indexOf("{")));
    expect(report.problems, JSON.stringify(report.problems, null, 2).slice(0, 3000)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect(res.status).toBe(0);
  });

  it("would catch an operation without security or operationId", () => {
    const doc = JSON.parse(readFileSync(docFile, "utf8"));
    delete doc.paths["/v1/assets"].get.operationId;
    delete doc.paths["/v1/assets"].get.security;
    doc.security = undefined;
    const broken = path.join(dir, "broken.json");
    writeFileSync(broken, JSON.stringify(doc));
    const res = run(path.join(ROOT, "node_modules/.bin/redocly"), [
      "lint",
      broken,
      "--config",
      "redocly.yaml",
      "--format=json",
    ]);
    const report = JSON.parse(res.stdout.slice(res.stdout.indexOf("{")));
    const rules = report.problems.map((p: { ruleId: string }) => p.ruleId);
    expect(rules).toContain("security-defined");
    expect(rules).toContain("operation-operationId");
    expect(res.status).not.toBe(0);
  });
});
