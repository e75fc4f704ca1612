import { accessSync, constants, statSync } from "node:fs";
import { resolve } from "node:path";
import type { MediaTools } from "./sandbox";

/**
 * Resolves FFMPEG_PATH / FFPROBE_PATH once at start: a bare name is looked up on PATH, anything with
 * a slash must be an executable file. Returns absolute paths; throws a message naming the setting.
 */
export function resolveTools(
  settings: { FFMPEG_PATH: string; FFPROBE_PATH: string },
  which: (name: string) => string | null = (name) => Bun.which(name),
): MediaTools {
  return {
    ffmpeg: resolveTool("FFMPEG_PATH", settings.FFMPEG_PATH, which),
    ffprobe: resolveTool("FFPROBE_PATH", settings.FFPROBE_PATH, which),
  };
}

function resolveTool(setting: string, value: string, which: (name: string) => string | null): string {
  if (!value.includes("/")) {
    const found = which(value);
    if (!found)
      throw new Error(
        `${setting}: "${value}" is not on PATH; install ffmpeg (Debian: apt-get install ffmpeg) or set ${setting} to its absolute path`,
      );
    return found;
  }
  const abs = resolve(value);
  try {
    if (!statSync(abs).isFile()) throw new Error("not a file");
    accessSync(abs, constants.X_OK);
  } catch {
    throw new Error(`${setting}: ${abs} is not an executable file`);
  }
  return abs;
}
