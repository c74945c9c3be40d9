CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`name` text NOT NULL,
	`secret_prefix` text NOT NULL,
	`secret_hash` text NOT NULL,
	`scopes` text NOT NULL,
	`created_by_key_id` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`last_used_at` text,
	`revoked_at` text,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_secret_hash` ON `api_keys` (`secret_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_env` ON `api_keys` (`environment_id`);--> statement-breakpoint
CREATE TABLE `assets` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`status` text NOT NULL,
	`title` text,
	`description` text,
	`tags` text DEFAULT '[]' NOT NULL,
	`external_id` text,
	`metadata` text DEFAULT '{}' NOT NULL,
	`passthrough` text,
	`correlation_id` text,
	`playback_policy` text,
	`max_resolution` text DEFAULT '1080p' NOT NULL,
	`upload_id` text,
	`input_url` text,
	`source_key` text,
	`duration_ms` integer,
	`aspect_ratio` text,
	`resolution` text,
	`max_frame_rate` text,
	`tracks` text,
	`renditions` text,
	`renditions_status` text,
	`source` text,
	`progress` text,
	`error` text,
	`current_run_id` text,
	`has_poster` integer DEFAULT false NOT NULL,
	`has_storyboard` integer DEFAULT false NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`ready_at` text,
	`deleted_at` text
);
--> statement-breakpoint
CREATE INDEX `assets_env_id` ON `assets` (`environment_id`,`id`);--> statement-breakpoint
CREATE INDEX `assets_env_status` ON `assets` (`environment_id`,`status`);--> statement-breakpoint
CREATE UNIQUE INDEX `assets_upload` ON `assets` (`upload_id`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`key_id` text,
	`action` text NOT NULL,
	`resource_type` text NOT NULL,
	`resource_id` text NOT NULL,
	`request_id` text,
	`details` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_env_id` ON `audit_log` (`environment_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_env_resource` ON `audit_log` (`environment_id`,`resource_id`,`id`);--> statement-breakpoint
CREATE TABLE `environments` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `events` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`type` text NOT NULL,
	`subject_id` text NOT NULL,
	`asset_id` text,
	`upload_id` text,
	`correlation_id` text,
	`api_version` text DEFAULT '2026-11-01' NOT NULL,
	`data` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`dispatched_at` text
);
--> statement-breakpoint
CREATE INDEX `events_env_id` ON `events` (`environment_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_env_seq` ON `events` (`environment_id`);--> statement-breakpoint
CREATE INDEX `events_subject` ON `events` (`subject_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_asset` ON `events` (`asset_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_undispatched` ON `events` (`dispatched_at`,`id`);--> statement-breakpoint
CREATE TABLE `idempotency_records` (
	`environment_id` text NOT NULL,
	`key` text NOT NULL,
	`method` text NOT NULL,
	`path` text NOT NULL,
	`body_hash` text NOT NULL,
	`status` text NOT NULL,
	`response_status` integer,
	`response_body` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`expires_at` text NOT NULL,
	PRIMARY KEY(`environment_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_expires` ON `idempotency_records` (`expires_at`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`asset_id` text NOT NULL,
	`kind` text DEFAULT 'vod' NOT NULL,
	`status` text NOT NULL,
	`attempt` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer DEFAULT 5 NOT NULL,
	`settings` text NOT NULL,
	`stage` text,
	`percent` integer,
	`error` text,
	`correlation_id` text,
	`last_heartbeat_at` text,
	`dispatched_at` text,
	`started_at` text,
	`finished_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `jobs_asset` ON `jobs` (`asset_id`);--> statement-breakpoint
CREATE INDEX `jobs_status_heartbeat` ON `jobs` (`status`,`last_heartbeat_at`);--> statement-breakpoint
CREATE TABLE `playback_ids` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`asset_id` text,
	`live_stream_id` text,
	`policy` text NOT NULL,
	`allowed_origins` text DEFAULT '[]' NOT NULL,
	`allow_no_referrer` integer DEFAULT true NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`deleted_at` text
);
--> statement-breakpoint
CREATE INDEX `playback_ids_asset` ON `playback_ids` (`asset_id`);--> statement-breakpoint
CREATE INDEX `playback_ids_env` ON `playback_ids` (`environment_id`,`id`);--> statement-breakpoint
CREATE TABLE `signing_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`public_jwk` text NOT NULL,
	`kind` text DEFAULT 'user' NOT NULL,
	`private_jwk_enc` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`revoked_at` text
);
--> statement-breakpoint
CREATE INDEX `signing_keys_env` ON `signing_keys` (`environment_id`,`id`);--> statement-breakpoint
CREATE INDEX `signing_keys_env_kind` ON `signing_keys` (`environment_id`,`kind`);--> statement-breakpoint
CREATE TABLE `uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`status` text NOT NULL,
	`asset_id` text,
	`new_asset_settings` text DEFAULT '{}' NOT NULL,
	`cors_origin` text,
	`max_size_bytes` integer,
	`max_duration_seconds` integer,
	`allowed_content_types` text,
	`size` integer,
	`bytes_received` integer DEFAULT 0 NOT NULL,
	`content_type` text,
	`source_key` text,
	`correlation_id` text,
	`error` text,
	`expires_at` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`completed_at` text
);
--> statement-breakpoint
CREATE INDEX `uploads_env_id` ON `uploads` (`environment_id`,`id`);--> statement-breakpoint
CREATE INDEX `uploads_status_expires` ON `uploads` (`status`,`expires_at`);--> statement-breakpoint
CREATE TABLE `webhook_attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`delivery_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`status_code` integer,
	`latency_ms` integer,
	`response_excerpt` text,
	`error` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_attempts_delivery` ON `webhook_attempts` (`delivery_id`,`attempt`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`endpoint_id` text NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`attempt_base` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` text,
	`last_status_code` integer,
	`last_error` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`succeeded_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_deliveries_endpoint_event` ON `webhook_deliveries` (`endpoint_id`,`event_id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_env_status` ON `webhook_deliveries` (`environment_id`,`status`,`id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_event` ON `webhook_deliveries` (`event_id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_next_attempt` ON `webhook_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `webhook_endpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`url` text NOT NULL,
	`description` text,
	`enabled` integer DEFAULT true NOT NULL,
	`disabled_reason` text,
	`event_types` text DEFAULT '[]' NOT NULL,
	`secret` text NOT NULL,
	`previous_secret` text,
	`previous_secret_expires_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`deleted_at` text
);
--> statement-breakpoint
CREATE INDEX `webhook_endpoints_env` ON `webhook_endpoints` (`environment_id`,`id`);