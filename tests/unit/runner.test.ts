/**
 * The process runner's CPU priority: media work must really yield the CPU to the API. Linux's
 * autogroup scheduler (on by default on most distributions) weighs every session as a whole and
 * ignores the niceness of processes in other sessions; media processes run in a session of their
 * own, so the runner must lower that session's weight too, or `MEDIA_NICE` has no effect.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { runProcess } from "../../src/media/runner";
import { detectSandbox, type Sandbox } from "../../src/media/sandbox";

// Autogroup scheduling is on here and on the CI machines (kernel.sched_autogroup_enabled=1): the fix under
// test only matters there, and without /proc/self/autogroup these tests fail instead of passing vacuously.
const autogroup = "/proc/self/autogroup";
let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await detectSandbox();
});

/** The child reports its own niceness and autogroup after a pause (the parent sets the group's at spawn). */
const report = [
  "sh",
  "-c",
  "sleep 0.3; cut -d' ' -f19 /proc/self/stat; cat /proc/self/autogroup 2>/dev/null || true",
];

async function niceness(argv: string[], nice?: number) {
  const res = await runProcess({ argv, timeoutMs: 10_000, ...(nice === undefined ? {} : { nice }) });
  expect(res.exitCode).toBe(0);
  const [proc, group] = res.stdout.trim().split("\n");
  return { proc: Number(proc), group: group ?? "" };
}

describe("runProcess nice", () => {
  test("without nice the child keeps the server's priority", async () => {
    const own = (await Bun.file("/proc/self/stat").text()).split(" ")[18];
    const { proc } = await niceness(report);
    expect(proc).toBe(Number(own));
  });

  test("the process and its session's autogroup both get the niceness", async () => {
    const { proc, group } = await niceness(report, 15);
    expect(proc).toBe(15);
    expect(group).toMatch(/ nice 15$/);
  });

  test("inside the bubblewrap sandbox as well (no second session)", async () => {
    expect(sandbox.available).toBe(true);
    const argv = sandbox.wrap(report, { readOnly: [], writable: [] });
    const { proc, group } = await niceness(argv, 12);
    expect(proc).toBe(12);
    expect(group).toMatch(/ nice 12$/);
  });

  test("a sandboxed process has no controlling terminal (no TTY injection without bwrap's --new-session)", async () => {
    const argv = sandbox.wrap(["cut", "-d", " ", "-f", "7", "/proc/self/stat"], {
      readOnly: [],
      writable: [],
    });
    const res = await runProcess({ argv, timeoutMs: 10_000, nice: 10 });
    expect(res.exitCode).toBe(0);
    expect(res.stdout.trim()).toBe("0"); // tty_nr: 0 = none
  });

  test("a niced child does not change the server's own autogroup", async () => {
    expect(existsSync(autogroup)).toBe(true);
    const before = await Bun.file(autogroup).text();
    await niceness(report, 19);
    expect(await Bun.file(autogroup).text()).toBe(before);
  });
});

describe("runProcess idle", () => {
  // Field 41 of /proc/<pid>/stat is the scheduling policy: 0 SCHED_OTHER, 5 SCHED_IDLE.
  const policy = ["sh", "-c", "cut -d' ' -f19,41 /proc/self/stat"];
  const run = async (argv: string[], opts: { idle?: boolean; nice?: number }) => {
    const res = await runProcess({ argv, timeoutMs: 10_000, ...opts });
    expect(res.exitCode).toBe(0);
    const [nice, pol] = res.stdout.trim().split(" ").map(Number);
    return { nice, policy: pol };
  };

  test("idle runs the process under SCHED_IDLE, with its niceness; without it, the normal policy", async () => {
    expect(await run(policy, { idle: true, nice: 10 })).toEqual({ nice: 10, policy: 5 });
    expect(await run(policy, { nice: 10 })).toEqual({ nice: 10, policy: 0 });
  });

  test("the policy reaches the process inside the bubblewrap sandbox", async () => {
    expect(sandbox.available).toBe(true);
    const argv = sandbox.wrap(policy, { readOnly: [], writable: [] });
    expect(await run(argv, { idle: true })).toEqual({ nice: 0, policy: 5 });
  });
});
