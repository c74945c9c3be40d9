-- Simulcast targets of a live stream (issue #17): where each broadcast is restreamed (YouTube, Twitch, any
-- RTMP(S) server). The target's stream key is sealed (src/lib/seal.ts, purpose `simulcast-key`); its status
-- is reported by the transcoder job that pushes it.
CREATE TABLE `live_simulcast_targets` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`live_stream_id` text NOT NULL,
	`url` text NOT NULL,
	`stream_key_sealed` text NOT NULL,
	`passthrough` text,
	`status` text DEFAULT 'idle' NOT NULL,
	`error` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `live_simulcast_targets_stream` ON `live_simulcast_targets` (`live_stream_id`,`id`);
