/**
 * The measured loop of bench/commands.ts: one small stored input, then sequential thumbnail
 * commands, each timed by the client from submit to the first poll that sees SUCCESS.
 */
import { call, type Renderio, waitFile } from "./server";

/** One command as the client and the server saw it; times in seconds. */
export interface CommandRun {
  wall: number;
  total: number;
  ffmpeg: number;
  /** Server view: total_processing_seconds − ffmpeg_command_run_seconds. */
  serverOverhead: number;
  /** Client view: client wall − ffmpeg_command_run_seconds. */
  clientOverhead: number;
  submit: number;
  polls: number;
  /** Mean round trip of this run's GET polls. */
  pollRtt: number;
}

const POLL_EVERY_MS = 10;
const TIMEOUT_MS = 60_000;

/** Uploads `mp4` and waits until it is STORED; returns its storage_url. */
export async function storeInput(r: Renderio, mp4: string): Promise<string> {
  const form = new FormData();
  form.append("file", Bun.file(mp4), "small.mp4");
  const { file_id } = await call(r, "POST", "/api/v1/files/upload", form);
  const f = await waitFile(r, file_id, (x) => x.status !== "PROCESSING", 30_000);
  if (f.status !== "STORED" || !f.storage_url) throw new Error(`input ${file_id}: ${JSON.stringify(f)}`);
  return f.storage_url;
}

/** Submits one thumbnail command and polls every 10 ms (bounded) until it ends; checks the output. */
export async function runOne(r: Renderio, inputUrl: string): Promise<CommandRun> {
  const t0 = performance.now();
  const { command_id } = await call(r, "POST", "/api/v1/run-ffmpeg-command", {
    input_files: { in_v: inputUrl },
    output_files: { out_thumb: "thumb.jpg" },
    ffmpeg_command: "-i {{in_v}} -frames:v 1 {{out_thumb}}",
  });
  const submit = (performance.now() - t0) / 1000;
  let polls = 0;
  let rtt = 0;
  for (;;) {
    const p0 = performance.now();
    const c = await call(r, "GET", `/api/v1/commands/${command_id}`);
    const now = performance.now();
    polls++;
    rtt += now - p0;
    if (c.status === "SUCCESS") {
      const out = c.output_files?.out_thumb;
      if (out?.status !== "STORED" || out.file_format !== "jpeg" || out.width !== 160)
        throw new Error(`command ${command_id}: unexpected output ${JSON.stringify(out)}`);
      const wall = (now - t0) / 1000;
      const total = c.total_processing_seconds as number;
      const ffmpeg = c.ffmpeg_command_run_seconds as number;
      return {
        wall,
        total,
        ffmpeg,
        serverOverhead: total - ffmpeg,
        clientOverhead: wall - ffmpeg,
        submit,
        polls,
        pollRtt: rtt / polls / 1000,
      };
    }
    if (c.status === "FAILED") throw new Error(`command ${command_id} failed: ${JSON.stringify(c)}`);
    if (now - t0 > TIMEOUT_MS)
      throw new Error(`command ${command_id} still ${c.status} after ${TIMEOUT_MS} ms`);
    await Bun.sleep(POLL_EVERY_MS);
  }
}
