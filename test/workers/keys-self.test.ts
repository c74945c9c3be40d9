import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { expectProblem } from "../support/problem";
import { api, createKey, revokeKeyDirect } from "./factories";

describe("GET /v1/keys/self", () => {
  it("describes the calling key with any scope, never its secret", async () => {
    const reader = await createKey(["events:read"]);
    const res = await api(reader, "GET", "/v1/keys/self");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: reader.keyId,
      environment_id: reader.environmentId,
      scopes: ["events:read"],
      secret_prefix: reader.secret.slice(0, 10),
      revoked_at: null,
    });
    expect(JSON.stringify(res.body)).not.toContain(reader.secret);
    expect(res.body.secret).toBeUndefined();

    const admin = await createKey(["*"]);
    const adminRes = await api(admin, "GET", "/v1/keys/self");
    expect(adminRes.body).toMatchObject({ id: admin.keyId, scopes: ["*"] });
  });

  it("refuses missing, unknown and revoked keys with 401", async () => {
    const res = await SELF.fetch("http://keyframe.test/v1/keys/self");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "unauthenticated" });
    expectProblem(await api(`kf_${"A".repeat(43)}`, "GET", "/v1/keys/self"), 401, "unauthenticated");
    const gone = await createKey(["assets:read"]);
    await revokeKeyDirect(gone.keyId);
    expectProblem(await api(gone, "GET", "/v1/keys/self"), 401, "unauthenticated");
  });

  it("is documented with an API key and no scope", async () => {
    // The parts of the served document this test reads.
    const doc = (await (await SELF.fetch("http://keyframe.test/v1/openapi.json")).json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            security?: unknown;
            "x-keyframe-scope"?: string;
            responses: Record<string, { content: Record<string, { schema: { $ref?: string } }> }>;
          }
        >
      >;
    };
    const op = doc.paths["/v1/keys/self"].get;
    expect(op.security).toEqual([{ ApiKey: [] }]);
    expect(op["x-keyframe-scope"]).toBeUndefined();
    expect(op.responses["200"].content["application/json"].schema.$ref).toBe("#/components/schemas/ApiKey");
  });
});
