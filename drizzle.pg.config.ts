import { defineConfig } from "drizzle-kit";

/** PostgreSQL migrations (`bunx drizzle-kit generate --config drizzle.pg.config.ts --name <what_changed>`). */
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/pg-schema.ts",
  out: "./drizzle/pg",
});
