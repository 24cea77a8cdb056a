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

/** What of a deployed model's spec decides its progress deadline. */
export interface DeadlineInputs {
  readonly rolloutOptions?: RolloutOptions | undefined;
  readonly containerSpec?: { readonly deploymentTimeout?: string | undefined } | undefined;
}

/**
 * The progress deadline in whole seconds (R8): rolloutOptions.progressDeadlineSeconds, else the
 * container's deploymentTimeout (Vertex's, a Duration such as "1800s"), else the default. A missing,
 * non-positive or non-finite value means the next one: a rollout that can never fail would never
 * revert, which is the one thing R8 forbids.
 */
export function calculateProgressDeadlineSeconds(spec: DeadlineInputs | undefined): number {
  for (const value of [
    spec?.rolloutOptions?.progressDeadlineSeconds,
    durationSeconds(spec?.containerSpec?.deploymentTimeout),
  ]) {
    if (value !== undefined && Number.isFinite(value) && value >= 1) return Math.floor(value);
  }
  return DEFAULT_PROGRESS_DEADLINE_SECONDS;
}

/** A proto3 JSON Duration ("1800s", "1.5s") in seconds; undefined when absent or malformed. */
export function durationSeconds(duration: string | undefined): number | undefined {
  const match = duration === undefined ? null : /^(\d+(?:\.\d+)?)s$/.exec(duration);
  return match?.[1] === undefined ? undefined : Number(match[1]);
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
