import { calculateBudgets } from "./budgets.ts";
import type { Budgets } from "./budgets.ts";
import { orderForRetirement } from "./chains.ts";
import type { Chain, Member } from "./context.ts";
import { calculateIntendedReplicas, calculateOldScaleDown, scaledTo } from "./replicas.ts";
import type { MemberCounts } from "./replicas.ts";
import { REFUSAL_REASONS } from "./types.ts";
import type { DeployedModelState, FailureReason } from "./types.ts";

/** A replica decision of one pass; plan.ts turns it into an action and an event. */
export type ReplicaDecision =
  | { readonly kind: "create"; readonly member: Member; readonly replicas: number }
  | { readonly kind: "scale"; readonly member: Member; readonly from: number; readonly to: number };

/** One member's state and failure reason after this pass's judgements. */
export interface Judged {
  readonly state: DeployedModelState;
  readonly reason?: FailureReason | undefined;
}

/** What one pass decides for one chain. */
export interface ChainStep {
  readonly intended: Member | undefined;
  readonly budgets: Budgets;
  readonly decisions: readonly ReplicaDecision[];
  /** Replica counts have settled: nothing to do, fresh counters, the intended member holds N and no one else has pods. */
  readonly converged: boolean;
  /** Converged, and the intended member has N available replicas. */
  readonly complete: boolean;
}

/** Whether a chain has settled on a member, read from the context alone. */
export interface Convergence {
  /** Fresh counters, the member's ReplicaSet at N with N pods, every other member at 0 with no pods. */
  readonly converged: boolean;
  /** Converged, and the member has N available replicas. */
  readonly complete: boolean;
}

/**
 * Has the chain settled on `intended`? Used by the step (nothing left to do) and by the progress
 * check (a complete rollout never fails, even when the pass that sees it comes after its deadline).
 */
export function findConvergence(chain: Chain, intended: Member): Convergence {
  const n = chain.poolSize;
  const converged =
    n !== undefined &&
    !chain.members.some((m) => m.stale) &&
    intended.replicaSet !== undefined &&
    !intended.replicaSet.deleting &&
    intended.counts.replicas === n &&
    intended.observed.replicas === n &&
    chain.members.every(
      (m) => m.id === intended.id || (m.counts.replicas === 0 && m.observed.replicas === 0),
    );
  return { converged, complete: converged && intended.observed.availableReplicas >= n };
}

/**
 * The budgets of a chain: those of its newest rolling deployment that actually ran (a refused entry
 * never ran), so a revert or a rollback moves within the budgets the user chose for the latest
 * rollout; the defaults for a chain that never rolled.
 */
export function findChainBudgets(chain: Chain, n: number, judged: (id: string) => Judged): Budgets {
  let newest: Member | undefined;
  for (const member of chain.members) {
    if (member.spec.rolloutOptions === undefined) continue;
    const reason = judged(member.id).reason;
    if (reason !== undefined && REFUSAL_REASONS.has(reason)) continue;
    if (newest === undefined || member.revision > newest.revision) newest = member;
  }
  return calculateBudgets(newest?.spec.rolloutOptions, n);
}

