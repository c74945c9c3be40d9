-- Dubbed audio tracks (issue 16): asset_tracks.type gains 'audio', whose rows have no text_type.
-- SQLite cannot drop NOT NULL in place: rebuild the table, keeping every row and both indexes.
CREATE TABLE `__new_asset_tracks` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`asset_id` text NOT NULL,
	`type` text NOT NULL,
	`text_type` text,
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
INSERT INTO `__new_asset_tracks` (`id`, `environment_id`, `asset_id`, `type`, `text_type`, `status`, `language_code`, `name`, `closed_captions`, `is_default`, `source_kind`, `source_url`, `details`, `error`, `correlation_id`, `created_at`, `updated_at`, `ready_at`, `deleted_at`) SELECT `id`, `environment_id`, `asset_id`, `type`, `text_type`, `status`, `language_code`, `name`, `closed_captions`, `is_default`, `source_kind`, `source_url`, `details`, `error`, `correlation_id`, `created_at`, `updated_at`, `ready_at`, `deleted_at` FROM `asset_tracks`;
--> statement-breakpoint
DROP TABLE `asset_tracks`;
--> statement-breakpoint
ALTER TABLE `__new_asset_tracks` RENAME TO `asset_tracks`;
--> statement-breakpoint
CREATE INDEX `asset_tracks_asset` ON `asset_tracks` (`asset_id`,`id`);
--> statement-breakpoint
CREATE INDEX `asset_tracks_env` ON `asset_tracks` (`environment_id`,`id`);
