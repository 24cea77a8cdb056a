import { isServable } from "./context.ts";
import { instantMs } from "./time.ts";
import type { PodSnapshot } from "./types.ts";

/**
 * Traffic through the endpoint Service (R6, R11). The Service selects pods carrying the `serving`
 * label; the engine decides which pods carry it, and Kubernetes' EndpointSlice controller keeps the
 * ready ones. So traffic is realised at pod granularity: each serving pod gets an equal share.
 *
 * Rules, in order:
 * 1. A pod that is not Ready (or is terminating) never serves (R6): Kubernetes lists it as not ready,
 *    whatever its label. The label of such a pod only says whether it serves the moment it turns
 *    Ready (plan.ts): in the endpoint's only chain with a share it does (rule 2), so pods are created
 *    with the label and need no label write; anywhere else it does not until rule 3 picks it.
 * 2. Within a chain every Ready pod serves, so each member's share of the chain's traffic is its
 *    share of the chain's Ready pods (R6): 3 ready pods of m1 and 2 of m2 give 60/40.
 * 3. Across chains the spec split (each chain's share is the sum of its members' spec shares, R11) is
 *    approximated by choosing how many Ready pods of each chain serve: the choice minimises the
 *    largest deviation from the spec split, then serves as many pods as possible (see
 *    {@link calculateServingCounts}). Traffic meant for a chain with no Ready pod goes to the others
 *    in proportion to their shares. Chains without a share serve nothing, and an empty split serves
 *    nothing at all.
 * 4. Which pods of a member serve, when not all do: those already serving first (no label churn),
 *    then the oldest, then by name.
 */

/** A chain's spec share (whole percent) and how many Ready pods it has. */
export interface ChainSupply {
  readonly share: number;
  readonly ready: number;
}

/**
 * How many Ready pods of each chain serve (rule 3). With shares s_c (normalised over the chains
 * that have a share and a Ready pod) and r_c Ready pods, it picks 0 <= k_c <= r_c, not all 0,
 * minimising max_c |k_c / K - s_c| with K = sum k_c; among equal deviations, the largest K. Exact
 * integer arithmetic: for each K the least deviation is found by bisection over the integer
 * numerator, so no floating-point tie ever decides.
 *
 * Worst case. Let K' = min_c floor(r_c / s_c) (at least 1). Taking K' pods split by largest
 * remainder is one candidate, and its deviation is below 1/K'; serving only the chain with the
 * largest share is another, with deviation 1 - s_max. So the error, in percentage points of the
 * normalised split, is below 100/K' and at most 100 - s_max:
 *
 *     split      ready pods    serving      effective     largest error
 *     50/50      3, 5          3 + 3        50/50         0
 *     90/10      10, 10        9 + 1        90/10         0
 *     60/40      5, 5          3 + 2        60/40         0 (serving 5 + 5 would be 50/50)
 *     70/30      4, 4          4 + 2        66.7/33.3     3.3 points (2 + 1 ties; more pods win)
 *     75/25      3, 3          3 + 1        75/25         0
 *     90/10      1, 1          1 + 0        100/0         10 points (1 + 1 would be 40)
 *     98/1/1     1, 1, 1       1 + 0 + 0    100/0/0       2 points
 *     1/99       5, 5          0 + 5        0/100         1 point
 *
 * A small share with few pods may therefore get no traffic at all: 90/10 with one Ready pod each
 * serves only the 90 chain. An exact split needs the Gateway API route (R11), not the Service.
 */
export function calculateServingCounts(supplies: readonly ChainSupply[]): number[] {
  const counts = supplies.map(() => 0);
  const eligible = supplies.flatMap((s, i) => (s.share > 0 && s.ready > 0 ? [{ ...s, i }] : []));
  if (eligible.length === 0) return counts;
  if (eligible.length === 1) {
    const only = eligible[0];
    if (only !== undefined) counts[only.i] = only.ready;
    return counts;
  }
  const totalShare = eligible.reduce((sum, s) => sum + s.share, 0);
  const totalReady = eligible.reduce((sum, s) => sum + s.ready, 0);

  // Deviation of chain c for a given K, in units of 1/(K * totalShare): |k_c * totalShare - share_c * K|.
  const bounds = (k: number, d: number): { lo: number[]; hi: number[] } => ({
    lo: eligible.map((s) => Math.max(0, Math.ceil((s.share * k - d) / totalShare))),
    hi: eligible.map((s) => Math.min(s.ready, Math.floor((s.share * k + d) / totalShare))),
  });
  const feasible = (k: number, d: number): boolean => {
    let sumLo = 0;
    let sumHi = 0;
    for (const s of eligible) {
      const lo = Math.max(0, Math.ceil((s.share * k - d) / totalShare));
      const hi = Math.min(s.ready, Math.floor((s.share * k + d) / totalShare));
      if (lo > hi) return false;
      sumLo += lo;
      sumHi += hi;
    }
    return sumLo <= k && k <= sumHi;
  };

  let bestK = 0;
  let bestD = 0;
  for (let k = 1; k <= totalReady; k++) {
    // error(k) = d / (k * totalShare). Only a d with d / k <= bestD / bestK can win (ties go to the
    // larger k), so most k are settled by one feasibility check at that bound.
    let high = bestK === 0 ? k * totalShare : Math.floor((bestD * k) / bestK);
    if (!feasible(k, high)) continue;
    let low = 0;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      if (feasible(k, mid)) high = mid;
      else low = mid + 1;
    }
    bestK = k;
    bestD = low;
  }

  const { lo, hi } = bounds(bestK, bestD);
  const chosen = [...lo];
  let remaining = bestK - chosen.reduce((a, b) => a + b, 0);
  while (remaining > 0) {
    let pick = -1;
    let pickDeficit = -Infinity;
    eligible.forEach((s, c) => {
      const k = chosen[c] ?? 0;
      if (k >= (hi[c] ?? 0)) return;
      const deficit = s.share * bestK - k * totalShare;
      if (deficit > pickDeficit) {
        pick = c;
        pickDeficit = deficit;
      }
    });
    if (pick < 0) break;
    chosen[pick] = (chosen[pick] ?? 0) + 1;
    remaining--;
  }
  eligible.forEach((s, c) => {
    counts[s.i] = chosen[c] ?? 0;
  });
  return counts;
}

