/**
 * Prints (or writes with --out FILE) the API worker's OpenAPI document, built from the worker's code in
 * Node (scripts/lib/openapi-document.ts). `--origin` sets servers[0].url (default http://127.0.0.1:8787).
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { buildOpenApiDocument } from "./lib/openapi-document";

const { values } = parseArgs({ options: { out: { type: "string" }, origin: { type: "string" } } });
const doc = await buildOpenApiDocument(values.origin);
const text = `${JSON.stringify(doc, null, 2)}\n`;
if (values.out) writeFileSync(values.out, text);
else process.stdout.write(text);
