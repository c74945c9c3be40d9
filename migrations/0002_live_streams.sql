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
CREATE INDEX `playback_ids_live_stream` ON `playback_ids` (`live_stream_id`);