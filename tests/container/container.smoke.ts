import { afterAll, beforeAll, expect, test } from "bun:test";
import { makeSamples, type Samples } from "../helpers/media";
import { client, freePort, tempDir, uploadStored, waitForCommand } from "../helpers/server";
import { exitState, logs, podman, podmanOk, runContainer, waitHealthy } from "./podman";

/**
 * Smoke test of the container image built from the Dockerfile. Only scripts/test-container runs it: it
 * builds the image and passes its name. The file name does not match bun's test-file pattern, so a plain
 * `bun test` never picks it up. The tests run in order and share one story: first start on an empty
 * volume, the API through the container, `podman stop`, then a new container on the same volume.
 */
const IMAGE = process.env.RENDERIO_CONTAINER_IMAGE;
const RUN_ID = process.env.RENDERIO_CONTAINER_RUN_ID;
if (!IMAGE || !RUN_ID) {
  throw new Error(
    "run scripts/test-container: it builds the image and sets RENDERIO_CONTAINER_IMAGE/_RUN_ID",
  );
}

const label = `renderio-test=${RUN_ID}`;
const volume = `renderio-test-${RUN_ID}`;
const first = `renderio-test-${RUN_ID}-a`;
const second = `renderio-test-${RUN_ID}-b`;
// podman masks parts of /proc inside the container; a masked /proc cannot be mounted again in a new
// namespace, which is what bwrap does. Unmasking lets the ffmpeg sandbox work inside the container.
const SANDBOX_OPTS = ["--security-opt", "unmask=/proc/*"];

let samples: Samples;
let port: number;
let url: string;
let key: string;
let api: ReturnType<typeof client>;
let startMs: number;
let uploaded: any;

beforeAll(async () => {
  samples = await makeSamples(tempDir("renderio-container-samples-"));
  await podmanOk(["volume", "create", "--label", label, volume]);
  port = freePort();
  url = `http://127.0.0.1:${port}`;
  await runContainer({ image: IMAGE, name: first, label, volume, port, options: SANDBOX_OPTS });
  startMs = await waitHealthy(first, url);
  // The key is printed just after the server starts listening; give the log a moment to catch up.
  for (let i = 0; i < 40 && !key; i++) {
    key = /ffsk_[0-9a-f]{64}/.exec(await logs(first))?.[0] ?? "";
    if (!key) await Bun.sleep(50);
  }
  api = client(url, key);
}, 60_000);

afterAll(async () => {
  await podman(["rm", "--force", "--time", "0", first, second]);
  await podman(["volume", "rm", "--force", volume]);
}, 60_000);

test("first start: healthy within seconds, prints the first API key, runs ffmpeg in the bwrap sandbox", async () => {
  expect(startMs).toBeLessThan(5000);
  expect(key).toMatch(/^ffsk_/);
  const out = await logs(first);
  expect(out).toContain('"sandbox":"bwrap"');
  expect(out).not.toContain("SECURITY WARNING");
  expect(out).toContain('"dataDir":"/data"');
});

test("the image: unprivileged user, HEALTHCHECK passes, no Bun, sources or node_modules inside", async () => {
  expect((await podmanOk(["exec", first, "id", "-u"])).trim()).toBe("10001");
  expect((await podman(["healthcheck", "run", first])).code).toBe(0);
  const look = await podman([
    "exec",
    first,
    "bash",
    "-c",
    "command -v bun; ls -d /build /src /app 2>/dev/null; find / -xdev -name node_modules -print -quit",
  ]);
  expect(look.stdout.trim()).toBe("");
  expect((await podmanOk(["exec", first, "ffmpeg", "-version"])).split("\n")[0]).toStartWith(
    "ffmpeg version",
  );
});

test("/health, /ready, /docs and /openapi.json answer", async () => {
  expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: "ok" });
  expect(await (await fetch(`${url}/ready`)).json()).toEqual({
    status: "ready",
    database: "ok",
    storage: "local",
  });
  const docs = await fetch(`${url}/docs`);
  expect(docs.status).toBe(200);
  expect(docs.headers.get("content-type")).toContain("text/html");
  const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  expect(Object.keys(doc.paths)).toContain("/api/v1/run-ffmpeg-command");
});

test("an uploaded mp4 is STORED with its metadata", async () => {
  uploaded = await uploadStored(api, samples.mp4, "clip.mp4");
  expect(uploaded).toMatchObject({
    status: "STORED",
    filename: "clip.mp4",
    file_type: "video",
    codec: "h264",
    width: 320,
    height: 240,
  });
  expect(uploaded.duration).toBeCloseTo(2, 1);
});

test("an ffmpeg command runs in the container and its output downloads", async () => {
  const r = await api("POST", "/api/v1/run-ffmpeg-command", {
    body: {
      input_files: { in_video: uploaded.storage_url },
      output_files: { out_small: "small.mp4" },
      ffmpeg_command:
        "ffmpeg -i {{in_video}} -vf scale=160:-2 -c:v libx264 -preset ultrafast -c:a aac {{out_small}}",
    },
  });
  expect(r.status).toBe(200);
  const c = await waitForCommand(api, r.json.command_id);
  expect(c).toMatchObject({ status: "SUCCESS", error_status: null });
  const out = c.output_files.out_small;
  expect(out).toMatchObject({ status: "STORED", codec: "h264", width: 160, height: 120 });
  const bytes = new Uint8Array(await (await fetch(out.storage_url)).arrayBuffer());
  expect(bytes.byteLength / 1048576).toBeCloseTo(out.size_mbytes, 4);
  expect(new TextDecoder().decode(bytes.subarray(4, 8))).toBe("ftyp");
}, 60_000);

test("podman stop: tini forwards SIGTERM, the server drains and exits 0 (not SIGKILLed)", async () => {
  await podmanOk(["stop", "--time", "10", first]);
  // A server that ignored the signal would be SIGKILLed after the 10 s stop timeout: exit 137.
  expect(await exitState(first)).toEqual({ exitCode: 0, status: "exited" });
  // podman's own stop overhead varies with machine load (0.3-6 s here), so time the server by its log.
  const lines = (await logs(first)).split("\n").flatMap((l) => {
    try {
      return [JSON.parse(l) as { msg?: string; time?: string }];
    } catch {
      return []; // the first-key banner is plain text
    }
  });
  const at = (msg: string) => Date.parse(lines.find((l) => l.msg === msg)?.time ?? "");
  expect(at("stopped") - at("signal received")).toBeLessThan(1000);
}, 30_000);

test("a new container on the same volume keeps keys and files; default options fall back loudly", async () => {
  await podmanOk(["rm", first]);
  // Default security options this time: bwrap cannot mount /proc, so the server must say so and serve.
  await runContainer({ image: IMAGE, name: second, label, volume, port });
  await waitHealthy(second, url);
  const out = await logs(second);
  expect(out).toContain("SECURITY WARNING: bubblewrap (bwrap) sandbox unavailable");
  expect(out).toContain('"sandbox":"none"');
  expect(out).not.toMatch(/ffsk_[0-9a-f]{64}/);
  const list = await api("GET", "/api/v1/files");
  expect(list.status).toBe(200);
  const names = list.json.files.map((f: any) => f.filename);
  expect(names).toContain("clip.mp4");
  expect(names).toContain("small.mp4");
  expect((await fetch(uploaded.storage_url)).status).toBe(200);
  await podmanOk(["stop", "--time", "10", second]);
  expect((await exitState(second)).exitCode).toBe(0);
}, 60_000);
