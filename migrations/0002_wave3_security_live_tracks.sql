CREATE TABLE `asset_tracks` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`asset_id` text NOT NULL,
	`type` text NOT NULL,
	`text_type` text NOT NULL,
	`status` text NOT NULL,
	`language_code` text NOT NULL,
	`name` text NOT NULL,
	`closed_captions` integer DEFAULT false NOT NULL,
	`is_default` integer DEFAULT false NOT NULL,
	`source_kind` text NOT NULL,
	`source_url` text,
	`details` text,
	`error` text,
	`correlation_id` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`ready_at` text,
	`deleted_at` text
);
--> statement-breakpoint
CREATE INDEX `asset_tracks_asset` ON `asset_tracks` (`asset_id`,`id`);--> statement-breakpoint
CREATE INDEX `asset_tracks_env` ON `asset_tracks` (`environment_id`,`id`);--> statement-breakpoint
CREATE TABLE `live_streams` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`status` text NOT NULL,
	`connection` text DEFAULT 'disconnected' NOT NULL,
	`stream_key_hash` text NOT NULL,
	`latency_mode` text NOT NULL,
	`reconnect_window_s` integer NOT NULL,
	`max_continuous_duration_s` integer NOT NULL,
	`dvr_window_s` integer DEFAULT 0 NOT NULL,
	`recording` text NOT NULL,
	`passthrough` text,
	`correlation_id` text,
	`active_asset_id` text,
	`recent_asset_ids` text DEFAULT '[]' NOT NULL,
	`connected_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`deleted_at` text
);
--> statement-breakpoint
CREATE INDEX `live_streams_env_id` ON `live_streams` (`environment_id`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `live_streams_key_hash` ON `live_streams` (`stream_key_hash`);--> statement-breakpoint
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
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_idempotency_records` (
	`environment_id` text NOT NULL,
	`api_key_id` text NOT NULL,
	`key` text NOT NULL,
	`method` text NOT NULL,
	`path` text NOT NULL,
	`body_hash` text NOT NULL,
	`status` text NOT NULL,
	`response_status` integer,
	`response_body` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`expires_at` text NOT NULL,
	PRIMARY KEY(`environment_id`, `api_key_id`, `key`)
);
--> statement-breakpoint
-- Old records are not copied: they belong to no API key, and some hold one-time secrets (issue 10).
DROP TABLE `idempotency_records`;--> statement-breakpoint
ALTER TABLE `__new_idempotency_records` RENAME TO `idempotency_records`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `idempotency_expires` ON `idempotency_records` (`expires_at`);--> statement-breakpoint
ALTER TABLE `audit_log` ADD `client_request_id` text;--> statement-breakpoint
ALTER TABLE `uploads` ADD `claimed_by` text;--> statement-breakpoint
CREATE INDEX `playback_ids_live_stream` ON `playback_ids` (`live_stream_id`);