import { describe, expect, it } from "vitest";
import { calculateBudgets } from "./budgets.ts";
import type { Budgets } from "./budgets.ts";
import {
  calculateIntendedReplicas,
  calculateMaxScaledDown,
  calculateOldScaleDown,
  scaledTo,
} from "./replicas.ts";
import type { MemberCounts } from "./replicas.ts";

/** A member with `replicas` (spec), `available` of them available, and pods = replicas unless given. */
function member(id: string, replicas: number, available: number, pods = replicas): MemberCounts {
  return { id, replicas, pods, available };
}

const budgets = (maxSurge: number, maxUnavailable: number): Budgets => ({ maxSurge, maxUnavailable });

describe("calculateIntendedReplicas (NewRSNewReplicas)", () => {
  it.each([
    // name, N, budgets, intended, others, expected
    [
      "N=10 surge 3: a new revision starts with 3",
      10,
      budgets(3, 2),
      member("new", 0, 0),
      [member("old", 10, 10)],
      3,
    ],
    [
      "N=10 surge 3: old at 8, new at 3 -> 5",
      10,
      budgets(3, 2),
      member("new", 3, 3),
      [member("old", 8, 8)],
      5,
    ],
    [
      "N=10 surge 3: pods already at 13 -> unchanged",
      10,
      budgets(3, 2),
      member("new", 5, 0),
      [member("old", 8, 8)],
      5,
    ],
    ["never past N", 10, budgets(3, 2), member("new", 9, 9), [member("old", 0, 0)], 10],
    ["above N (drift, or N lowered): back to N at once", 5, budgets(1, 0), member("new", 8, 8), [], 5],
    ["first deployment: all N at once", 5, budgets(2, 1), member("new", 0, 0), [], 5],
    [
      "surge 0, old at N: nothing until an old pod goes",
      3,
      budgets(0, 1),
      member("new", 0, 0),
      [member("old", 3, 3)],
      0,
    ],
    ["surge 0, old at N-1: one", 3, budgets(0, 1), member("new", 0, 0), [member("old", 2, 2)], 1],
    [
      "N=1 surge 1: the new pod next to the old one",
      1,
      budgets(1, 0),
      member("new", 0, 0),
      [member("old", 1, 1)],
      1,
    ],
    ["N=2 surge 1", 2, budgets(1, 0), member("new", 1, 0), [member("old", 2, 2)], 1],
    ["N=3 surge 1, old at 2", 3, budgets(1, 0), member("new", 1, 1), [member("old", 2, 2)], 2],
    // Pods in flight count: old scaled to 2 but 3 pods still there.
    [
      "pods not yet gone count against the surge",
      3,
      budgets(1, 0),
      member("new", 1, 1),
      [member("old", 2, 2, 3)],
      1,
    ],
    [
      "a scale-up not yet carried out counts too",
      3,
      budgets(1, 0),
      member("new", 1, 0, 1),
      [member("old", 3, 3)],
      1,
    ],
    ["N=0: nothing", 0, budgets(0, 0), member("new", 0, 0), [], 0],
  ])("%s", (_name, n, b, intended, others, expected) => {
    expect(calculateIntendedReplicas(n, b, intended, [intended, ...others])).toBe(expected);
  });
});

describe("calculateMaxScaledDown", () => {
  it.each([
    // The Deployment controller's worked example: 10 replicas, surge 3, unavailable 2.
    ["old 8, new 5 all crash-looping: 13 - 8 - 5 = 0", member("new", 5, 0), [member("old", 8, 8)], 0],
    ["old 8, new 5 all available: 13 - 8 - 0 = 5", member("new", 5, 5), [member("old", 8, 8)], 5],
    ["old 10, new 3 not yet available: 13 - 8 - 3 = 2", member("new", 3, 0), [member("old", 10, 10)], 2],
    // Roll-over case 2: a new revision at 0, two old ones at 13 pods: 13 - 8 - 0 = 5.
    ["roll-over onto two old members", member("newest", 0, 0), [member("a", 8, 8), member("b", 5, 0)], 5],
  ])("%s", (_name, intended, others, expected) => {
    expect(calculateMaxScaledDown(10, budgets(3, 2), intended, [intended, ...others])).toBe(expected);
  });
});

