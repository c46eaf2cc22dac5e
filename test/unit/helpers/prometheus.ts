// Reads a /metrics answer with a Prometheus text-format parser (parse-prometheus-text-format,
// prom2json's shape), so tests check what a Prometheus server would read.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface Histogram {
  /** Cumulative counts by upper bound, "+Inf" included. */
  readonly buckets: ReadonlyMap<string, number>;
  readonly count: number;
  readonly sum: number;
}

export class Scrape {
  readonly #families: Map<string, ReturnType<typeof parsePrometheusTextFormat>[number]>;

  constructor(text: string) {
    this.#families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
  }

  has(name: string): boolean {
    return this.#families.has(name);
  }

  type(name: string): string | undefined {
    return this.#families.get(name)?.type;
  }

  /** The samples of `name` whose labels include `labels`. */
  samples(name: string, labels: Record<string, string> = {}): { labels: Record<string, string>; value: number }[] {
    const family = this.#families.get(name);
    return (family?.metrics ?? [])
      .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
      .map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) }));
  }

  /** The sum of the samples of `name` whose labels include `labels` (0 when there are none). */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.samples(name, labels).reduce((sum, s) => sum + s.value, 0);
  }

  histogram(name: string): Histogram | undefined {
    const sample = this.#families.get(name)?.metrics[0];
    if (!sample?.buckets) return undefined;
    return {
      buckets: new Map(Object.entries(sample.buckets).map(([le, n]) => [le, Number(n)])),
      count: Number(sample.count),
      sum: Number(sample.sum),
    };
  }
}
