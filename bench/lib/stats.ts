/**
 * Small statistics over benchmark samples: medians with min and max (the figures BENCHMARKS.md
 * reports), nearest-rank percentiles, and the machine load at the moment a sample was taken.
 */
import { loadavg } from "node:os";

import { percentile } from "../../src/testing/stats.ts";

/** The load averages (1, 5, 15 minutes), rounded to two decimals. */
export function load(): readonly [number, number, number] {
  const [a = 0, b = 0, c = 0] = loadavg();
  const r = (x: number): number => Math.round(x * 100) / 100;
  return [r(a), r(b), r(c)];
}

/** Median, min and max of a set of samples (empty: NaN). */
export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(values: readonly number[]): Summary {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { n: 0, median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] ?? Number.NaN)
      : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
  return {
    n: sorted.length,
    median,
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export interface Distribution {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export function distribution(values: readonly number[]): Distribution {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
  };
}

/** Rounds for JSON and tables: `digits` decimals, NaN kept as null-able NaN. */
export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
