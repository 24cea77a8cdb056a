import { calculateProgressDeadlineSeconds } from "./budgets.ts";
import { findIntended } from "./chains.ts";
import { isServable } from "./context.ts";
import type { Chain, Member, PlanContext } from "./context.ts";
import { findConvergence } from "./rolling.ts";
import { FailureReason } from "./types.ts";
import type { PodSnapshot } from "./types.ts";

/** Why a deployed model failed, for its status (reason, message) and the Warning event. */
export interface Failure {
  readonly reason: FailureReason;
  readonly message: string;
}

/** What the progress check found in one pass. */
export interface ProgressCheck {
  /** Rollouts that fail in this pass, by deployed-model id. */
  readonly failures: ReadonlyMap<string, Failure>;
  /** Rollouts that made progress since the last pass (see {@link checkProgress}). */
  readonly progressed: ReadonlySet<string>;
}

/**
 * R8, checked first in every pass and for every chain, before anything that could stop the pass:
 * it reads only the context (which never throws) and returns values.
 *
 * The rollout of a chain is its intended member at the start of the pass, when BEING_DEPLOYED: a
 * rolling deployment or a first deployment. Progress is observed, the way the Deployment controller
 * compares a new status with the recorded one: since the last pass, a replica of the rollout became
 * available (more than its recorded availableReplicaCount), or an old replica went away (the other
 * members of the chain have fewer pods than their recorded replicas). A pass that comes late, after
 * the operator was down or busy, still sees the progress made meanwhile.
 *
 * It fails when:
 *
 * - the controller reports that the API server refused its ReplicaSet for good
 *   (ReplicaSetCreateFailed): at once, nothing can make it progress;
 * - `now >= progressTime + progressDeadlineSeconds`, with no progress since the last pass, the
 *   rollout not complete, and no scale-down of an old member still to be carried out. If its
 *   ReplicaSet reports that pods cannot be created (a quota, an admission webhook) the reason is
 *   PodCreateFailed, else ProgressDeadlineExceeded. Failing to create pods is not fatal on sight:
 *   with surge 1 / unavailable 1 under a full quota the first surge pod fails, the next step retires
 *   an old pod and the quota frees up, so the deadline decides.
 *
 * The deadline judges the new revision, so it does not run out while the chain waits for the
 * ReplicaSet controller to remove old pods the operator already scaled away: m2 holds 2/2 available,
 * m1 was scaled 1 -> 0 and its pod is still there ten minutes later (a kube-controller-manager that is
 * down or far behind, as with 5000 endpoints rolling at once on two cores). Failing m2 then would
 * revert a revision whose every replica serves, and the revert would wait for the same controller.
 * Once the old pods go, that is progress, and the clock starts again.
 *
 * Deadline 600s, progressTime 10:00:00: a pass at 10:09:59 passes; a pass at 10:10:00 fails it, and
 * the plan asks to be requeued at 10:10:00 so that pass happens even when nothing else changes.
 *
 * A chain whose pool size is unknown is left alone (it cannot be reverted either). A rebuilt member
 * (status lost) has no progress time: its clock starts again now.
 */
export function checkProgress(ctx: PlanContext): ProgressCheck {
  const failures = new Map<string, Failure>();
  const progressed = new Set<string>();
  for (const chain of ctx.chains) {
    const rollout = findRunningRollout(chain);
    const n = chain.poolSize;
    if (rollout === undefined || n === undefined) continue;

    const createError = ctx.snapshot.actionErrors?.find(
      (e) => e.deployedModelId === rollout.id && e.action === "createReplicaSet" && e.terminal,
    );
    if (createError !== undefined && rollout.replicaSet === undefined) {
      failures.set(rollout.id, {
        reason: FailureReason.ReplicaSetCreateFailed,
        message: `its ReplicaSet cannot be created: ${createError.message}`,
      });
      continue;
    }

    if (hasProgressed(chain, rollout)) {
      progressed.add(rollout.id);
      continue;
    }
    if (awaitsScaleDown(chain, rollout)) continue;
    const since = rollout.record?.progressTime ?? rollout.record?.createTime;
    const deadline = calculateProgressDeadlineSeconds(rollout.spec);
    if (since === undefined || ctx.now < since + deadline) continue;
    if (findConvergence(chain, rollout).complete) continue;
    failures.set(rollout.id, describeStall(rollout, n, deadline));
  }
  return { failures, progressed };
}

