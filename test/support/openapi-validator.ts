/**
 * @seriousme/openapi-schema-validator, made to run inside workerd: the library reads its JSON Schema
 * from disk with readFileSync, which workerd cannot; here the same schema file is bundled by import and
 * compiled the way the library compiles it. Validation (schema + $ref checks) is the library's own code.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import schema31 from "@seriousme/openapi-schema-validator/schemas/v3.1/schema.json";
import Ajv2020 from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

const addFormats = ((addFormatsModule as any).default ?? addFormatsModule) as (ajv: unknown) => void;

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
