/**
 * The upload byte endpoints (tus, the one-time PUT) as the OpenAPI document describes them, checked
 * against the real worker. They declare `security: []` (the URL token is their authority), so
 * auth-cases.ts skips them; here every such operation proves its token refusal (or, for discovery, its
 * answer), and a short walk through the other documented statuses checks that each answer is one the
 * operation documents: its status, the headers it marks required (and their const values), and its
 * content type.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { uploadUrlToken } from "../../src/services/uploads/verbs";
import { TUS_MAX_SIZE } from "../../src/upload-session/tus-protocol";
import {
  type Body,
  deref,
  fillPath,
  isUrlTokenOperation,
  type Json,
  listOperations,
  type Operation,
  URL_TOKEN_OPERATIONS,
} from "../support/openapi-ops";
import { expectProblem } from "../support/problem";
import { api, createKey, type TestKey } from "./factories";

const doc: Json = await (await SELF.fetch("http://keyframe.test/v1/openapi.json")).json();
const label = (o: { method: string; path: string }) => `${o.method} ${o.path}`;
const tokenOps = listOperations(doc).filter(isUrlTokenOperation);

function op(name: string): Operation {
  const found = tokenOps.find((o) => label(o) === name);
  if (!found) throw new Error(`${name} is not a documented URL-token operation`);
  return found;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: Body;
}

interface Send {
  uploadId?: string;
  /** undefined: no `token` query parameter at all. */
  token?: string;
  headers?: Record<string, string>;
  body?: BodyInit;
}

