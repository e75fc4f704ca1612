/**
 * The Swagger UI at /docs driven in a real headless Chromium, with nothing but loopback reachable:
 * Authorize with the printed key, then "Try it out" on POST /api/v1/files/upload with a real mp4.
 *
 * Invariants this test holds the docs to:
 * - the page loads every asset from the server itself (any other host is aborted and reported);
 * - the upload body is multipart/form-data with a file input, and the key typed into Authorize is sent;
 * - Swagger shows the live 200 response with `file_id`, and that id is a real file.
 *
 * Needs Debian Chromium at /usr/bin/chromium (`apt-get install -y chromium`, done by the test script).
 * It fails, never skips, when the browser is missing.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Request } from "playwright-core";
import { client, startServer, type TestServer, tempDir } from "../helpers/server";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const UPLOAD_PATH = "/api/v1/files/upload";

let server: TestServer | undefined;
let browser: Browser | undefined;
let work = "";
let sample = "";

beforeAll(async () => {
  work = tempDir("renderio-docs-ui-");
  sample = join(work, "tiny.mp4");
  // 1 s of 64x48 test pattern: a valid mp4 of a few KB, made in well under a second.
  const ff = Bun.spawnSync(
    [
      "ffmpeg",
      "-nostdin",
      "-v",
      "error",
      "-y",
      "-f",
      "lavfi",
      "-i",
      "testsrc=d=1:s=64x48",
      "-threads",
      "1",
      sample,
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  if (ff.exitCode !== 0) throw new Error(`ffmpeg failed (${ff.exitCode}): ${ff.stderr.toString()}`);
  server = await startServer();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
}, 120_000);

test("Swagger UI works offline: authorize, then upload a file with Try it out", async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}. Install Debian's build: ` +
        "DEBIAN_FRONTEND=noninteractive apt-get install -y chromium (or set CHROMIUM_PATH).",
    );
  }
  const srv = server as TestServer;
  const key = srv.firstKey;
  if (!key) throw new Error(`no ffsk_ key in the server output:\n${srv.output()}`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright gives each launch a fresh, empty --user-data-dir of its own.
    args: [
      "--headless",
      "--no-sandbox", // we run as root in CI
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      // Without these Chromium itself phones Google at start; that is not the page's traffic.
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 1600 } });

  // Offline, enforced: only loopback is reachable from the page; anything else is aborted and recorded.
  const offHost: string[] = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (LOOPBACK.has(url.hostname)) return route.continue();
    offHost.push(url.href);
    return route.abort("internetdisconnected");
  });

  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  const uploads: Request[] = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === UPLOAD_PATH) uploads.push(r);
  });

  await page.goto(`${srv.url}/docs`);
  await page.locator(".opblock").first().waitFor({ timeout: 10_000 });

  // Authorize: the ApiKeyAuth dialog has one text input for X-API-KEY.
  await page.locator(".auth-wrapper button.authorize").click();
  const dialog = page.locator(".modal-ux");
  await dialog.locator("h4", { hasText: "ApiKeyAuth" }).waitFor();
  await dialog.locator("input#api_key_value").fill(key);
  await dialog.locator("button.modal-btn.authorize").click();
  await dialog.locator("button.modal-btn.btn-done").click();
  await dialog.waitFor({ state: "detached" });
  await expect(page.locator(".auth-wrapper button.authorize.locked").count()).resolves.toBe(1);

  // The upload operation, found by its path (Swagger's element ids escape the dot in `files.upload`).
  const op = page.locator(".opblock.opblock-post", {
    has: page.locator(`.opblock-summary-path[data-path="${UPLOAD_PATH}"]`),
  });
  await op.locator(".opblock-summary-control").click();
  // docs.ts sets tryItOutEnabled, so the form may already be editable; click "Try it out" only if shown.
  const tryOut = op.locator("button.try-out__btn", { hasText: "Try it out" });
  const execute = op.locator("button.execute");
  await tryOut.or(execute).first().waitFor();
  if (await tryOut.isVisible()) await tryOut.click();

  // The body must be offered as multipart/form-data with a file input, not as a JSON text area.
  const contentType = op.locator(".opblock-section-request-body select.content-type");
  await expect(contentType.inputValue()).resolves.toBe("multipart/form-data");
  await op.locator('tr[data-property-name="file"] input[type="file"]').setInputFiles(sample);
  await execute.click();

  // The live response (not the documented example) carries the real status and body.
  const live = op.locator(".live-responses-table .response");
  await live.locator(".response-col_status").waitFor({ timeout: 10_000 });
  expect((await live.locator(".response-col_status").textContent())?.trim()).toBe("200");
  const bodyText = (await live.locator(".response-col_description pre").first().textContent()) ?? "";
  expect(bodyText).toContain("file_id");
  const fileId = (JSON.parse(bodyText) as { file_id: string }).file_id;
  expect(fileId).toMatch(/^[0-9a-f-]{36}$/);

  // What Swagger actually sent: one multipart request carrying the authorized key.
  expect(uploads).toHaveLength(1);
  const sent = (await uploads[0]?.allHeaders()) ?? {};
  expect(sent["content-type"]).toStartWith("multipart/form-data; boundary=");
  expect(sent["x-api-key"]).toBe(key);

  const shot = join(work, "docs-ui.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`docs UI screenshot: ${shot}`);

  // The id Swagger showed is a real file of this account.
  const got = await client(srv.url, key)("GET", `/api/v1/files/${fileId}`);
  expect(got.status).toBe(200);
  expect(got.json.file_id).toBe(fileId);
  expect(got.json.filename).toBe("tiny.mp4");

  expect(pageErrors).toEqual([]);
  expect(offHost).toEqual([]);

  // The guard itself works: a request to a non-loopback host is recorded and fails in the page.
  const probe = "http://docs-ui-guard.invalid/probe";
  const reached = await page.evaluate(
    (u) =>
      fetch(u).then(
        () => true,
        () => false,
      ),
    probe,
  );
  expect(reached).toBe(false);
  expect(offHost).toEqual([probe]);
}, 30_000);
