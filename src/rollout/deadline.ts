import { calculateProgressDeadlineSeconds } from "./budgets.ts";
import { findIntended } from "./chains.ts";
import { isServable } from "./context.ts";
import type { Chain, Member, PlanContext } from "./context.ts";
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
  /** Rollouts that made progress since the last pass: a new replica became available. */
  readonly progressed: ReadonlySet<string>;
}

/**
 * R8, checked first in every pass and for every chain, before anything that could stop the pass:
 * it reads only the context (which never throws) and returns values.
 *
 * The rollout of a chain is its intended member at the start of the pass, when BEING_DEPLOYED: a
 * rolling deployment or a first deployment. It progresses when one of its replicas becomes available
 * (more available than the last pass recorded) or when an old replica is retired (a scale-down the
 * planner decides later in the pass; it moves progressTime too). It fails when:
 *
 * - the controller reports that the API server refused its ReplicaSet for good
 *   (ReplicaSetCreateFailed): at once, nothing can make it progress;
 * - `now >= progressTime + progressDeadlineSeconds` without progress in this pass. If its
 *   ReplicaSet reports that pods cannot be created (a quota, an admission webhook) the reason is
 *   PodCreateFailed, else ProgressDeadlineExceeded. Failing to create pods is not fatal on sight: with
 *   surge 1 / unavailable 1 under a full quota the first surge pod fails, the next step retires an old
 *   pod and the quota frees up, so the deadline decides.
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

    const recordedAvailable = rollout.record?.availableReplicaCount;
    if (recordedAvailable !== undefined && rollout.observed.availableReplicas > recordedAvailable) {
      progressed.add(rollout.id);
      continue;
    }
    const since = rollout.record?.progressTime ?? rollout.record?.createTime;
    const deadline = calculateProgressDeadlineSeconds(rollout.spec.rolloutOptions);
    if (since === undefined || ctx.now < since + deadline) continue;
    failures.set(rollout.id, describeStall(rollout, n, deadline));
  }
  return { failures, progressed };
}

/** The chain's running rollout at the start of the pass, if any. */
export function findRunningRollout(chain: Chain): Member | undefined {
  const known = chain.members.flatMap((m) =>
    m.startState === undefined ? [] : [{ ...m, state: m.startState }],
  );
  const intended = findIntended(known);
  return intended?.state === "BEING_DEPLOYED" ? intended : undefined;
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
