import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { createBoardFile, openLoadBoard } from "../../src/http-workers/balance";

describe("load board", () => {
  test("a process is overloaded only when it carries more than one request above the average", () => {
    const board = createBoardFile(2);
    try {
      const [a, b] = [openLoadBoard(board.path, 2, 0), openLoadBoard(board.path, 2, 1)];
      const split = (x: number, y: number) => {
        a.publish(x);
        b.publish(y);
        return [a.overloaded(), b.overloaded()];
      };
      expect(split(0, 0)).toEqual([false, false]);
      expect(split(8, 8)).toEqual([false, false]);
      expect(split(9, 7)).toEqual([false, false]); // one above the average of 8: tolerated
      expect(split(10, 6)).toEqual([true, false]);
      expect(split(3, 13)).toEqual([false, true]);
      expect(split(2, 0)).toEqual([false, false]); // 2 against an average of 1
      expect(split(3, 0)).toEqual([true, false]);
    } finally {
      board.remove();
    }
  });

  test("one process alone is never overloaded; slots must exist", () => {
    const board = createBoardFile(1);
    try {
      const only = openLoadBoard(board.path, 1, 0);
      only.publish(500);
      expect(only.overloaded()).toBe(false);
      expect(() => openLoadBoard(board.path, 1, 1)).toThrow(/no slot 1 of 1/);
      expect(() => openLoadBoard(board.path, 2, 0)).toThrow(/no slot 0 of 2/);
    } finally {
      board.remove();
    }
  });

  test("another process's count is seen at once (MAP_SHARED); the file is private and removable", async () => {
    const board = createBoardFile(3);
    try {
      expect(statSync(board.path).mode & 0o777).toBe(0o600);
      expect(statSync(board.path).size).toBe(12);
      const mine = openLoadBoard(board.path, 3, 0);
      mine.publish(1);
      const script = `
        const { openLoadBoard } = await import(${JSON.stringify(require.resolve("../../src/http-workers/balance"))});
        openLoadBoard(${JSON.stringify(board.path)}, 3, 2).publish(40);
      `;
      const child = Bun.spawn(["bun", "-e", script], { stdout: "ignore", stderr: "pipe" });
      expect(await child.exited).toBe(0);
      // 1 here, 0 and 40 elsewhere: the child's slot makes the third process the loaded one.
      expect(mine.overloaded()).toBe(false);
      expect(openLoadBoard(board.path, 3, 2).overloaded()).toBe(true);
    } finally {
      board.remove();
    }
    expect(existsSync(dirname(board.path))).toBe(false);
  });

  test("a board left by a primary that is gone is removed when the next one is created; a live one is kept", () => {
    const first = createBoardFile(2);
    const base = dirname(dirname(first.path));
    // A PID that cannot be running (above Linux's pid_max limit) and this process's parent, which is.
    const gone = join(base, "renderio-board-4194305-stale");
    const live = join(base, `renderio-board-${process.ppid}-live`);
    mkdirSync(gone);
    mkdirSync(live);
    const second = createBoardFile(2);
    try {
      expect(dirname(second.path)).toContain(`/renderio-board-${process.pid}-`);
      expect(existsSync(gone)).toBe(false);
      expect(existsSync(live)).toBe(true);
      expect(existsSync(first.path)).toBe(true); // this process's own board is in use
    } finally {
      first.remove();
      second.remove();
      Bun.spawnSync(["rm", "-rf", live]);
    }
  });
});
