import { afterAll, beforeAll, expect, test } from "bun:test";
import { makeSamples, type Samples } from "../helpers/media";
import { client, startServer, type TestServer, tempDir, uploadStored } from "../helpers/server";

let server: TestServer;
let samples: Samples;
beforeAll(async () => {
  samples = await makeSamples(tempDir("renderio-samples-"));
  server = await startServer();
}, 120_000);
afterAll(() => server?.stop(), 120_000);

const scrape = async () => {
  const r = await fetch(`${server.url}/metrics`);
  expect(r.headers.get("content-type")).toStartWith("text/plain");
  return r.text();
};

test("/metrics counts requests by route pattern, upload bytes, jobs, and shows queue depth", async () => {
  await fetch(`${server.url}/health`);
  const api = client(server.url, server.firstKey);
  const f = await uploadStored(api, samples.mp4);
  await api("GET", `/api/v1/files/${f.file_id}`);
  const text = await scrape();
  expect(text).toMatch(/renderio_http_requests_total\{route="\/health",method="GET",status="200"\} \d+/);
  // Route patterns, never raw ids: the id-bearing path is counted under its pattern.
  expect(text).toContain('route="/api/v1/files/:fileId"');
  expect(text).not.toContain(f.file_id);
  const bytes = Number(/renderio_upload_bytes_total (\d+)/.exec(text)?.[1]);
  expect(bytes).toBe(Bun.file(samples.mp4).size);
  expect(text).toMatch(/renderio_jobs_total\{kind="probe",outcome="media"\} 1/);
  expect(text).toMatch(/renderio_job_duration_seconds_count\{kind="probe"\} 1/);
  expect(text).toMatch(/renderio_queue_depth\{kind="command",state="queued"\} 0/);
  expect(text).toContain("# TYPE renderio_http_requests_total counter");
});
