-- Issue 16 (derived assets): an asset's watermark, { url, position, margin_x, margin_y, width, opacity } as JSON,
-- burned into every rendition by the transcoder.
ALTER TABLE `assets` ADD `watermark` text;
