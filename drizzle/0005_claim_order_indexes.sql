DROP INDEX `commands_status_idx`;--> statement-breakpoint
CREATE INDEX `commands_status_created_idx` ON `commands` (`status`,`created_at`);--> statement-breakpoint
DROP INDEX `files_status_idx`;--> statement-breakpoint
CREATE INDEX `files_status_created_idx` ON `files` (`status`,`created_at`);