ALTER TABLE `assets` ADD `mp4_support` text DEFAULT 'none' NOT NULL;--> statement-breakpoint
ALTER TABLE `assets` ADD `static_renditions` text;