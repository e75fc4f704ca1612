/**
 * Prints the CI line `N passed, N failed[, N skipped]` from bun's JUnit report and exits non-zero on
 * any failure. Static checks that failed (type check, lint) count as failures; a non-zero exit of
 * `bun test` with no failed test case in the report (e.g. an error outside any test) counts as one.
 * Usage: bun scripts/junit-summary.ts <junit.xml> <bun test exit code> <failed static checks>
 */
const [path = ".test-results/junit.xml", exitArg = "0", staticArg = "0"] = process.argv.slice(2);
const bunExit = Number(exitArg);
const staticFailures = Number(staticArg);

const file = Bun.file(path);
const xml = (await file.exists()) ? await file.text() : "";
let passed = 0;
let failed = 0;
let skipped = 0;
// Each test case is either self-closing (passed) or has a body with <failure>, <error> or <skipped>.
for (const m of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
  const body = m[2] ?? "";
  if (/<(failure|error)\b/.test(body)) failed++;
  else if (/<skipped\b/.test(body)) skipped++;
  else passed++;
}
if (bunExit !== 0 && failed === 0) {
  console.error(
    `bun test exited ${bunExit} without a failed test case in the report (error outside a test?)`,
  );
  failed++;
}
if (staticFailures > 0) console.error(`${staticFailures} static check(s) failed (see above)`);
failed += staticFailures;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);

export {};
