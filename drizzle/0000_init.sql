CREATE TABLE `accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text,
	`prefix` text NOT NULL,
	`key_hash` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash_unique` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_account_idx` ON `api_keys` (`account_id`);--> statement-breakpoint
CREATE TABLE `files` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`store_type` text NOT NULL,
	`status` text NOT NULL,
	`filename` text NOT NULL,
	`storage_key` text,
	`size_bytes` integer,
	`original_file_url` text,
	`duration` real,
	`file_type` text,
	`file_format` text,
	`codec` text,
	`pixel_format` text,
	`mime_type` text,
	`width` integer,
	`height` integer,
	`frame_rate` real,
	`bitrate_video_kb` real,
	`bitrate_audio_kb` real,
	`sample_rate` integer,
	`channels` integer,
	`error_status` text,
	`error_message` text,
	`probe_attempts` integer DEFAULT 0 NOT NULL,
	`is_deleted` integer DEFAULT false NOT NULL,
	`deleted_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `files_account_created_idx` ON `files` (`account_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `files_status_idx` ON `files` (`status`);