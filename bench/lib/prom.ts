/**
 * The Prometheus text format, read just far enough for the bench: samples of the named metrics,
 * counter differences, and quantiles of histogram differences (as PromQL's histogram_quantile
 * computes them: linear within the bucket).
 */

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of every metric whose name starts with one of `prefixes`. */
export function parseProm(text: string, prefixes: readonly string[]): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#") || !prefixes.some((p) => line.startsWith(p))) continue;
    const m = LINE.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1] ?? ""] = l[2] ?? "";
    out.push({ name: m[1] ?? "", labels, value: Number(m[3]) });
  }
  return out;
}

/** A scrape of the operator's /metrics: the samples whose names start with one of `prefixes`. */
export async function scrapeOperator(
  operator: { metrics(): Promise<string> },
  prefixes: readonly string[] = ["modelendpoint_"],
): Promise<PromSample[]> {
  return parseProm(await operator.metrics(), prefixes);
}

/** The sum of the samples named `name` whose labels include `match`. */
export function sumOf(
  samples: readonly PromSample[],
  name: string,
  match: Record<string, string> = {},
): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** Cumulative bucket counts of a histogram (summed over other labels), by upper bound. */
export function buckets(
  samples: readonly PromSample[],
  name: string,
  match: Record<string, string> = {},
): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    if (!Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    const le = s.labels["le"] === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels["le"]);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/** after - before, bucket by bucket. */
export function bucketDiff(after: Map<number, number>, before: Map<number, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [le, count] of after) out.set(le, count - (before.get(le) ?? 0));
  return out;
}

/**
 * The q-quantile (0..1) of a cumulative histogram, interpolated linearly within its bucket; the
 * upper bound of the last finite bucket when it falls into +Inf. NaN for an empty histogram.
 */
export function histogramQuantile(q: number, cumulative: Map<number, number>): number {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  const total = cumulative.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const le of bounds) {
    const count = cumulative.get(le) ?? 0;
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return prevBound;
      const inBucket = count - prevCount;
      return inBucket <= 0 ? le : prevBound + ((le - prevBound) * (rank - prevCount)) / inBucket;
    }
    prevBound = le;
    prevCount = count;
  }
  return prevBound;
}

/** A latency histogram of the operator's between two scrapes. */
export interface HistogramLatency {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export const NO_LATENCY: HistogramLatency = { count: 0, p50Ms: Number.NaN, p99Ms: Number.NaN };

/** The operator's whole reconcile, API calls included. */
export const RECONCILE_SECONDS = "modelendpoint_reconcile_duration_seconds";
/** The part of a reconcile before any API call (caches, validation, plan). */
export const DECIDE_SECONDS = "modelendpoint_reconcile_decide_duration_seconds";

/** p50/p99 of the observations of histogram `name` made between the `before` and `after` scrapes. */
export function latencyBetween(
  after: readonly PromSample[],
  before: readonly PromSample[],
  name: string,
): HistogramLatency {
  const diff = bucketDiff(buckets(after, name), buckets(before, name));
  return {
    count: diff.get(Number.POSITIVE_INFINITY) ?? 0,
    p50Ms: histogramQuantile(0.5, diff) * 1000,
    p99Ms: histogramQuantile(0.99, diff) * 1000,
  };
}