/**
 * Splits `total` in proportion to `weights` by largest remainder (Hamilton), ties to the earlier
 * entry. A zero weight gets 0, and no entry gets more than its weight when total <= sum of weights.
 * 100 over [1, 1, 1] is 34/33/33; 3 over [5, 2] is 2/1.
 */
export function distributeProportionally(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0 || total <= 0) return weights.map(() => 0);
  if (sum === total && weights.every(Number.isInteger)) return [...weights];
  const result = weights.map((w) => Math.floor((w * total) / sum));
  const remainders = weights.map((w, i) => (w * total) / sum - (result[i] ?? 0));
  let remaining = total - result.reduce((a, b) => a + b, 0);
  // The largest remainders get one more each; ties go to the earlier entry; a zero weight never does.
  while (remaining > 0) {
    let pick = -1;
    remainders.forEach((r, i) => {
      if ((weights[i] ?? 0) > 0 && r >= 0 && (pick < 0 || r > (remainders[pick] ?? 0))) pick = i;
    });
    if (pick < 0) break;
    result[pick] = (result[pick] ?? 0) + 1;
    remainders[pick] = -1;
    remaining--;
  }
  return result;
}

/** A member as traffic sees it. */
export interface TrafficMember {
  readonly id: string;
  readonly pods: readonly PodSnapshot[];
}

/** A chain as traffic sees it. */
export interface TrafficChain {
  /** Whole percent: the sum of its members' spec shares. */
  readonly share: number;
  readonly members: readonly TrafficMember[];
}

/** The pods that should serve, and how many per member. */
export interface ServingChoice {
  readonly podNames: ReadonlySet<string>;
  readonly perMember: ReadonlyMap<string, number>;
}

/** Applies rules 1-4 to the chains of an endpoint. */
export function findServingPods(chains: readonly TrafficChain[]): ServingChoice {
  const servable = chains.map((chain) =>
    chain.members.map((member) => [...member.pods].filter(isServable).sort(byServingThenAge)),
  );
  const counts = calculateServingCounts(
    chains.map((chain, c) => ({
      share: chain.share,
      ready: (servable[c] ?? []).reduce((sum, pods) => sum + pods.length, 0),
    })),
  );
  const podNames = new Set<string>();
  const perMember = new Map<string, number>();
  chains.forEach((chain, c) => {
    const pods = servable[c] ?? [];
    const perChain = distributeProportionally(
      counts[c] ?? 0,
      pods.map((p) => p.length),
    );
    chain.members.forEach((member, m) => {
      const take = perChain[m] ?? 0;
      perMember.set(member.id, take);
      for (const pod of (pods[m] ?? []).slice(0, take)) podNames.add(pod.name);
    });
  });
  return { podNames, perMember };
}

/**
 * The effective split from the pods chosen to serve: whole percents summing to 100 by largest
 * remainder (ties to the earlier entry), members serving nothing left out; empty when nothing serves.
 * 3 and 2 serving pods: {m1: 60, m2: 40}; 1, 1, 1: {a: 34, b: 33, c: 33}.
 */
export function calculateEffectiveSplit(
  served: readonly (readonly [string, number])[],
): Record<string, number> {
  const percents = distributeProportionally(
    100,
    served.map(([, count]) => count),
  );
  const split: Record<string, number> = {};
  served.forEach(([id], i) => {
    const percent = percents[i] ?? 0;
    if (percent > 0) split[id] = percent;
  });
  return split;
}

/**
 * The effective split when a gateway weights each request (snapshot.exactWeights): each chain gets
 * its share exactly, divided among its members in proportion to their servable pods, each counting
 * at most `replicas` of them (its ReplicaSet's count after this pass: the pods above it are on their
 * way out; 0 for a member whose last pods go); chains with no such pod are left out and the rest
 * scaled to 100 (whole percents, largest remainder). 90/10 over one Ready pod each: {a: 90, b: 10};
 * a chain of 60 with 2 + 1 Ready pods beside one of 40: {m1: 40, m2: 20, x: 40}.
 */
export function calculateExactSplit(
  chains: readonly TrafficChain[],
  replicas: ReadonlyMap<string, number>,
): Record<string, number> {
  const weights: [string, number][] = [];
  for (const chain of chains) {
    const ready = chain.members.map((m) =>
      Math.min(m.pods.filter(isServable).length, replicas.get(m.id) ?? Number.POSITIVE_INFINITY),
    );
    const total = ready.reduce((a, b) => a + b, 0);
    chain.members.forEach((m, i) => {
      weights.push([m.id, total === 0 ? 0 : (chain.share * (ready[i] ?? 0)) / total]);
    });
  }
  return calculateEffectiveSplit(weights);
}

function byServingThenAge(a: PodSnapshot, b: PodSnapshot): number {
  if (a.serving !== b.serving) return a.serving ? -1 : 1;
  const ta = instantMs(a.createdAt);
  const tb = instantMs(b.createdAt);
  if (ta !== tb && !(Number.isNaN(ta) && Number.isNaN(tb))) {
    if (Number.isNaN(ta)) return 1;
    if (Number.isNaN(tb)) return -1;
    return ta - tb;
  }
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