/**
 * Since the last pass, a replica of the rollout became available, or an old replica went away.
 * m1 recorded with 5 pods and now has 4: progress (an old replica was retired, or died: either way
 * the chain moved towards the rollout, as the Deployment controller counts it).
 */
function hasProgressed(chain: Chain, rollout: Member): boolean {
  const recordedAvailable = rollout.record?.availableReplicaCount;
  if (recordedAvailable !== undefined && rollout.observed.availableReplicas > recordedAvailable) return true;
  let recordedOld = 0;
  let observedOld = 0;
  for (const member of chain.members) {
    if (member.id === rollout.id) continue;
    const recorded = member.raw?.replicas;
    recordedOld += recorded !== undefined && Number.isFinite(recorded) ? recorded : member.observed.replicas;
    observedOld += member.observed.replicas;
  }
  return observedOld < recordedOld;
}

/**
 * An old member of the chain has pods above its ReplicaSet's spec: a scale-down (or a deletion)
 * the operator asked for that the ReplicaSet controller has not carried out yet. m1 at spec 0 with
 * status.replicas 1 and its pod not terminating: yes; the same pod shown terminating: no (it is gone
 * as far as the budgets count).
 */
function awaitsScaleDown(chain: Chain, rollout: Member): boolean {
  return chain.members.some((m) => m.id !== rollout.id && m.counts.pods > m.counts.replicas);
}

/**
 * The member a chain was converging on at the last pass, by the states recorded then: members that
 * left spec since count too (their status record is still there in the first pass after), so when
 * it is one of those, the chain's target changed and the member now intended starts afresh.
 */
export function findPreviousIntended(chain: Chain): Member | undefined {
  const known = chain.members.flatMap((m) => {
    const state = m.removed ? m.record?.state : m.startState;
    return state === undefined ? [] : [{ id: m.id, index: m.index, revision: m.revision, state }];
  });
  const intended = findIntended(known);
  return intended === undefined ? undefined : chain.members.find((m) => m.id === intended.id);
}

/**
 * The chain's running rollout at the start of the pass, if any; none when the member it was
 * converging on left spec (the chain rolls back onto another member, whose clock starts now).
 */
export function findRunningRollout(chain: Chain): Member | undefined {
  const intended = findPreviousIntended(chain);
  if (intended === undefined || intended.removed || intended.startState !== "BEING_DEPLOYED")
    return undefined;
  return intended;
}

/**
 * The message of a stalled rollout: "0/5 new replicas became ready: readiness probe failed on
 * /health (no progress for 600s)". The pods' own account (the most common unready reason) is the
 * part the user needs; the counts say how far it got.
 */
export function describeStall(member: Member, n: number, deadline: number): Failure {
  const stalled = `no progress for ${deadline}s`;
  const failure = member.replicaSet?.replicaFailure;
  if (failure !== undefined && failure !== "" && member.observed.replicas < member.counts.replicas) {
    return {
      reason: FailureReason.PodCreateFailed,
      message: `pods cannot be created: ${failure} (${stalled})`,
    };
  }
  const what = member.previousId === undefined ? "replicas" : "new replicas";
  const why = summarizeUnready(member.pods);
  return {
    reason: FailureReason.ProgressDeadlineExceeded,
    message: `${member.observed.availableReplicas}/${n} ${what} became ready${why === undefined ? "" : `: ${why}`} (${stalled})`,
  };
}

/** The most common reason among pods that are not ready (ties: alphabetical), if any pod gave one. */
export function summarizeUnready(pods: readonly PodSnapshot[]): string | undefined {
  const counts = new Map<string, number>();
  for (const pod of pods) {
    if (pod.deleting || isServable(pod)) continue;
    const reason = pod.unreadyReason?.trim();
    if (reason === undefined || reason === "") continue;
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  let best: [string, number] | undefined;
  for (const entry of counts) {
    if (best === undefined || entry[1] > best[1] || (entry[1] === best[1] && entry[0] < best[0]))
      best = entry;
  }
  return best?.[0];
}
