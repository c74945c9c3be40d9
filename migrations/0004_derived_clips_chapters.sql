-- Issue 16 (derived assets): a clip asset records the asset it was cut from and the range;
-- chapters are a JSON list of { start_time, title } served as WebVTT at the edge.
ALTER TABLE `assets` ADD `source_asset_id` text;--> statement-breakpoint
ALTER TABLE `assets` ADD `clip` text;--> statement-breakpoint
ALTER TABLE `assets` ADD `chapters` text;--> statement-breakpoint
CREATE INDEX `assets_source_asset` ON `assets` (`source_asset_id`);
