/**
 * vitest globalSetup (Node side) for the workers project: starts the webhook receiver and provides
 * its URL, which vitest.config.ts hands to the worker as the WEBHOOK_RECEIVER_URL binding.
 */
import type { TestProject } from "vitest/node";
import { startWebhookReceiver } from "./webhook-receiver";

declare module "vitest" {
  export interface ProvidedContext {
    webhookReceiverUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const receiver = await startWebhookReceiver();
  project.provide("webhookReceiverUrl", receiver.url);
  return () => receiver.close();
}
