/**
 * A Vitest reporter for scripts/test.ts: appends one JSON line per event to $KEYFRAME_TEST_PROGRESS, so
 * the watchdog can tell a long test from a stalled run, and which files had finished when it stalled.
 * Without that variable it does nothing.
 */
import { appendFileSync } from "node:fs";
import path from "node:path";
import type { Reporter, TestModule, TestSpecification } from "vitest/node";

export interface ProgressLine {
  event: "run" | "start" | "end" | "case" | "hook";
  /** Module path relative to the working directory (what `vitest run <filter>` takes). */
  file?: string;
  files?: string[];
  state?: string;
}

const target = process.env.KEYFRAME_TEST_PROGRESS;

function write(line: ProgressLine): void {
  if (target) appendFileSync(target, `${JSON.stringify(line)}\n`);
}

const rel = (moduleId: string) => path.relative(process.cwd(), moduleId);

export default class ProgressReporter implements Reporter {
  onTestRunStart(specifications: ReadonlyArray<TestSpecification>) {
    write({ event: "run", files: [...new Set(specifications.map((s) => rel(s.moduleId)))] });
  }
  onTestModuleStart(module: TestModule) {
    write({ event: "start", file: rel(module.moduleId) });
  }
  onTestModuleEnd(module: TestModule) {
    write({ event: "end", file: rel(module.moduleId), state: module.state() });
  }
  onTestCaseResult() {
    write({ event: "case" });
  }
  onHookEnd() {
    write({ event: "hook" });
  }
}
