/**
 * Reference timings for bench/commands.ts, measured in the bench process with renderio's own
 * building blocks (imported, not copied): the same ffmpeg argv bare, the same argv inside the
 * bubblewrap sandbox under prlimit (what `ffmpeg_command_run_seconds` times), and the sandboxed
 * ffprobe of the output that a command waits for before it reports SUCCESS.
 */
import { mkdir, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { probeFile } from "../../src/media/ffprobe";
import { runProcess } from "../../src/media/runner";
import { detectSandbox } from "../../src/media/sandbox";
import { median } from "./stats";

/** Options the server puts before the user's (src/jobs/command-runner.ts SERVER_GLOBALS). */
const GLOBALS = ["-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats"];

export interface Refs {
  sandboxed: boolean;
  bareFfmpeg: number;
  sandboxFfmpeg: number;
  probeJpg: number;
}

/** Medians over `n` runs each, in seconds, in a scratch dir under `dir`. */
export async function referenceTimings(dir: string, mp4: string, n: number): Promise<Refs> {
  const sandbox = await detectSandbox();
  const job = join(dir, "ref-job");
  await mkdir(join(job, "in"), { recursive: true });
  await mkdir(join(job, "out"), { recursive: true });
  const input = join(job, "in", "in_v.mp4");
  await rm(input, { force: true });
  await symlink(mp4, input);
  const out = join(job, "out", "out_thumb.jpg");
  const argv = ["ffmpeg", ...GLOBALS, "-i", input, "-frames:v", "1", out];
  const timed = async (a: string[]) => {
    const t0 = performance.now();
    const r = await runProcess({ argv: a, cwd: job, timeoutMs: 30_000, maxStdoutBytes: 64 * 1024 });
    if (r.exitCode !== 0) throw new Error(`${a.join(" ")} exited ${r.exitCode}: ${r.stderrTail}`);
    return (performance.now() - t0) / 1000;
  };
  const wrapped = sandbox.wrap(["prlimit", `--fsize=${10 * 1024 ** 3}`, "--", ...argv], {
    readOnly: [mp4],
    writable: [job],
    chdir: job,
  });
  const bare: number[] = [];
  const boxed: number[] = [];
  const probe: number[] = [];
  await timed(argv); // warm the page cache
  for (let i = 0; i < n; i++) {
    bare.push(await timed(argv));
    boxed.push(await timed(wrapped));
    const t0 = performance.now();
    const p = await probeFile(out, { timeoutMs: 30_000, sandbox, fileName: "thumb.jpg" });
    if (p.kind !== "media") throw new Error(`reference probe of the jpg: ${JSON.stringify(p)}`);
    probe.push((performance.now() - t0) / 1000);
  }
  await rm(job, { recursive: true, force: true });
  return {
    sandboxed: sandbox.available,
    bareFfmpeg: median(bare),
    sandboxFfmpeg: median(boxed),
    probeJpg: median(probe),
  };
}
