/** Prints the README configuration table from the one settings table in src/config.ts. */
import { SETTINGS } from "../src/config";

const rows = Object.entries(SETTINGS).map(([name, s]) => {
  const def = "def" in s ? (typeof s.def === "function" ? derived(name) : `\`${s.def}\``) : "—";
  return `| \`${name}\` | ${def} | ${s.doc} |`;
});
console.log(["| Variable | Default | Meaning |", "|---|---|---|", ...rows].join("\n"));

function derived(name: string): string {
  switch (name) {
    case "DATABASE_PATH":
      return "`$DATA_DIR/renderio.db`";
    case "PUBLIC_BASE_URL":
      return "`http://localhost:$PORT`";
    case "PROBE_CONCURRENCY":
      return "number of CPUs";
    case "HTTP_WORKERS":
      return "number of CPUs, at most 4";
    case "COMMAND_CONCURRENCY":
      return "CPUs / 2 (at least 1)";
    default:
      return "computed";
  }
}
