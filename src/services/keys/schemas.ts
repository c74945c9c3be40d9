import { z } from "@hono/zod-openapi";
import { idPattern } from "../../lib/ids";
import { SCOPES } from "../../lib/scopes";

export const KeyIdSchema = z
  .string()
  .regex(idPattern("apiKey"), "must be an API key ID (key_…)")
  .openapi({ param: { name: "key_id", in: "path" } });

export const CreateKeySchema = z
  .object({
    name: z.string().min(1).max(128),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
  })
  .strict()
  .openapi("CreateKeyRequest");
export type CreateKeyInput = z.infer<typeof CreateKeySchema>;

export const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.string()),
    secret_prefix: z.string(),
    environment_id: z.string(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
  })
  .openapi("ApiKey");

export const CreatedApiKeySchema = ApiKeySchema.extend({
  secret: z.string().openapi({ description: "The key secret, shown once. Store it now." }),
}).openapi("CreatedApiKey");
