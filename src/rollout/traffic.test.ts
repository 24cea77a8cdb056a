import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  calculateEffectiveSplit,
  calculateExactSplit,
  calculateServingCounts,
  distributeProportionally,
  findServingPods,
} from "./traffic.ts";
import type { ChainSupply, TrafficChain } from "./traffic.ts";
import type { PodSnapshot } from "./types.ts";

const supplies = (shares: readonly number[], ready: readonly number[]): ChainSupply[] =>
  shares.map((share, i) => ({ share, ready: ready[i] ?? 0 }));

/** max_c |k_c / K - s_c| as an exact fraction [numerator, denominator] over the normalised shares. */
function deviation(input: readonly ChainSupply[], counts: readonly number[]): [number, number] {
  const eligible = input
    .map((s, i) => ({ ...s, k: counts[i] ?? 0 }))
    .filter((s) => s.share > 0 && s.ready > 0);
  const total = eligible.reduce((a, s) => a + s.share, 0);
  const k = eligible.reduce((a, s) => a + s.k, 0);
  const worst = Math.max(0, ...eligible.map((s) => Math.abs(s.k * total - s.share * k)));
  return [worst, k * total];
}

describe("calculateServingCounts (R11)", () => {
  it.each([
    // shares, ready, serving
    [[100], [5], [5]],
    [
      [50, 50],
      [3, 5],
      [3, 3],
    ],
    [
      [90, 10],
      [10, 10],
      [9, 1],
    ],
    [
      [60, 40],
      [5, 5],
      [3, 2],
    ],
    [
      [70, 30],
      [4, 4],
      [4, 2],
    ],
    [
      [75, 25],
      [3, 3],
      [3, 1],
    ],
    [
      [90, 10],
      [1, 1],
      [1, 0],
    ],
    [
      [98, 1, 1],
      [1, 1, 1],
      [1, 0, 0],
    ],
    [
      [1, 99],
      [5, 5],
      [0, 5],
    ],
    [
      [33, 33, 34],
      [2, 5, 9],
      [2, 2, 2],
    ],
    // A chain without a share serves nothing; without ready pods its traffic goes to the others.
    [
      [100, 0],
      [3, 4],
      [3, 0],
    ],
    [
      [70, 30],
      [0, 4],
      [0, 4],
    ],
    [
      [50, 50],
      [0, 0],
      [0, 0],
    ],
    // An empty split serves nothing at all.
    [
      [0, 0],
      [3, 3],
      [0, 0],
    ],
    [[], [], []],
  ])("shares %j with %j ready serve %j", (shares, ready, expected) => {
    expect(calculateServingCounts(supplies(shares, ready))).toEqual(expected);
  });

  const input = fc
    .array(fc.record({ share: fc.integer({ min: 0, max: 100 }), ready: fc.integer({ min: 0, max: 6 }) }), {
      minLength: 1,
      maxLength: 4,
    })
    .filter((xs) => xs.some((x) => x.share > 0 && x.ready > 0));

  it("serves only Ready pods, never more than a chain has, and something when it can", () => {
    fc.assert(
      fc.property(input, (xs) => {
        const counts = calculateServingCounts(xs);
        counts.forEach((k, i) => {
          expect(k).toBeGreaterThanOrEqual(0);
          expect(k).toBeLessThanOrEqual(xs[i]?.ready ?? 0);
          if ((xs[i]?.share ?? 0) === 0) expect(k).toBe(0);
        });
        expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  it("is optimal: no choice has a smaller largest deviation, and none with the same deviation serves more pods", () => {
    fc.assert(
      fc.property(input, (xs) => {
        const chosen = calculateServingCounts(xs);
        const [dn, dd] = deviation(xs, chosen);
        const served = chosen.reduce((a, b) => a + b, 0);
        // Every vector 0 <= k_c <= ready_c (0 for chains without a share), not all 0.
        const search = (i: number, prefix: number[]): void => {
          if (i === xs.length) {
            const total = prefix.reduce((a, b) => a + b, 0);
            if (total === 0) return;
            const [n, d] = deviation(xs, prefix);
            // n/d < dn/dd would beat the choice; so would an equal deviation with more pods.
            expect(n * dd).toBeGreaterThanOrEqual(dn * d);
            if (n * dd === dn * d) expect(total).toBeLessThanOrEqual(served);
            return;
          }
          const x = xs[i];
          const max = x !== undefined && x.share > 0 ? x.ready : 0;
          for (let k = 0; k <= max; k++) search(i + 1, [...prefix, k]);
        };
        search(0, []);
      }),
      { numRuns: 300 },
    );
  });

  it("stays within the documented worst case: below 100/K' points and at most 100 - s_max", () => {
    fc.assert(
      fc.property(input, (xs) => {
        const eligible = xs.filter((s) => s.share > 0 && s.ready > 0);
        const total = eligible.reduce((a, s) => a + s.share, 0);
        const kPrime = Math.min(...eligible.map((s) => Math.floor((s.ready * total) / s.share)));
        const maxShare = Math.max(...eligible.map((s) => s.share));
        const [n, d] = deviation(xs, calculateServingCounts(xs));
        // n/d < 1/K'  and  n/d <= (total - maxShare)/total
        expect(n * kPrime).toBeLessThan(d);
        expect(n * total).toBeLessThanOrEqual((total - maxShare) * d);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("distributeProportionally", () => {
  it.each([
    [100, [1, 1, 1], [34, 33, 33]],
    [3, [5, 2], [2, 1]],
    [4, [2, 2], [2, 2]],
    [100, [1, 0, 299], [0, 0, 100]],
    [0, [3, 4], [0, 0]],
    [5, [0, 0], [0, 0]],
  ])("%i over %j is %j", (total, weights, expected) => {
    expect(distributeProportionally(total, weights)).toEqual(expected);
  });

  it("sums to the total and never gives more than the weight when total <= sum", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        (w, t) => {
          const sum = w.reduce((a, b) => a + b, 0);
          const total = sum === 0 ? 0 : t % (sum + 1);
          const parts = distributeProportionally(total, w);
          expect(parts.reduce((a, b) => a + b, 0)).toBe(total);
          parts.forEach((p, i) => {
            expect(p).toBeLessThanOrEqual(w[i] ?? 0);
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("calculateEffectiveSplit", () => {
  it.each([
    [
      [
        ["m1", 3],
        ["m2", 2],
      ],
      { m1: 60, m2: 40 },
    ],
    [
      [
        ["a", 1],
        ["b", 1],
        ["c", 1],
      ],
      { a: 34, b: 33, c: 33 },
    ],
    [
      [
        ["m1", 0],
        ["m2", 5],
      ],
      { m2: 100 },
    ],
    [[["m1", 0]], {}],
    [[], {}],
  ] as const)("%j -> %j", (served, expected) => {
    expect(calculateEffectiveSplit(served)).toEqual(expected);
  });
});

describe("calculateExactSplit (a gateway weights each request)", () => {
  const ready = (id: string, n: number, notReady = 0): TrafficChain["members"][number] => ({
    id,
    pods: [
      ...Array.from({ length: n }, (_, i) => servablePod(`${id}-${String(i)}`, id)),
      ...Array.from({ length: notReady }, (_, i) => ({
        ...servablePod(`${id}-u${String(i)}`, id),
        ready: false,
      })),
    ],
  });

  const NO_LIMIT = new Map<string, number>();

  it("gives each chain its share exactly, whatever its replica count", () => {
    expect(
      calculateExactSplit(
        [
          { share: 90, members: [ready("a", 1)] },
          { share: 10, members: [ready("b", 1)] },
        ],
        NO_LIMIT,
      ),
    ).toEqual({ a: 90, b: 10 });
  });

  it("divides a chain's share among its members by Ready pods, and leaves out chains with none", () => {
    expect(
      calculateExactSplit(
        [
          { share: 60, members: [ready("m1", 2, 1), ready("m2", 1)] },
          { share: 40, members: [ready("x", 3)] },
        ],
        NO_LIMIT,
      ),
    ).toEqual({ m1: 40, m2: 20, x: 40 });
    expect(
      calculateExactSplit(
        [
          { share: 70, members: [ready("m1", 0, 2)] },
          { share: 30, members: [ready("x", 1)] },
        ],
        NO_LIMIT,
      ),
    ).toEqual({ x: 100 });
    expect(calculateExactSplit([{ share: 0, members: [ready("m1", 2)] }], NO_LIMIT)).toEqual({});
  });

  it("counts no more of a member's pods than its ReplicaSet keeps after the pass: none for one retiring", () => {
    const chain = { share: 100, members: [ready("m1", 3), ready("m2", 1)] };
    // m1 scaled from 3 to 2: its third pod is on its way out.
    expect(calculateExactSplit([chain], new Map([["m1", 2]]))).toEqual({ m1: 67, m2: 33 });
    // m1's last pods go: the route drops it before they do.
    expect(
      calculateExactSplit(
        [chain],
        new Map([
          ["m1", 0],
          ["m2", 4],
        ]),
      ),
    ).toEqual({ m2: 100 });
  });
});

function servablePod(name: string, id: string): PodSnapshot {
  return {
    name,
    deployedModelId: id,
    ready: true,
    phase: "Running",
    deleting: false,
    createdAt: 0,
    serving: false,
  };
}

describe("findServingPods (R6)", () => {
  const pod = (name: string, id: string, over: Partial<PodSnapshot> = {}): PodSnapshot => ({
    ...servablePod(name, id),
    ...over,
  });

  it("never chooses a pod that is not Ready, is terminating or is not running", () => {
    const chains: TrafficChain[] = [
      {
        share: 100,
        members: [
          {
            id: "m1",
            pods: [
              pod("ok", "m1"),
              pod("unready", "m1", { ready: false, serving: true }),
              pod("terminating", "m1", { deleting: true, serving: true }),
              pod("done", "m1", { phase: "Succeeded" }),
            ],
          },
        ],
      },
    ];
    const choice = findServingPods(chains);
    expect([...choice.podNames]).toEqual(["ok"]);
    expect(choice.perMember.get("m1")).toBe(1);
  });

  it("within a chain every Ready pod serves, so members share in proportion to Ready replicas", () => {
    const m1 = ["a", "b", "c"].map((n) => pod(n, "m1"));
    const m2 = ["d", "e"].map((n) => pod(n, "m2"));
    const choice = findServingPods([
      {
        share: 100,
        members: [
          { id: "m1", pods: m1 },
          { id: "m2", pods: m2 },
        ],
      },
    ]);
    expect(choice.podNames.size).toBe(5);
    expect(
      calculateEffectiveSplit([
        ["m1", 3],
        ["m2", 2],
      ]),
    ).toEqual({ m1: 60, m2: 40 });
  });

  it("when not all pods of a chain serve, those already serving stay, then the oldest, then by name", () => {
    const a = [
      pod("a3", "a", { createdAt: 3 }),
      pod("a1", "a", { createdAt: 1 }),
      pod("a2", "a", { createdAt: 2 }),
    ];
    const b = [
      pod("b1", "b", { createdAt: 1 }),
      pod("b2", "b", { createdAt: 2, serving: true }),
      pod("b0", "b", { createdAt: 2 }),
    ];
    // 75/25 with 3 and 3 ready: 3 + 1 (exact).
    const choice = findServingPods([
      { share: 75, members: [{ id: "a", pods: a }] },
      { share: 25, members: [{ id: "b", pods: b }] },
    ]);
    expect([...choice.podNames].sort()).toEqual(["a1", "a2", "a3", "b2"]);
    const fresh = findServingPods([
      { share: 75, members: [{ id: "a", pods: a }] },
      { share: 25, members: [{ id: "b", pods: b.map((p) => ({ ...p, serving: false })) }] },
    ]);
    expect([...fresh.podNames].sort()).toEqual(["a1", "a2", "a3", "b1"]);
  });
});
