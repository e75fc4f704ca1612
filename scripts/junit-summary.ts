/**
 * Prints the CI line `N passed, N failed[, N skipped]` from bun's JUnit reports and exits non-zero on
 * any failure. Static checks that failed (type check, lint) count as failures; a run whose `bun test`
 * exited non-zero with no failed test case in its report (e.g. an error outside any test) counts as one.
 * Usage: bun scripts/junit-summary.ts <failed static checks> <junit.xml>:<bun test exit code> ...
 */
const [staticArg = "0", ...runs] = process.argv.slice(2);
let passed = 0;
let failed = Number(staticArg);
let skipped = 0;
if (failed > 0) console.error(`${failed} static check(s) failed (see above)`);

for (const run of runs) {
  const at = run.lastIndexOf(":");
  const path = run.slice(0, at);
  const exit = Number(run.slice(at + 1));
  const file = Bun.file(path);
  const xml = (await file.exists()) ? await file.text() : "";
  let runFailed = 0;
  // Each test case is either self-closing (passed) or has a body with <failure>, <error> or <skipped>.
  for (const m of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = m[2] ?? "";
    if (/<(failure|error)\b/.test(body)) runFailed++;
    else if (/<skipped\b/.test(body)) skipped++;
    else passed++;
  }
  if (exit !== 0 && runFailed === 0) {
    console.error(
      `${path}: bun test exited ${exit} without a failed test case in the report (error outside a test?)`,
    );
    runFailed = 1;
  }
  failed += runFailed;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);

export {};
