-- Playback security: user vs system signing keys; system keys keep their private JWK sealed (AES-GCM).
ALTER TABLE `signing_keys` ADD `kind` text DEFAULT 'user' NOT NULL;--> statement-breakpoint
ALTER TABLE `signing_keys` ADD `private_jwk_enc` text;--> statement-breakpoint
CREATE INDEX `signing_keys_env_kind` ON `signing_keys` (`environment_id`,`kind`);
