-- The live ladder: lower renditions the transcoder encodes while a stream is on air (JSON array of "720p"…).
ALTER TABLE `live_streams` ADD `renditions` text DEFAULT '[]' NOT NULL;
