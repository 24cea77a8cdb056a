import { describe, expect, it } from "vitest";
import {
  calculateBudgets,
  calculateProgressDeadlineSeconds,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
} from "./budgets.ts";
import type { BudgetOptions } from "./budgets.ts";

describe("calculateBudgets (R4)", () => {
  // [N, maxSurge, maxUnavailable] with the defaults: surge ceil(25%), unavailable floor(25%).
  it.each([
    [0, 0, 0],
    [1, 1, 0],
    [2, 1, 0],
    [3, 1, 0],
    [4, 1, 1],
    [5, 2, 1],
    [10, 3, 2],
    [100, 25, 25],
  ])("defaults 25%%/25%% at N=%i: surge %i, unavailable %i", (n, maxSurge, maxUnavailable) => {
    expect(calculateBudgets(undefined, n)).toEqual({ maxSurge, maxUnavailable });
    expect(calculateBudgets({}, n)).toEqual({ maxSurge, maxUnavailable });
  });

  // Percentages of N: surge rounds up, unavailable rounds down.
  it.each([
    // N, surge %, unavailable %, maxSurge, maxUnavailable
    [1, 10, 10, 1, 0],
    [2, 10, 10, 1, 0],
    [3, 10, 10, 1, 0],
    [3, 34, 34, 2, 1],
    [3, 33, 66, 1, 1],
    [4, 50, 50, 2, 2],
    [5, 20, 20, 1, 1],
    [10, 30, 20, 3, 2],
    [10, 35, 35, 4, 3],
    [100, 1, 1, 1, 1],
    [100, 100, 100, 100, 100],
  ])(
    "N=%i, surge %i%%, unavailable %i%%: %i / %i",
    (n, surgePct, unavailablePct, maxSurge, maxUnavailable) => {
      const options: BudgetOptions = {
        maxSurgePercentage: surgePct,
        maxUnavailablePercentage: unavailablePct,
      };
      expect(calculateBudgets(options, n)).toEqual({ maxSurge, maxUnavailable });
    },
  );

  // Both resolve to 0: unavailable becomes 1 (and never more than N).
  it.each([
    ["counts 0/0", { maxSurgeReplicas: 0, maxUnavailableReplicas: 0 }],
    ["percentages 0/0", { maxSurgePercentage: 0, maxUnavailablePercentage: 0 }],
    ["a count 0 and a percentage rounding to 0", { maxSurgeReplicas: 0, maxUnavailablePercentage: 10 }],
  ])("%s: surge 0, unavailable 1 at N = 1, 2, 3, 10; 0 at N = 0", (_name, options: BudgetOptions) => {
    for (const n of [1, 2, 3, 10])
      expect(calculateBudgets(options, n)).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    expect(calculateBudgets(options, 0)).toEqual({ maxSurge: 0, maxUnavailable: 0 });
  });

  it.each([
    // options, N, expected
    [{ maxSurgeReplicas: 3, maxUnavailableReplicas: 2 }, 10, { maxSurge: 3, maxUnavailable: 2 }],
    [{ maxSurgeReplicas: 1, maxUnavailableReplicas: 0 }, 5, { maxSurge: 1, maxUnavailable: 0 }],
    [{ maxSurgeReplicas: 0, maxUnavailableReplicas: 1 }, 1, { maxSurge: 0, maxUnavailable: 1 }],
    // Unavailable never exceeds N; surge may.
    [{ maxSurgeReplicas: 7, maxUnavailableReplicas: 7 }, 3, { maxSurge: 7, maxUnavailable: 3 }],
    // A count wins over a percentage given alongside (the API forbids both).
    [
      {
        maxSurgeReplicas: 1,
        maxSurgePercentage: 100,
        maxUnavailableReplicas: 0,
        maxUnavailablePercentage: 100,
      },
      4,
      { maxSurge: 1, maxUnavailable: 0 },
    ],
    // Only one side given: the other takes its default.
    [{ maxSurgeReplicas: 2 }, 8, { maxSurge: 2, maxUnavailable: 2 }],
    [{ maxUnavailablePercentage: 50 }, 8, { maxSurge: 2, maxUnavailable: 4 }],
    // Nonsense is cut to whole non-negative numbers.
    [{ maxSurgeReplicas: -2, maxUnavailableReplicas: 1.7 }, 4, { maxSurge: 0, maxUnavailable: 1 }],
    [
      { maxSurgePercentage: -50, maxUnavailablePercentage: Number.NaN },
      4,
      { maxSurge: 0, maxUnavailable: 1 },
    ],
  ] as const)("counts %j at N=%i", (options, n, expected) => {
    expect(calculateBudgets(options, n)).toEqual(expected);
  });
});

describe("calculateProgressDeadlineSeconds (R8)", () => {
  it.each([
    [undefined, DEFAULT_PROGRESS_DEADLINE_SECONDS],
    [{ previousDeployedModel: "m1" }, 600],
    [{ previousDeployedModel: "m1", progressDeadlineSeconds: 30 }, 30],
    [{ previousDeployedModel: "m1", progressDeadlineSeconds: 90.9 }, 90],
    [{ previousDeployedModel: "m1", progressDeadlineSeconds: 0 }, 600],
    [{ previousDeployedModel: "m1", progressDeadlineSeconds: -5 }, 600],
    [{ previousDeployedModel: "m1", progressDeadlineSeconds: Number.POSITIVE_INFINITY }, 600],
  ])("%j -> %i", (options, seconds) => {
    expect(
      calculateProgressDeadlineSeconds(options === undefined ? undefined : { rolloutOptions: options }),
    ).toBe(seconds);
  });

  it.each([
    [{ containerSpec: { deploymentTimeout: "1800s" } }, 1800],
    [{ containerSpec: { deploymentTimeout: "90.5s" } }, 90],
    [{ containerSpec: { deploymentTimeout: "0s" } }, 600],
    [{ containerSpec: { deploymentTimeout: "30m" } }, 600],
    [
      {
        rolloutOptions: { previousDeployedModel: "m1", progressDeadlineSeconds: 30 },
        containerSpec: { deploymentTimeout: "1800s" },
      },
      30,
    ],
    [
      { rolloutOptions: { previousDeployedModel: "m1" }, containerSpec: { deploymentTimeout: "1800s" } },
      1800,
    ],
  ])("deploymentTimeout: %j -> %i", (spec, seconds) => {
    expect(calculateProgressDeadlineSeconds(spec)).toBe(seconds);
  });
});
