import type { Budgets } from "./budgets.ts";

/**
 * The replica arithmetic of one rolling step, modelled on the Deployment controller
 * (deployment_util.go NewRSNewReplicas, rolling.go reconcileOldReplicaSets, cleanupUnhealthyReplicas,
 * scaleDownOldReplicaSetsForRollingUpdate). Pure: counts in, numbers out. rolling.ts decides when
 * to call which.
 */

/** What the arithmetic needs to know about one member of a chain. */
export interface MemberCounts {
  readonly id: string;
  /** spec.replicas of its ReplicaSet; 0 when it has none or it is being deleted. */
  readonly replicas: number;
  /**
   * Pods it may have right now: max(spec.replicas, status.replicas less the pods the watch already
   * shows terminating). A scale-up whose pods are not created yet already counts against the surge,
   * and so do pods of a scale-down not carried out yet, so a step never plans on capacity that is
   * still in flight.
   */
  readonly pods: number;
  /**
   * Available pods the engine can count on: min(status.availableReplicas, Ready pods seen,
   * spec.replicas). Pods above spec.replicas are about to be deleted and are not counted; when the
   * ReplicaSet's counter and the pods disagree, the lower wins.
   */
  readonly available: number;
}

/**
 * A member's counts once its spec.replicas is `replicas`, before its ReplicaSet controller acts: the
 * pods it has still count (a scale-down's go later) and so do the ones it will create; what is
 * available stays, capped by the new spec.
 */
export function scaledTo(member: MemberCounts, replicas: number): MemberCounts {
  return {
    id: member.id,
    replicas,
    pods: Math.max(replicas, member.pods),
    available: Math.min(member.available, replicas),
  };
}

/** Sum of a field over members. */
export function sumOf(members: readonly MemberCounts[], field: "replicas" | "pods" | "available"): number {
  let total = 0;
  for (const member of members) total += member[field];
  return total;
}

/**
 * The replicas the intended member should have after a scale-up step (NewRSNewReplicas).
 *
 * It grows as far as the surge allows and never past N; above N it is cut back to N at once (drift,
 * or N was lowered). The surge counts every pod of the chain, including pods still in flight.
 *
 * N = 10, surge 3, unavailable 2, old member at 10, intended at 0: pods 10 < 13, so the intended
 * goes to min(0 + 3, 10) = 3. Next pass (old now 8 after a scale-down, intended 3): pods 11, so the
 * intended goes to 3 + 2 = 5. With surge 0 and the old member at N, nothing can be added until an
 * old pod is retired.
 */
export function calculateIntendedReplicas(
  n: number,
  budgets: Budgets,
  intended: MemberCounts,
  all: readonly MemberCounts[],
): number {
  if (intended.replicas >= n) return n;
  const maxTotalPods = n + budgets.maxSurge;
  const currentPods = sumOf(all, "pods");
  if (currentPods >= maxTotalPods) return intended.replicas;
  return intended.replicas + Math.min(maxTotalPods - currentPods, n - intended.replicas);
}

/**
 * How many old pods may be removed this step (reconcileOldReplicaSets):
 * all replicas - (N - maxUnavailable) - unavailable replicas of the intended member.
 *
 * Unavailable pods of the intended member are subtracted so that they never free old capacity (R5).
 * N = 10, surge 3, unavailable 2: old at 8, intended at 5 with all 5 crash-looping. Replicas 13,
 * minimum available 8, intended unavailable 5: 13 - 8 - 5 = 0, nothing old is removed even if an
 * old pod dies meanwhile. After a rollback onto the old revision (the intended member is now the
 * healthy one, old members are the crash-looping ones), the same formula lets the 5 broken pods go.
 */
export function calculateMaxScaledDown(
  n: number,
  budgets: Budgets,
  intended: MemberCounts,
  all: readonly MemberCounts[],
): number {
  const minAvailable = n - budgets.maxUnavailable;
  const intendedUnavailable = Math.max(0, intended.replicas - intended.available);
  return sumOf(all, "replicas") - minAvailable - intendedUnavailable;
}

/** A planned replica change of one member. */
export interface ReplicaChange {
  readonly id: string;
  readonly from: number;
  readonly to: number;
}

/**
 * The scale-down step of the members being retired (`old`, in the order they should go), or none.
 *
 * 1. If {@link calculateMaxScaledDown} is not positive, nothing: availability does not allow it.
 * 2. Unhealthy replicas first (cleanupUnhealthyReplicas): each old member loses up to
 *    replicas - available, within that maximum. Removing a pod that is not available costs no
 *    availability, and leaving it would block the rollout until the deadline (kubernetes#16737).
 * 3. Then healthy ones, as long as available pods of the chain stay >= N - maxUnavailable
 *    (scaleDownOldReplicaSetsForRollingUpdate). If availability is already at or below that, only
 *    step 2 runs: a rollout never makes availability worse than it found it (R4).
 *
 * N = 10, surge 3, unavailable 2: old at 10 (all available), intended 3 with 0 available yet.
 * Step 1: 13 - 8 - 3 = 2. Step 2: nothing unhealthy. Step 3: available 10 - 8 = 2 may go: old to 8.
 * When the 3 new pods are available: available 11, so old goes to 8 - 3 = 5, and so on.
 *
 * Several old members (a rollback onto an in-progress rollout, R9) are drained in the given order;
 * the caller puts FAILED members first, then newest first.
 */
export function calculateOldScaleDown(
  n: number,
  budgets: Budgets,
  intended: MemberCounts,
  old: readonly MemberCounts[],
  all: readonly MemberCounts[],
): readonly ReplicaChange[] {
  if (sumOf(old, "replicas") === 0) return [];
  const maxScaledDown = calculateMaxScaledDown(n, budgets, intended, all);
  if (maxScaledDown <= 0) return [];

  const targets = old.map((member) => member.replicas);
  let cleanup = maxScaledDown;
  old.forEach((member, i) => {
    const unhealthy = Math.max(0, member.replicas - member.available);
    const take = Math.min(cleanup, unhealthy);
    targets[i] = member.replicas - take;
    cleanup -= take;
  });

  const minAvailable = n - budgets.maxUnavailable;
  let healthy = Math.max(0, sumOf(all, "available") - minAvailable);
  targets.forEach((target, i) => {
    const take = Math.min(target, healthy);
    targets[i] = target - take;
    healthy -= take;
  });

  const changes: ReplicaChange[] = [];
  old.forEach((member, i) => {
    const to = targets[i] ?? member.replicas;
    if (to !== member.replicas) changes.push({ id: member.id, from: member.replicas, to });
  });
  return changes;
}