async function send(o: Operation, { uploadId, token, headers = {}, body }: Send = {}): Promise<Answer> {
  const path = fillPath(doc, o, uploadId ? { upload_id: uploadId } : {});
  const query = token === undefined ? "" : `?token=${encodeURIComponent(token)}`;
  const res = await SELF.fetch(`http://keyframe.test${path}${query}`, { method: o.method, headers, body });
  const text = await res.text();
  let parsed: Body = {};
  if (text && (res.headers.get("content-type") ?? "").includes("json")) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** The answer is `status`, and the operation documents exactly that answer. */
function expectDocumented(o: Operation, res: Answer, status: number, code?: string) {
  const name = `${label(o)} → ${status}`;
  expect(res.status, `${name} (got ${res.text.slice(0, 300)})`).toBe(status);
  const documented: Json | undefined = o.operation.responses?.[String(status)];
  expect(documented, `${name} is documented`).toBeTruthy();
  for (const [header, node] of Object.entries<Json>(documented?.headers ?? {})) {
    const h = deref(doc, node);
    const value = res.headers.get(header);
    if (h.required) expect(value, `${name} sends required header ${header}`).not.toBeNull();
    if (value === null) continue;
    const schema = deref(doc, h.schema ?? {});
    if (schema.const !== undefined) expect(value, `${name} ${header}`).toBe(schema.const);
    if (schema.type === "integer") expect(value, `${name} ${header}`).toMatch(/^\d+$/);
  }
  const types = Object.keys(documented?.content ?? {});
  if (status >= 400) {
    // HEAD answers keep the problem's Content-Type but, as HTTP says, no body.
    expect(res.headers.get("content-type"), `${name} content-type`).toContain("application/problem+json");
    if (o.method === "HEAD") expect(res.text, `${name} has no body`).toBe("");
    else {
      expect(types).toEqual(["application/problem+json"]);
      expectProblem(res, status, code, name);
    }
  } else if (types.length === 0) {
    expect(res.text, `${name} has no body`).toBe("");
  } else {
    expect(types, `${name} content type`).toContain(res.headers.get("content-type")?.split(";")[0]);
  }
}

/** The smallest request that would be accepted but for its token: so the token is what refuses it. */
function wellFormed(o: Operation): Pick<Send, "headers" | "body"> {
  const tus: Record<string, string> =
    o.path.startsWith("/tus") && o.method !== "OPTIONS" ? { "Tus-Resumable": "1.0.0" } : {};
  switch (label(o)) {
    case "PATCH /tus/{upload_id}":
      return {
        headers: { ...tus, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0" },
        body: new Uint8Array([1, 2, 3]),
      };
    case "POST /tus/{upload_id}":
      return { headers: { ...tus, "Upload-Length": "10" } };
    case "PUT /uploads/{upload_id}":
      return { headers: { "Content-Type": "video/mp4" }, body: new Uint8Array(16) };
    default:
      return { headers: tus };
  }
}

let key: TestKey;

async function newUpload(body: Body = {}): Promise<{ id: string; token: string }> {
  const res = await api(key, "POST", "/v1/uploads", body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const id = res.body.id as string;
  const token = new URL(res.body.tus_url as string).searchParams.get("token") as string;
  expect(token).toBe(await uploadUrlToken(env, id));
  return { id, token };
}

beforeAll(async () => {
  key = await createKey(["*"]);
});

describe("URL-token operations in the document", () => {
  it("are the tus and one-time PUT endpoints", () => {
    expect(tokenOps.map(label).sort()).toEqual([...URL_TOKEN_OPERATIONS].sort());
  });

  it.each(tokenOps.map((o) => [label(o), o] as const))(
    "%s: no token, or another upload's token, gets the documented answer",
    async (_name, o) => {
      const mine = await newUpload();
      const other = await newUpload();
      const refuses = "401" in (o.operation.responses ?? {});
      for (const token of [undefined, other.token]) {
        const res = await send(o, { uploadId: mine.id, token, ...wellFormed(o) });
        if (refuses) expectDocumented(o, res, 401, "unauthenticated");
        else {
          // Discovery is never refused: a bad token only means the generic limits.
          expectDocumented(o, res, 204);
          expect(res.headers.get("tus-max-size")).toBe(String(TUS_MAX_SIZE));
        }
      }
    },
  );
});

describe("documented answers with a valid token", () => {
  it("tus: discovery, version gate, creation, offsets, conflicts, termination", async () => {
    const up = await newUpload({ max_size_bytes: 1000 });
    const withToken = (s: Send = {}) => ({ uploadId: up.id, token: up.token, ...s });
    const tus = { "Tus-Resumable": "1.0.0" };

    const discovery = await send(op("OPTIONS /tus/{upload_id}"), withToken());
    expectDocumented(op("OPTIONS /tus/{upload_id}"), discovery, 204);
    expect(discovery.headers.get("tus-max-size"), "the upload's own limit").toBe("1000");
    expectDocumented(op("OPTIONS /tus"), await send(op("OPTIONS /tus")), 204);

    for (const name of ["HEAD", "PATCH", "POST", "DELETE"]) {
      const o = op(`${name} /tus/{upload_id}`);
      const res = await send(o, withToken({ headers: { "Tus-Resumable": "0.2.2" } }));
      expectDocumented(o, res, 412, "precondition_failed");
      expect(res.headers.get("tus-version")).toBe("1.0.0");
    }

    const PATCH = op("PATCH /tus/{upload_id}");
    expectDocumented(
      PATCH,
      await send(
        PATCH,
        withToken({ headers: { ...tus, "Content-Type": "text/plain", "Upload-Offset": "0" }, body: "x" }),
      ),
      415,
      "unsupported_media_type",
    );

    const POST = op("POST /tus/{upload_id}");
    expectDocumented(
      POST,
      await send(POST, withToken({ headers: { ...tus, "Upload-Length": "2000" } })),
      413,
      "payload_too_large",
    );
    expectDocumented(
      POST,
      await send(POST, withToken({ headers: { ...tus, "X-HTTP-Method-Override": "GET" } })),
      405,
      "method_not_allowed",
    );
    const created = await send(POST, withToken({ headers: { ...tus, "Upload-Length": "10" } }));
    expectDocumented(POST, created, 201);
    expect(created.headers.get("location")).toContain(`/tus/${up.id}?token=`);

    const HEAD = op("HEAD /tus/{upload_id}");
    const h = await send(HEAD, withToken({ headers: tus }));
    expectDocumented(HEAD, h, 200);
    expect([h.headers.get("upload-offset"), h.headers.get("upload-length")]).toEqual(["0", "10"]);

    const octets = { ...tus, "Content-Type": "application/offset+octet-stream" };
    const wrongOffset = await send(
      PATCH,
      withToken({ headers: { ...octets, "Upload-Offset": "5" }, body: new Uint8Array(2) }),
    );
    expectDocumented(PATCH, wrongOffset, 409, "conflict");
    expect(wrongOffset.headers.get("upload-offset")).toBe("0");
    const badSum = await send(
      PATCH,
      withToken({
        headers: { ...octets, "Upload-Offset": "0", "Upload-Checksum": `sha1 ${btoa("x".repeat(20))}` },
        body: new Uint8Array(4),
      }),
    );
    expectDocumented(PATCH, badSum, 460, "checksum_mismatch");
    const appended = await send(
      PATCH,
      withToken({ headers: { ...octets, "Upload-Offset": "0" }, body: new Uint8Array(4) }),
    );
    expectDocumented(PATCH, appended, 204);
    expect(appended.headers.get("upload-offset")).toBe("4");

    const DELETE = op("DELETE /tus/{upload_id}");
    expectDocumented(DELETE, await send(DELETE, withToken({ headers: tus })), 204);
    expectDocumented(HEAD, await send(HEAD, withToken({ headers: tus })), 410);
    expectDocumented(
      PATCH,
      await send(PATCH, withToken({ headers: { ...octets, "Upload-Offset": "4" }, body: new Uint8Array(1) })),
      410,
      "gone",
    );
  });

  it("PUT: refusals, the stored file, then conflict; and its CORS preflight", async () => {
    const PUT = op("PUT /uploads/{upload_id}");
    const OPTIONS = op("OPTIONS /uploads/{upload_id}");
    const up = await newUpload({ allowed_content_types: ["video/*"], cors_origin: "https://app.example.com" });
    const withToken = (s: Send = {}) => ({ uploadId: up.id, token: up.token, ...s });

    expectDocumented(
      PUT,
      await send(PUT, { uploadId: `up_${"0".repeat(26)}`, token: up.token, ...wellFormed(PUT) }),
      401,
      "unauthenticated",
    );
    const empty = await send(PUT, withToken({ headers: { "Content-Type": "video/mp4" }, body: new Uint8Array(0) }));
    expectDocumented(PUT, empty, 400, "bad_request");
    expectDocumented(
      PUT,
      await send(PUT, withToken({ headers: { "Content-Type": "text/plain" }, body: "not a video" })),
      415,
      "unsupported_media_type",
    );
    const stored = await send(
      PUT,
      withToken({
        headers: { "Content-Type": "video/mp4", Origin: "https://app.example.com" },
        body: new Uint8Array(64),
      }),
    );
    expectDocumented(PUT, stored, 200);
    expect(stored.body).toMatchObject({ upload_id: up.id, asset_id: expect.stringMatching(/^as_/) });
    expect(stored.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expectDocumented(PUT, await send(PUT, withToken(wellFormed(PUT))), 409, "conflict");

    const preflight = await send(
      OPTIONS,
      withToken({ headers: { Origin: "https://app.example.com", "Access-Control-Request-Method": "PUT" } }),
    );
    expectDocumented(OPTIONS, preflight, 204);
    expect(preflight.headers.get("access-control-allow-methods")).toBe("PUT, OPTIONS");
  });
});
