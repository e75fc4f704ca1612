import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeSamples, type Samples } from "../helpers/media";
import {
  client,
  freePort,
  startServer,
  type TestServer,
  tempDir,
  uploadStored,
  waitForCommand,
} from "../helpers/server";

/**
 * FFMPEG_PATH / FFPROBE_PATH through the whole server: the configured programs (here scripts kept
 * outside /usr, as a static build would be) are what uploads and commands run, inside the sandbox.
 */
let samples: Samples;
let server: TestServer;
let tools: string;

function script(name: string, body: string): string {
  const path = join(tools, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

beforeAll(async () => {
  samples = await makeSamples(tempDir("renderio-samples-"));
  tools = join(tempDir("renderio-tools-"), "bin");
  mkdirSync(tools);
  const ffprobe = script("ffprobe", 'exec /usr/bin/ffprobe "$@"');
  const ffmpeg = script("ffmpeg", "echo 'this build is switched off' >&2; exit 7");
  server = await startServer({ env: { FFPROBE_PATH: ffprobe, FFMPEG_PATH: ffmpeg } });
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

test("uploads are probed by FFPROBE_PATH and commands run FFMPEG_PATH", async () => {
  const api = client(server.url, server.firstKey);
  const video = await uploadStored(api, samples.mp4);
  expect(video).toMatchObject({ status: "STORED", codec: "h264", width: 320 });
  const r = await api("POST", "/api/v1/run-ffmpeg-command", {
    body: {
      input_files: { in_v: video.storage_url },
      output_files: { out_v: "out.mp4" },
      ffmpeg_command: "-i {{in_v}} -c copy {{out_v}}",
    },
  });
  expect(r.status).toBe(200);
  expect(await waitForCommand(api, r.json.command_id)).toMatchObject({
    status: "FAILED",
    error_status: "FFMPEG_FAILED",
    error_message: "ffmpeg exited with code 7: this build is switched off",
  });
}, 60_000);

test("a missing program stops the start with the setting's name, not a stack trace", async () => {
  const port = freePort();
  const proc = Bun.spawn(["bun", join(import.meta.dir, "../../src/index.ts"), "serve"], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      DATA_DIR: tempDir(),
      PORT: String(port),
      FFMPEG_PATH: join(tools, "missing-ffmpeg"),
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await proc.exited).toBe(2);
  const err = await new Response(proc.stderr).text();
  expect(err).toContain(`FFMPEG_PATH: ${join(tools, "missing-ffmpeg")} is not an executable file`);
  expect(err).not.toContain("    at ");
}, 30_000);
