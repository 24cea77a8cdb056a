import type { RolloutOptions } from "./types.ts";

/** R4: when neither a count nor a percentage is given, surge and unavailability are 25% of N each. */
export const DEFAULT_BUDGET_PERCENTAGE = 25;

/** R8: a rollout without progress for this long fails, unless rolloutOptions say otherwise. */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

/** The budget fields of rolloutOptions; a root (no rolloutOptions) uses the defaults. */
export type BudgetOptions = Pick<
  RolloutOptions,
  "maxSurgeReplicas" | "maxSurgePercentage" | "maxUnavailableReplicas" | "maxUnavailablePercentage"
>;

/** The resolved budgets of a chain with N replicas. */
export interface Budgets {
  /** Pods allowed above N: at every instant, pods of the chain <= N + maxSurge. */
  readonly maxSurge: number;
  /** Pods allowed below N: at every instant, available pods of the chain >= N - maxUnavailable. */
  readonly maxUnavailable: number;
}

/**
 * Resolves maxSurge and maxUnavailable for a chain of N replicas (R4), the way the Deployment
 * controller's ResolveFenceposts and MaxUnavailable do:
 *
 * - a count wins over a percentage (the API forbids giving both);
 * - a percentage is of N: surge rounds up, unavailability rounds down, so a small pool still gets to
 *   surge and never loses more than the percentage allows;
 * - when both resolve to 0, maxUnavailable becomes 1: a rollout must be able to move at all, and the
 *   Vertex SDK sends 0/0 by default (surge may be impossible under a quota, so unavailability is the
 *   one that gives);
 * - maxUnavailable never exceeds N.
 *
 * With the defaults (25% / 25%):
 *
 *     N            1  2  3  4  5  10  100
 *     maxSurge     1  1  1  1  2   3   25    ceil(N / 4)
 *     maxUnavail   0  0  0  1  1   2   25    floor(N / 4)
 *
 * So N = 3 rolls one pod at a time with a surge pod and never drops below 3 available, while N = 10
 * may run 13 pods and drop to 8 available: "10 replicas, surge 3, unavailable 2".
 */
export function calculateBudgets(options: BudgetOptions | undefined, replicas: number): Budgets {
  const n = wholeNonNegative(replicas);
  const maxSurge = scaledValue(options?.maxSurgeReplicas, options?.maxSurgePercentage, n, Math.ceil);
  let maxUnavailable = scaledValue(
    options?.maxUnavailableReplicas,
    options?.maxUnavailablePercentage,
    n,
    Math.floor,
  );
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, n) };
}

/**
 * The progress deadline in whole seconds (R8). A missing, non-positive or non-finite value means the
 * default: a rollout that can never fail would never revert, which is the one thing R8 forbids.
 */
export function calculateProgressDeadlineSeconds(options: RolloutOptions | undefined): number {
  const value = options?.progressDeadlineSeconds;
  if (value === undefined || !Number.isFinite(value) || value < 1) return DEFAULT_PROGRESS_DEADLINE_SECONDS;
  return Math.floor(value);
}

/** A count as given, or a percentage of N rounded by `round`; negative and fractional counts are cut. */
function scaledValue(
  count: number | undefined,
  percentage: number | undefined,
  n: number,
  round: (x: number) => number,
): number {
  if (count !== undefined && Number.isFinite(count)) return wholeNonNegative(count);
  const pct =
    percentage !== undefined && Number.isFinite(percentage)
      ? Math.max(0, percentage)
      : DEFAULT_BUDGET_PERCENTAGE;
  return round((pct * n) / 100);
}

function wholeNonNegative(value: number): number {
  return Number.isFinite(value) ? Math.max(0, Math.floor(value)) : 0;
}
