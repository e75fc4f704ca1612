import { main } from "./cli";

// Process entry: `bun src/index.ts [serve|keys …|migrate]` (the compiled binary runs the same).
await main(process.argv.slice(2));
