/**
 * @seriousme/openapi-schema-validator, made to run inside workerd: the library reads its JSON Schema
 * from disk with readFileSync, which workerd cannot; here the same schema file is bundled by import and
 * compiled the way the library compiles it. Validation (schema + $ref checks) is the library's own code.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import schema31 from "@seriousme/openapi-schema-validator/schemas/v3.1/schema.json";
import Ajv2020 from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

// CommonJS under ESM: the plugin is the module itself or its `default`, depending on the loader.
const addFormats = ((addFormatsModule as { default?: unknown }).default ?? addFormatsModule) as (ajv: unknown) => void;

class BundledValidator extends Validator {
  getAjvValidator(version: string) {
    if (version !== "3.1") throw new Error(`only OpenAPI 3.1 is bundled, got ${version}`);
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addFormat("media-range", true); // as the library does for 3.1
    return ajv.compile(schema31 as object);
  }
}

export async function validateOpenApi31(doc: unknown) {
  return new BundledValidator().validate(doc as Parameters<Validator["validate"]>[0]);
}

/**
 * Validates payloads against the document's `webhooks`: `validate(type, payload)` checks a delivered
 * body against `webhooks[type].post.requestBody` (its $refs resolved in the same document) and returns
 * the errors (none = valid). Same Ajv (2020-12) and formats as the document validator above.
 */
export function webhookPayloadValidator(doc: { webhooks?: Record<string, unknown> }) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, "openapi.json", undefined, false);
  return (type: string, payload: unknown): string[] => {
    if (!doc.webhooks?.[type]) return [`the document has no webhook '${type}'`];
    const ref = `openapi.json#/webhooks/${encodeURIComponent(type)}/post/requestBody/content/application~1json/schema`;
    const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
    if (validate(payload)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword}`);
  };
}
