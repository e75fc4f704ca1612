import { applyHeapBudget } from "./heap-budget";

// Process entry: `bun src/index.ts [serve|keys …|migrate]` (the compiled binary runs the same).
// The heap budget must be applied before the runtime has loaded anything else (it may re-exec).
applyHeapBudget();
const { main } = await import("./cli");
await main(process.argv.slice(2));
