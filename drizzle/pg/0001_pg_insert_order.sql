-- Hidden insertion-order column, the counterpart of SQLite's implicit rowid: "newest first" lists order by
-- (created_at desc, rowid desc) in both dialects. Not in src/db/pg-schema.ts on purpose (rows stay alike).
ALTER TABLE "files" ADD COLUMN "rowid" bigint GENERATED ALWAYS AS IDENTITY;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "rowid" bigint GENERATED ALWAYS AS IDENTITY;--> statement-breakpoint
ALTER TABLE "presets" ADD COLUMN "rowid" bigint GENERATED ALWAYS AS IDENTITY;
