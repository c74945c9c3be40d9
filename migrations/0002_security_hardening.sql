CREATE TABLE `pending_deletions` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`resource_type` text NOT NULL,
	`resource_id` text NOT NULL,
	`prefix` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`next_attempt_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `pending_deletions_prefix` ON `pending_deletions` (`prefix`);--> statement-breakpoint
CREATE INDEX `pending_deletions_next` ON `pending_deletions` (`next_attempt_at`);--> statement-breakpoint
ALTER TABLE `audit_log` ADD `client_request_id` text;