import { chmodSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { run } from "../support";

/**
 * A statically linked ffprobe for the FFPROBE_PATH comparison: npm's `@ffprobe-installer/linux-x64`
 * ships one (an FFmpeg git build from 2023, 79 MB) inside its tarball, so `npm pack` fetches it from the
 * registry without running any install script. Cached under ~/.cache/renderio-bench.
 */
export const STATIC_FFPROBE_PACKAGE = "@ffprobe-installer/linux-x64@5.2.0";

export async function staticFfprobe(): Promise<string> {
  const dir = join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"),
    "renderio-bench",
    "ffprobe-5.2.0",
  );
  const bin = join(dir, "package", "ffprobe");
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  await run(["npm", "pack", "--silent", STATIC_FFPROBE_PACKAGE, "--pack-destination", dir]);
  const tgz = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tgz) throw new Error(`npm pack ${STATIC_FFPROBE_PACKAGE} left no tarball in ${dir}`);
  await run(["tar", "-xzf", join(dir, tgz), "-C", dir]);
  chmodSync(bin, 0o755);
  return bin;
}
