-- Webhook delivery retry chains: a manual retry of a failed delivery starts a fresh schedule,
-- so the schedule position is `attempts - attempt_base`.
ALTER TABLE `webhook_deliveries` ADD `attempt_base` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_next_attempt` ON `webhook_deliveries` (`status`,`next_attempt_at`);
--> statement-breakpoint
CREATE INDEX `audit_env_resource` ON `audit_log` (`environment_id`,`resource_id`,`id`);
