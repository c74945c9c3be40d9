/** Assertions shared by route tests: a failure is RFC 9457 problem+json with our closed code and a request ID. */
import { expect } from "vitest";
import type { Problem } from "./api-types";

export interface ApiResult {
  status: number;
  body: unknown;
  headers: Headers;
}

/** Asserts `res` is our problem document and returns its body, typed, for the test's further checks. */
export function expectProblem(res: ApiResult, status: number, code?: string, context = ""): Problem {
  const where = context ? `${context}: ` : "";
  // Each field is checked before the body is trusted as a Problem.
  const body = (res.body ?? {}) as { [K in keyof Problem]?: unknown };
  expect(res.status, `${where}status (body ${JSON.stringify(res.body).slice(0, 300)})`).toBe(status);
  expect(res.headers.get("content-type"), `${where}content-type`).toContain("application/problem+json");
  if (code) expect(body.code, `${where}code`).toBe(code);
  expect(body.status, `${where}body.status`).toBe(status);
  expect(typeof body.title, `${where}title`).toBe("string");
  expect(typeof body.detail, `${where}detail`).toBe("string");
  expect(body.type, `${where}type`).toMatch(/^https:\/\/keyframe\.dev\/errors\//);
  expect(Array.isArray(body.errors), `${where}errors[]`).toBe(true);
  expect(body.request_id, `${where}request_id`).toBeTruthy();
  expect(res.headers.get("x-request-id"), `${where}X-Request-Id matches body`).toBe(body.request_id);
  expect(JSON.stringify(res.body), `${where}no stack traces`).not.toMatch(/\bat .+\(.*:\d+:\d+\)/);
  return res.body as Problem;
}
