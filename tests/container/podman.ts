/**
 * Thin helpers around the podman CLI for the container smoke test (tests/container/container.smoke.ts).
 * Containers run the way this machine allows (platform facts §4): runc instead of crun, explicit
 * ulimits (no CAP_SYS_RESOURCE to raise them) and the host network, each server on its own free
 * loopback port. Every container and volume carries the run's label, so scripts/test-container can
 * remove leftovers even when the test process dies.
 */

export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `podman …` and collects its output; never throws on a non-zero exit. */
export async function podman(args: string[]): Promise<PodmanResult> {
  const proc = Bun.spawn(["podman", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

/** Like {@link podman} but throws with podman's stderr when the exit code is not 0. */
export async function podmanOk(args: string[]): Promise<string> {
  const r = await podman(args);
  if (r.code !== 0) throw new Error(`podman ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface RunSpec {
  image: string;
  name: string;
  label: string;
  volume: string;
  port: number;
  /** Extra `podman run` options, e.g. `--security-opt unmask=/proc/*`. */
  options?: string[];
}

/** Starts a detached container serving on 127.0.0.1:port with `volume` mounted at /data. */
export async function runContainer(spec: RunSpec): Promise<void> {
  await podmanOk([
    "run",
    "--detach",
    ...["--name", spec.name, "--label", spec.label],
    ...["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"],
    ...["--network", "host", "--volume", `${spec.volume}:/data`],
    // No systemd here to run the HEALTHCHECK on a timer; the test runs it with `podman healthcheck run`.
    ...["--health-interval", "disable"],
    ...["--env", `PORT=${spec.port}`, "--env", "HOST=127.0.0.1"],
    ...["--env", `PUBLIC_BASE_URL=http://127.0.0.1:${spec.port}`, "--env", "SHUTDOWN_GRACE_SECONDS=10"],
    ...(spec.options ?? []),
    spec.image,
  ]);
}

/** Everything the container wrote to stdout and stderr so far. */
export async function logs(name: string): Promise<string> {
  const r = await podman(["logs", name]);
  return `${r.stdout}\n${r.stderr}`;
}

/**
 * Polls GET /health until it answers 200; returns the milliseconds it took. Fails early with the
 * container's logs when the container exits instead.
 */
export async function waitHealthy(name: string, url: string, timeoutMs = 20_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return performance.now() - t0;
    const state = (await podman(["inspect", "--format", "{{.State.Status}}", name])).stdout.trim();
    if (state !== "running" && state !== "created") {
      throw new Error(`container ${name} is ${state}:\n${await logs(name)}`);
    }
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`no /health after ${timeoutMs} ms:\n${await logs(name)}`);
    await Bun.sleep(50);
  }
}

/** The container's exit code and state (`exited` once it has stopped). */
export async function exitState(name: string): Promise<{ exitCode: number; status: string }> {
  const out = await podmanOk(["inspect", "--format", "{{.State.ExitCode}} {{.State.Status}}", name]);
  const [code = "", status = ""] = out.trim().split(" ");
  return { exitCode: Number(code), status };
}