describe("calculateOldScaleDown (reconcileOldReplicaSets)", () => {
  it.each([
    // name, N, budgets, intended, old (in retirement order), expected changes
    [
      "N=10 s3 u2: new 3 unavailable, old 10 -> 8",
      10,
      budgets(3, 2),
      member("new", 3, 0),
      [member("old", 10, 10)],
      [["old", 10, 8]],
    ],
    [
      "N=10 s3 u2: new 3 available, old 8 -> 5",
      10,
      budgets(3, 2),
      member("new", 3, 3),
      [member("old", 8, 8)],
      [["old", 8, 5]],
    ],
    [
      "N=10 s3 u2: new 5 crash-looping, old 8 stays",
      10,
      budgets(3, 2),
      member("new", 5, 0),
      [member("old", 8, 8)],
      [],
    ],
    [
      "N=10 s3 u2: new 5 crash-looping and an old pod died: still nothing (unavailable new pods free nothing)",
      10,
      budgets(3, 2),
      member("new", 5, 0),
      [member("old", 8, 7)],
      [],
    ],
    [
      "rollback (R9): the crash-looping in-progress member is old now and goes first",
      10,
      budgets(3, 2),
      member("back", 1, 1),
      [member("broken", 5, 0), member("orig", 7, 7)],
      [["broken", 5, 0]],
    ],
    [
      "unhealthy old pods first (1), then healthy ones within availability (1)",
      5,
      budgets(1, 1),
      member("new", 2, 2),
      [member("old", 4, 3)],
      [["old", 4, 2]],
    ],
    [
      "availability already at the minimum: only unhealthy pods go",
      4,
      budgets(1, 1),
      member("new", 1, 0),
      [member("old", 4, 3)],
      [["old", 4, 3]],
    ],
    [
      "pods at the minimum: not even an unhealthy pod goes until new pods add headroom (as in Kubernetes)",
      4,
      budgets(1, 0),
      member("new", 1, 1),
      [member("old", 3, 2)],
      [],
    ],
    [
      "availability below the minimum (it started lower): an unhealthy pod goes, no healthy one",
      4,
      budgets(1, 0),
      member("new", 2, 2),
      [member("old", 3, 1)],
      [["old", 3, 2]],
    ],
    [
      "N=1 s1 u0: old goes once the new pod is available",
      1,
      budgets(1, 0),
      member("new", 1, 1),
      [member("old", 1, 1)],
      [["old", 1, 0]],
    ],
    ["N=1 s1 u0: not before", 1, budgets(1, 0), member("new", 1, 0), [member("old", 1, 1)], []],
    [
      "N=1 s0 u1 (0/0): the old pod may go first",
      1,
      budgets(0, 1),
      member("new", 0, 0),
      [member("old", 1, 1)],
      [["old", 1, 0]],
    ],
    [
      "N=2 s1 u0: one at a time",
      2,
      budgets(1, 0),
      member("new", 1, 1),
      [member("old", 2, 2)],
      [["old", 2, 1]],
    ],
    [
      "N=3 s1 u0: one at a time",
      3,
      budgets(1, 0),
      member("new", 2, 2),
      [member("old", 2, 2)],
      [["old", 2, 1]],
    ],
    [
      "several old members drain in the given order",
      4,
      budgets(1, 1),
      member("new", 4, 4),
      [member("b", 1, 1), member("a", 2, 2)],
      [
        ["b", 1, 0],
        ["a", 2, 0],
      ],
    ],
    ["no old replicas: nothing", 3, budgets(1, 0), member("new", 3, 3), [member("old", 0, 0)], []],
  ] as const)("%s", (_name, n, b, intended, old, expected) => {
    const changes = calculateOldScaleDown(n, b, intended, old, [intended, ...old]);
    expect(changes.map((c) => [c.id, c.from, c.to])).toEqual(expected);
  });

  it("a whole rollout of N=10, surge 3, unavailable 2 in steps, the Deployment controller's way", () => {
    const b = calculateBudgets({ maxSurgeReplicas: 3, maxUnavailableReplicas: 2 }, 10);
    let fresh = 0;
    let old = 10;
    const steps: string[] = [];
    for (let pass = 0; pass < 20 && (fresh < 10 || old > 0); pass++) {
      // Every pod becomes available before the next pass.
      const intended = member("new", fresh, fresh);
      const all = [intended, member("old", old, old)];
      const up = calculateIntendedReplicas(10, b, intended, all);
      if (up !== fresh) {
        steps.push(`new ${fresh}->${up}`);
        fresh = up;
        continue;
      }
      const [down] = calculateOldScaleDown(10, b, intended, [member("old", old, old)], all);
      if (down !== undefined) {
        steps.push(`old ${down.from}->${down.to}`);
        old = down.to;
      }
    }
    expect(steps).toEqual(["new 0->3", "old 10->5", "new 3->8", "old 5->0", "new 8->10"]);
  });
});

describe("scaledTo: a member's counts right after its spec changes", () => {
  const member: MemberCounts = { id: "m2", replicas: 3, pods: 3, available: 2 };

  it("counts a scale-up's pods at once and keeps what is available", () => {
    expect(scaledTo(member, 5)).toEqual({ id: "m2", replicas: 5, pods: 5, available: 2 });
  });

  it("keeps a scale-down's pods until they go, and counts no more available than the new spec", () => {
    expect(scaledTo(member, 1)).toEqual({ id: "m2", replicas: 1, pods: 3, available: 1 });
  });
});
