CREATE TABLE `commands` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`command_type` text NOT NULL,
	`status` text NOT NULL,
	`input_files` text NOT NULL,
	`output_files` text NOT NULL,
	`ffmpeg_commands` text NOT NULL,
	`original_request` text NOT NULL,
	`metadata` text,
	`webhook_url` text,
	`max_run_seconds` integer NOT NULL,
	`error_status` text,
	`error_message` text,
	`total_processing_seconds` real,
	`ffmpeg_run_seconds` real,
	`progress` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`cancel_requested` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`updated_at` integer,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `commands_account_created_idx` ON `commands` (`account_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `commands_status_idx` ON `commands` (`status`);--> statement-breakpoint
ALTER TABLE `files` ADD `command_id` text;--> statement-breakpoint
ALTER TABLE `files` ADD `output_alias` text;--> statement-breakpoint
CREATE INDEX `files_command_idx` ON `files` (`command_id`);