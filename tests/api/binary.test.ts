import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { memoryLimitBytes } from "../../src/heap-budget";
import { databaseEnv } from "../helpers/db";
import { makeSamples, type Samples } from "../helpers/media";
import { client, freePort, tempDir, waitForFile } from "../helpers/server";

/**
 * The single binary (`bun run build` → dist/renderio): built here, copied into an empty directory and
 * run from there, so nothing can come from the source tree (migrations and docs assets are embedded).
 */
const ROOT = resolve(import.meta.dir, "../..");
let dir: string;
let bin: string;
let samples: Samples;
let proc: ReturnType<typeof Bun.spawn> | undefined;
/** TEST_DATABASE=pg: the binary runs on PostgreSQL too (its pg migrations are embedded as well). */
let dbEnv: Record<string, string> = {};

beforeAll(async () => {
  const build = Bun.spawn(["bun", "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if ((await build.exited) !== 0) throw new Error(`build failed: ${await new Response(build.stderr).text()}`);
  dir = tempDir("renderio-binary-");
  bin = join(dir, "renderio");
  copyFileSync(join(ROOT, "dist/renderio"), bin);
  Bun.spawnSync(["chmod", "+x", bin]);
  dbEnv = await databaseEnv(dir);
  samples = await makeSamples(tempDir("renderio-samples-"));
}, 120_000);

afterAll(() => {
  proc?.kill();
});

const env = (port: number) => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  PORT: String(port),
  HOST: "127.0.0.1",
  PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
  RATE_LIMIT_PER_MINUTE: "0",
  ...dbEnv,
});

test("the binary serves from an empty directory: migrations, docs assets, upload and probing work", async () => {
  const port = freePort();
  proc = Bun.spawn([bin, "serve"], { cwd: dir, env: env(port), stdout: "pipe", stderr: "pipe" });
  let out = "";
  void (async () => {
    for await (const c of proc.stdout as ReadableStream<Uint8Array>) out += new TextDecoder().decode(c);
  })();
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await Bun.sleep(50);
  }
  const startMs = performance.now() - t0;
  expect(startMs).toBeLessThan(5000);
  // The compiled binary re-executes itself once with the heap budget (HEAP_BUDGET_MB, same PID).
  expect(readFileSync(`/proc/${proc.pid}/environ`, "utf8")).toContain(
    `BUN_JSC_forceRAMSize=${Math.min(4096 * 1024 * 1024, memoryLimitBytes())}`,
  );
  await Bun.sleep(50);
  const key = /ffsk_[0-9a-f]{64}/.exec(out)?.[0];
  expect(key).toBeDefined();
  expect((await fetch(`${base}/assets/swagger-ui-bundle.js`)).status).toBe(200);
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  expect(Object.keys(doc.paths)).toContain("/api/v1/run-ffmpeg-command");
  const api = client(base, key);
  const form = new FormData();
  form.append("file", Bun.file(samples.mp4), "clip.mp4");
  const r = await api("POST", "/api/v1/files/upload", { body: form });
  expect(r.status).toBe(200);
  expect(await waitForFile(api, r.json.file_id)).toMatchObject({
    status: "STORED",
    codec: "h264",
    width: 320,
  });
  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
}, 60_000);

test("the binary keeps the CLI: keys create / list and migrate", async () => {
  const run = (args: string[]) => Bun.spawnSync([bin, ...args], { cwd: dir, env: env(freePort()) });
  const created = run(["keys", "create", "--name", "cli"]);
  expect(created.exitCode).toBe(0);
  expect(created.stdout.toString().trim()).toMatch(/^ffsk_[0-9a-f]{64}$/);
  expect(run(["keys", "list"]).stdout.toString()).toContain("\tcli\t");
  expect(run(["migrate"]).exitCode).toBe(0);
});
