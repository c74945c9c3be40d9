#!/usr/bin/env node
// `keyframe` (npx keyframe …): the CLI is TypeScript (sdk/cli/main.ts), run through tsx's loader so the
// repo needs no build step.
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
