/**
 * Large transfers turn every body chunk into garbage, and the collector, paced by heap growth rather
 * than by buffer bytes, lets tens of MB of dead chunks pile up before it runs (measured: a 1 GiB upload
 * added ~28 MB of resident memory to local disk, ~90 MB of dead chunks beside the S3 part pool). Loops
 * that move bytes call this at their natural checkpoints (every 8 MiB flushed or part filled): a full
 * collection runs only when the chosen measure of JS-managed memory is over `limit`, which at disk or
 * network speed is a few times per GiB (bench/upload.ts and bench/s3.ts show no throughput loss).
 */
export function collectIfAbove(limit: number, measure: (m: NodeJS.MemoryUsage) => number): void {
  if (measure(process.memoryUsage()) > limit) Bun.gc(true);
}
