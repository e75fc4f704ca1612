/**
 * Runs async sections one at a time, in call order: a check-then-write that SQLite's synchronous API used
 * to make atomic stays atomic within this process now that every query is awaited.
 */
export function createSerial() {
  let tail: Promise<unknown> = Promise.resolve();
  return function serial<T>(section: () => Promise<T>): Promise<T> {
    const run = tail.then(section, section);
    tail = run.catch(() => undefined);
    return run;
  };
}
