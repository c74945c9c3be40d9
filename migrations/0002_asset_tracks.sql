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
CREATE INDEX `asset_tracks_env` ON `asset_tracks` (`environment_id`,`id`);