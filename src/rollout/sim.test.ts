import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runScenario } from "./testing/sim.ts";
import type { BudgetChoice, ChainScenario, RunStats, Scenario, UserOp } from "./testing/sim.ts";

/**
 * Property tests of the engine against the simulator: random endpoints (1-2 chains, N = 1..6, random
 * budgets and deadlines), random rollout sequences (roll-overs, rollbacks onto in-progress rollouts,
 * broken revisions, cleanups, removals of any entry at any moment: git reverts), random interleavings of operator passes, ReplicaSet controller ticks,
 * pod readiness and pod deaths. At every step the simulator checks R4 (surge, and availability when
 * no pod dies, removals included: a revert rolls back within the budgets), R6 (an unready pod is
 * labelled to serve only where it serves once Ready), R1 (revisions never change, and no number of a
 * rolling deployment is given to two entries), R8 (no failure before
 * the deadline, none missed after it, good revisions never fail) and idempotence (the applied plan,
 * planned again, changes nothing); at the end, that every chain converged on its newest revision that
 * did not fail, with N available, and the conditions say so.
 */

/** Random runs per `make test-unit`: this suite is the bulk of them. */
export const RUNS = 2000;

const budget: fc.Arbitrary<BudgetChoice> = fc
  .record(
    {
      maxSurgeReplicas: fc.integer({ min: 0, max: 3 }),
      maxSurgePercentage: fc.integer({ min: 0, max: 100 }),
      maxUnavailableReplicas: fc.integer({ min: 0, max: 3 }),
      maxUnavailablePercentage: fc.integer({ min: 0, max: 100 }),
    },
    { requiredKeys: [] },
  )
  .map((b): BudgetChoice => {
    // The API allows a count or a percentage, never both.
    const { maxSurgeReplicas, maxSurgePercentage, maxUnavailableReplicas, maxUnavailablePercentage } = b;
    return {
      ...(maxSurgeReplicas !== undefined
        ? { maxSurgeReplicas }
        : maxSurgePercentage !== undefined
          ? { maxSurgePercentage }
          : {}),
      ...(maxUnavailableReplicas !== undefined
        ? { maxUnavailableReplicas }
        : maxUnavailablePercentage !== undefined
          ? { maxUnavailablePercentage }
          : {}),
    };
  });

const op: fc.Arbitrary<UserOp> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<UserOp>({ kind: "rollout", behaviour: "good" }) },
  { weight: 2, arbitrary: fc.constant<UserOp>({ kind: "rollout", behaviour: "never" }) },
  { weight: 1, arbitrary: fc.constant<UserOp>({ kind: "cleanup" }) },
  { weight: 2, arbitrary: fc.nat(5).map((pick): UserOp => ({ kind: "remove", pick })) },
);

const chain: fc.Arbitrary<ChainScenario> = fc.record({
  replicas: fc.integer({ min: 1, max: 6 }),
  budget,
  deadlineSeconds: fc.integer({ min: 90, max: 400 }),
  rootBehaviour: fc.oneof(
    { weight: 9, arbitrary: fc.constant("good" as const) },
    { weight: 1, arbitrary: fc.constant("never" as const) },
  ),
  weight: fc.integer({ min: 0, max: 10 }),
  ops: fc.array(op, { maxLength: 5 }),
});

const scenario: fc.Arbitrary<Scenario> = fc.record({
  seed: fc.integer(),
  chains: fc.array(chain, { minLength: 1, maxLength: 2 }),
  disruptions: fc.boolean(),
  steps: fc.integer({ min: 10, max: 80 }),
});

describe("the engine in a simulated cluster", () => {
  it(`keeps R1, R4, R6, R8 and idempotence at every step and converges (${RUNS} random runs)`, () => {
    const totals = { runs: 0, passes: 0, actions: 0, rollouts: 0, completed: 0, failed: 0, refused: 0 };
    const add = (stats: RunStats): void => {
      totals.runs++;
      totals.passes += stats.passes;
      totals.actions += stats.actions;
      totals.rollouts += stats.rollouts;
      totals.completed += stats.completed;
      totals.failed += stats.failed;
      totals.refused += stats.refused;
    };
    fc.assert(
      fc.property(scenario, (s) => {
        add(runScenario(s));
      }),
      { numRuns: RUNS },
    );
    // The count the project reports: how much random checking one `make test-unit` does.
    console.info(`[rollout sim] ${JSON.stringify(totals)}`);
    expect(totals.runs).toBeGreaterThanOrEqual(RUNS);
    expect(totals.completed).toBeGreaterThan(0);
    expect(totals.failed).toBeGreaterThan(0);
  }, 120_000);
});