/**
 * One safe step for one chain, as rolling.go's rolloutRolling takes it over two syncs: scale the
 * intended member up as far as the surge allows, then, in the same pass, scale old members down as far
 * as availability allows with the intended member counted as this pass leaves it (the pods it adds
 * are not available, so they free no old capacity: the retirement is what the next pass would
 * decide, without waiting for the ReplicaSet controller to observe the scale-up). The next pass sees
 * what that did. Old pods must be seen going before their room is given to new ones (R4 counts the
 * pods that exist, not the replicas asked for), so a scale-down is never followed by a scale-up in
 * the same pass.
 *
 * - No step while a ReplicaSet of the chain has not observed its latest spec (its counters describe
 *   the past), or while the intended member's ReplicaSet is being deleted (it is recreated once gone).
 * - A missing intended ReplicaSet (first deployment, a new revision, or one deleted by someone) is
 *   created with the replicas the surge allows, possibly 0; when 0 the same pass may still retire old
 *   pods, as the Deployment controller does with a new ReplicaSet at 0.
 * - A chain without a live member (every revision of it still in spec FAILED) holds nothing of
 *   them: those members go to 0 at once, no budget applies to pods that serve nothing that should
 *   stay. Members that left spec keep their pods (a revert onto a revision that then failed): they
 *   are the only ones still serving, and go as soon as a revision of the chain can take over.
 * - A member whose entry left spec is an old member like any other: drained within the budgets
 *   (after FAILED members, before the others), and deleted by the plan once at 0.
 *
 * First deployment, N = 5: create with 5 (pods 0 < 5 + 2). Roll m2 onto m1 (N = 5, surge 1,
 * unavailable 0): create m2 with 1; when it is available, m1 5 -> 4; then m2 1 -> 2; ...; m1 1 -> 0.
 * N = 10, surge 3, unavailable 2: create m2 with 3 and m1 10 -> 8 in one pass.
 * Drift: someone scaled a REPLACED member to 3: it is an old member with 3 replicas and is drained
 * within the budgets like any other.
 */
export function planChainStep(
  chain: Chain,
  intended: Member | undefined,
  judged: (id: string) => Judged,
): ChainStep {
  const n = chain.poolSize ?? 0;
  const budgets = findChainBudgets(chain, n, judged);
  const waiting: ChainStep = {
    intended,
    budgets,
    decisions: [],
    converged: false,
    complete: false,
  };
  if (chain.poolSize === undefined || chain.members.some((m) => m.stale)) return waiting;

  if (intended === undefined) {
    // Members that left spec keep what they have: their pods are all that still serves, and they
    // are drained only as a revision of the chain becomes available.
    const inSpec = chain.members.filter((m) => !m.removed);
    const decisions = inSpec.flatMap((m): ReplicaDecision[] =>
      m.replicaSet !== undefined && !m.replicaSet.deleting && m.counts.replicas > 0
        ? [{ kind: "scale", member: m, from: m.counts.replicas, to: 0 }]
        : [],
    );
    const converged = decisions.length === 0 && inSpec.every((m) => m.observed.replicas === 0);
    return { ...waiting, decisions, converged, complete: converged };
  }
  if (intended.replicaSet?.deleting === true) return waiting;

  const target = calculateIntendedReplicas(
    n,
    budgets,
    intended.counts,
    chain.members.map((m) => m.counts),
  );
  const decisions: ReplicaDecision[] = [];
  if (intended.replicaSet === undefined) {
    decisions.push({ kind: "create", member: intended, replicas: target });
  } else if (target !== intended.counts.replicas) {
    decisions.push({ kind: "scale", member: intended, from: intended.counts.replicas, to: target });
  }
  // The old members' step is planned on the intended member as this pass leaves it: the replicas it
  // adds are unavailable, so they free no old capacity (R5), and the same pass retires what the next
  // one would, without waiting for the ReplicaSet controller to observe the scale-up.
  const after = scaledTo(intended.counts, target);
  const all: MemberCounts[] = chain.members.map((m) => (m.id === intended.id ? after : m.counts));

  const byId = new Map(chain.members.map((m) => [m.id, m]));
  const old = orderForRetirement(
    chain.members
      .filter((m) => m.id !== intended.id && m.replicaSet !== undefined && !m.replicaSet.deleting)
      .map((m) => ({
        id: m.id,
        index: m.index,
        revision: m.revision,
        state: judged(m.id).state,
        removed: m.removed,
      })),
  ).flatMap((c) => byId.get(c.id) ?? []);
  for (const change of calculateOldScaleDown(
    n,
    budgets,
    after,
    old.map((m) => m.counts),
    all,
  )) {
    const member = byId.get(change.id);
    if (member !== undefined) decisions.push({ kind: "scale", member, from: change.from, to: change.to });
  }
  if (decisions.length > 0) return { ...waiting, decisions };
  return { ...waiting, ...findConvergence(chain, intended) };
}
