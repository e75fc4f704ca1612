/**
 * Prometheus metrics in the text exposition format, without a client library: counters and sums kept in
 * memory (per process), gauges read from their owners when scraped. Labels are low-cardinality by
 * construction (route patterns, never raw paths or ids). With several HTTP worker processes a scrape,
 * whichever process it reaches, sums the counters of all of them (see `setSource`).
 */
type Labels = Record<string, string | number>;

export const JOBS_TOTAL = "renderio_jobs_total";
export const JOBS_HELP = "Finished background work by kind (probe, command, webhook) and outcome";
export const DURATION = "renderio_job_duration_seconds";
export const DURATION_HELP = "Run time of background jobs by kind";

interface Family {
  help: string;
  type: "counter" | "gauge" | "summary";
  values: Map<string, number>;
}

/** One process's counters and summaries, as sent to the process that answers a scrape. */
export type MetricsSnapshot = [
  name: string,
  help: string,
  type: Family["type"],
  values: [string, number][],
][];

const key = (labels: Labels) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, "_")}"`)
    .join(",");

export function createMetrics() {
  const families = new Map<string, Family>();
  const gauges: { name: string; help: string; read: () => [Labels, number][] }[] = [];
  let source: (() => Promise<string>) | undefined;

  const family = (name: string, help: string, type: Family["type"]) => {
    let f = families.get(name);
    if (!f) {
      f = { help, type, values: new Map() };
      families.set(name, f);
    }
    return f;
  };

  return {
    inc(name: string, help: string, labels: Labels = {}, by = 1): void {
      const f = family(name, help, "counter");
      const k = key(labels);
      f.values.set(k, (f.values.get(k) ?? 0) + by);
    },
    /** Records one duration (seconds) as `<name>_sum` and `<name>_count`. */
    observe(name: string, help: string, labels: Labels, seconds: number): void {
      const f = family(name, help, "summary");
      const k = key(labels);
      f.values.set(`sum|${k}`, (f.values.get(`sum|${k}`) ?? 0) + seconds);
      f.values.set(`count|${k}`, (f.values.get(`count|${k}`) ?? 0) + 1);
    },
    gauge(name: string, help: string, read: () => [Labels, number][]): void {
      gauges.push({ name, help, read });
    },
    snapshot(): MetricsSnapshot {
      return [...families].map(([name, f]) => [name, f.help, f.type, [...f.values]]);
    },
    /** Where `text()` gets the scrape from: the primary sums its workers in, a worker asks the primary. */
    setSource(fn: () => Promise<string>): void {
      source = fn;
    },
    /** The scrape served at /metrics. */
    text(): Promise<string> {
      return source ? source() : Promise.resolve(this.render());
    },
    /** This process's metrics with the counters of `others` (other processes' snapshots) added in. */
    render(others: MetricsSnapshot[] = []): string {
      const merged = new Map([...families].map(([name, f]) => [name, { ...f, values: new Map(f.values) }]));
      for (const snap of others) {
        for (const [name, help, type, values] of snap) {
          let f = merged.get(name);
          if (!f) {
            f = { help, type, values: new Map() };
            merged.set(name, f);
          }
          for (const [k, v] of values) f.values.set(k, (f.values.get(k) ?? 0) + v);
        }
      }
      const out: string[] = [];
      for (const [name, f] of merged) {
        out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
        for (const [k, v] of f.values) {
          if (f.type !== "summary") out.push(`${name}${k ? `{${k}}` : ""} ${v}`);
          else {
            const [part, labels] = k.split("|") as [string, string];
            out.push(`${name}_${part}${labels ? `{${labels}}` : ""} ${v}`);
          }
        }
      }
      for (const g of gauges) {
        out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
        for (const [labels, v] of g.read()) {
          const k = key(labels);
          out.push(`${g.name}${k ? `{${k}}` : ""} ${v}`);
        }
      }
      return `${out.join("\n")}\n`;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
