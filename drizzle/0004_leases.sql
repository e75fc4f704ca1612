CREATE TABLE `rate_limits` (
	`key_id` text PRIMARY KEY NOT NULL,
	`tokens` real NOT NULL,
	`granted` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `commands` ADD `lease_owner` text;--> statement-breakpoint
ALTER TABLE `commands` ADD `lease_until` integer;--> statement-breakpoint
ALTER TABLE `files` ADD `lease_owner` text;--> statement-breakpoint
ALTER TABLE `files` ADD `lease_until` integer;--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `lease_owner` text;--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `lease_until` integer;