/**
 * yt-dlp: detection at start, the `format_selector` presets, and the argv a download runs with.
 *
 * Invariants:
 * - User text never becomes an option: the URL goes after `--`, the selector is one of our presets.
 * - No configuration, cache, plugins or cookies from the host (`--ignore-config`, `--no-cache-dir`,
 *   HOME = the job directory); one item per URL (`--no-playlist`); names are ours (`-o <alias>.%(ext)s`,
 *   `--restrict-filenames`).
 * - yt-dlp is started by a tiny Python launcher inside the sandbox that has NO network: the launcher
 *   listens on the sandbox's own loopback and relays to our egress proxy's Unix socket, and passes
 *   `--proxy` pointing there. Whatever ignores the proxy (an ffmpeg yt-dlp spawns) reaches nothing.
 */
import { runProcess } from "./runner";

/** A usable yt-dlp installation. */
export interface Ytdlp {
  executable: string;
  python: string;
  version: string;
}

export type YtdlpDetection = { ok: true; ytdlp: Ytdlp } | { ok: false; reason: string };

/** The `format_selector` values of the hosted API (spec §4.7). */
export const FORMAT_SELECTORS = [
  "best",
  "2160p",
  "1440p",
  "1080p",
  "720p",
  "480p",
  "360p",
  "audio_only",
  "worst",
] as const;
export type FormatSelector = (typeof FORMAT_SELECTORS)[number];

/**
 * yt-dlp options for a preset. Resolutions use format sorting (`-S res:720`): the largest height at or
 * below the target wins, and when there is none the smallest above it — "the closest one".
 * `audio_only` takes the best audio-only format (or the best combined one) and extracts its audio with
 * ffmpeg (`-x`, stream copy into its natural container, e.g. AAC → .m4a).
 */
export function formatArgs(selector: FormatSelector): string[] {
  switch (selector) {
    case "best":
      return ["-f", "bv*+ba/b"];
    case "worst":
      return ["-f", "wv*+wa/w"];
    case "audio_only":
      return ["-f", "ba/b", "-x"];
    default:
      return ["-f", "bv*+ba/b", "-S", `res:${selector.replace("p", "")}`];
  }
}

/** Relays 127.0.0.1:<free port> (inside the sandbox) to the proxy's Unix socket, then runs yt-dlp. */
const LAUNCHER = `
import os, socket, subprocess, sys, threading
sock_path, exe, args = sys.argv[1], sys.argv[2], sys.argv[3:]
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass
def relay(c):
    u = socket.socket(socket.AF_UNIX)
    try:
        u.connect(sock_path)
    except OSError:
        c.close()
        return
    threading.Thread(target=pump, args=(u, c), daemon=True).start()
    pump(c, u)
def serve():
    while True:
        c, _ = srv.accept()
        threading.Thread(target=relay, args=(c,), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
env = {"PATH": "/usr/bin:/bin", "HOME": os.getcwd(), "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
proxy = "http://127.0.0.1:%d" % srv.getsockname()[1]
sys.exit(subprocess.call([exe, "--proxy", proxy] + args, env=env, stdin=subprocess.DEVNULL))
`;

export interface DownloadArgs {
  socketPath: string;
  /** Where the file goes: `<dir>/<alias>.<ext>`. */
  dir: string;
  alias: string;
  url: string;
  selector: FormatSelector;
  maxBytes: number;
  socketTimeoutSeconds: number;
  /** The ffmpeg yt-dlp merges and remuxes with (FFMPEG_PATH, resolved). */
  ffmpeg: string;
}

/** The argv (before sandboxing) that downloads one URL. */
export function downloadArgv(y: Ytdlp, a: DownloadArgs): string[] {
  return [
    ...[y.python, "-I", "-c", LAUNCHER, a.socketPath, y.executable],
    ...["--ignore-config", "--no-cache-dir", "--no-playlist", "--restrict-filenames", "--no-mtime"],
    ...["--no-progress", "--newline", "--no-colors", "--retries", "3", "--fragment-retries", "3"],
    ...["--socket-timeout", String(a.socketTimeoutSeconds), "--max-filesize", String(a.maxBytes)],
    ...["--ffmpeg-location", a.ffmpeg, "-o", `${a.dir}/${a.alias}.%(ext)s`, ...formatArgs(a.selector)],
    "--",
    a.url,
  ];
}

/**
 * Finds yt-dlp once at start: `setting` is a name looked up on PATH or a path; `off` disables it.
 * Never throws. The Python launcher needs `python3` (which the Debian package depends on anyway).
 */
export async function detectYtdlp(setting: string): Promise<YtdlpDetection> {
  if (setting === "off") return { ok: false, reason: "disabled by YTDLP_PATH=off" };
  const executable = Bun.which(setting);
  if (!executable) return { ok: false, reason: `${setting} not found` };
  const python = await pythonFor(executable);
  if (!python) return { ok: false, reason: "python3 not found under /usr" };
  try {
    const res = await runProcess({
      argv: [executable, "--version"],
      timeoutMs: 15_000,
      env: { LC_ALL: "C.UTF-8" },
    });
    const version = res.stdout.trim().split("\n")[0] ?? "";
    if (res.exitCode !== 0 || !version) return { ok: false, reason: `${executable} --version failed` };
    return { ok: true, ytdlp: { executable, python, version } };
  } catch (err) {
    return { ok: false, reason: `${executable} could not start: ${String(err)}` };
  }
}

/**
 * The interpreter the launcher runs on: the one in yt-dlp's own `#!` line when it is a Python under
 * /usr (the Debian package), else /usr/bin/python3. It must live under /usr, the only system tree
 * the sandbox shows (a pyenv shim in a home directory would not be visible there).
 */
async function pythonFor(executable: string): Promise<string | null> {
  const head = await Bun.file(executable)
    .slice(0, 128)
    .text()
    .catch(() => "");
  const shebang = /^#!\s*(\/usr\/\S*python3[\d.]*)\s*$/m.exec(head.split("\n")[0] ?? "")?.[1];
  for (const candidate of [shebang, "/usr/bin/python3"]) {
    if (candidate && (await Bun.file(candidate).exists())) return candidate;
  }
  return null;
}

/** The 501 message for a server without yt-dlp. */
export const YTDLP_MISSING_MESSAGE = "yt-dlp is not installed on this server: apt-get install yt-dlp";
