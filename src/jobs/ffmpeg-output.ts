/** Reading ffmpeg's output: `-progress` lines into the command row, stderr into a short, path-free tail. */
import { and, eq } from "drizzle-orm";
import type { CommandRunnerDeps } from "./command-runner";

/** Parses `-progress` key=value lines and records progress at most twice a second. */
export function progressReader(
  deps: CommandRunnerDeps,
  commandId: string,
  duration: number | null,
  step: number,
  steps: number,
) {
  let buf = "";
  let last = 0;
  return (text: string) => {
    buf += text;
    const lines = buf.split("\n");
    buf = lines.pop() ?? "";
    for (const line of lines) {
      const m = /^out_time_us=(\d+)/.exec(line);
      if (!m) continue;
      const t = performance.now();
      if (t - last < 500) continue;
      last = t;
      const seconds = Number(m[1]) / 1e6;
      const within = duration ? Math.min(1, seconds / duration) : null;
      const percent = within === null ? null : Math.round(((step + within) / steps) * 1000) / 10;
      const { commands } = deps.db.t;
      // Not awaited (this is a stdout callback); only while PROCESSING, so a late write cannot
      // leave progress on a finished command.
      deps.db
        .update(commands)
        .set({
          progress: { percent: percent === null ? null : Math.min(99.9, percent), out_time_seconds: seconds },
        })
        .where(and(eq(commands.id, commandId), eq(commands.status, "PROCESSING")))
        .then(undefined, (err: unknown) => deps.log.warn("could not record progress", { commandId, err }));
    }
  };
}

/** Replaces job paths by their aliases and strips any other absolute path from ffmpeg's output. */
export function redactor(jobDir: string, paths: Record<string, string>, storagePaths: string[]) {
  const pairs = Object.entries(paths).map(([alias, p]) => [p, `{{${alias}}}`] as const);
  return (stderr: string): string => {
    let text = stderr;
    for (const [p, alias] of pairs) text = text.split(p).join(alias);
    for (const p of storagePaths) text = text.split(p).join("<input>");
    text = text.split(`${jobDir}/`).join("").split(jobDir).join(".");
    const lines = text
      .split("\n")
      .map((l) => l.replace(/(^|[\s'"(=])\/[^\s'"]*/g, "$1<path>").trim())
      .filter(
        (l) =>
          l &&
          !/^(frame|fps|stream_|bitrate|total_size|out_time|dup_frames|drop_frames|speed|progress)=/.test(l),
      );
    const tail = lines.slice(-6).join("\n");
    return tail.length > 1200 ? `…${tail.slice(-1199)}` : tail || "no error output";
  };
}
