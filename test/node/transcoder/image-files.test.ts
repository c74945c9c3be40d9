/**
 * The transcoder image holds every file the transcoder runs. It imports contracts from src/ (protocols,
 * signing, problem+json…); the image gets them only if .dockerignore lets them into the build context and
 * the Dockerfile copies them. Both lists were kept by hand and went stale: seven imported files were missing
 * from the context, so the production image could not build. No Docker here, so this walks the imports
 * itself (every runtime import, transitively, from transcoder/src) and checks both lists.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../../scripts/lib/wrangler";

const rel = (file: string) => path.relative(ROOT, file).split(path.sep).join("/");

/** Relative runtime imports of a TypeScript file (`import type` and `export type` need no file at run time). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s+(type\s+)?(?:[^;]*?\sfrom\s+)?"(\.{1,2}\/[^"]+)"/g)) {
    if (!m[1]) out.push(m[2] as string);
  }
  for (const m of text.matchAll(/import\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g)) out.push(m[1] as string);
  return out;
}

function resolveImport(from: string, spec: string): string {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, ".ts"), `${base}.ts`, path.join(base, "index.ts"), base]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${rel(from)} imports ${spec}, which does not resolve`);
}

/** Every file outside transcoder/src that transcoder/src needs at run time. */
function importedFromOutside(): string[] {
  const srcDir = path.join(ROOT, "transcoder", "src");
  const seen = new Set<string>();
  const queue: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (p.endsWith(".ts")) queue.push(p);
    }
  };
  walk(srcDir);
  while (queue.length) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of runtimeImports(file)) queue.push(resolveImport(file, spec));
  }
  return [...seen]
    .filter((f) => !f.startsWith(`${srcDir}${path.sep}`))
    .map(rel)
    .sort();
}

/** Whether .dockerignore (`**` then `!path` or `!dir/**` re-includes) lets `file` into the context. */
function inContext(file: string, rules: string[]): boolean {
  let included = true;
  for (const rule of rules) {
    const negated = rule.startsWith("!");
    const pattern = negated ? rule.slice(1) : rule;
    const matches =
      pattern === "**" || pattern === file || (pattern.endsWith("/**") && file.startsWith(pattern.slice(0, -2)));
    if (matches) included = negated;
  }
  return included;
}

/** Whether a `COPY src… dest` line of the Dockerfile copies `file` (as itself or inside a copied folder). */
function copied(file: string, dockerfile: string): boolean {
  return dockerfile
    .split("\n")
    .filter((line) => /^COPY\s/.test(line) && !line.includes("--from"))
    .some((line) => {
      const sources = line.trim().split(/\s+/).slice(1, -1);
      return sources.some((s) => s === file || file.startsWith(`${s.replace(/\/$/, "")}/`));
    });
}

describe("the transcoder image's files", () => {
  const outside = importedFromOutside();
  const rules = readFileSync(path.join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const dockerfile = readFileSync(path.join(ROOT, "transcoder", "Dockerfile"), "utf8");

  it("finds what the transcoder imports from the rest of the repo", () => {
    // The walk itself works: these are known runtime imports (the signer, problem+json, the live codecs).
    expect(outside).toEqual(
      expect.arrayContaining(["src/lib/transcoder-auth.ts", "src/lib/problem.ts", "src/live/codecs.ts"]),
    );
    expect(outside.every((f) => !f.startsWith("node_modules/"))).toBe(true);
  });

  it("lets every one of them into the build context and copies it into the image", () => {
    expect(outside.filter((f) => !inContext(f, rules))).toEqual([]);
    expect(outside.filter((f) => !copied(f, dockerfile))).toEqual([]);
    expect(inContext("transcoder/src/server.ts", rules) && copied("transcoder/src/server.ts", dockerfile)).toBe(true);
  });

  it("keeps secrets and local state out of the context", () => {
    for (const file of [".dev.vars", ".wrangler/state/v3/d1/db.sqlite", "node_modules/zod/package.json", ".git/HEAD"]) {
      expect(inContext(file, rules), file).toBe(false);
    }
  });
});
