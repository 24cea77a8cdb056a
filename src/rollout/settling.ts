import { isActive } from "./context.ts";
import { sameJson } from "./json.ts";
import type { Action, EndpointStatus, RecordedStatus, ReplicaSetSnapshot, Snapshot } from "./types.ts";

/**
 * Whether a pass's status may wait for the pass that follows it (the controller holds it, bounded):
 * the pass only scales ReplicaSets or labels pods, or a ReplicaSet's counters lag its pods, so the
 * watch brings another pass at once; and the status records nothing the engine remembers only
 * there. A pass that creates or deletes a ReplicaSet writes at once: the next pass must find the
 * new revision's record beside its ReplicaSet.
 */
export function statusMayWait(
  snapshot: Pick<Snapshot, "replicaSets" | "pods" | "status">,
  actions: readonly Action[],
  status: EndpointStatus,
): boolean {
  const followed = (actions.length > 0 && actions.every(isStep)) || countersSettling(snapshot);
  return followed && !recordsMemory(snapshot.status, status);
}

/** A replica step or a pod label: the next pass sees its effect through the watch. */
function isStep(action: Action): boolean {
  return action.kind === "scaleReplicaSet" || action.kind === "setPodServing";
}

/**
 * Whether a ReplicaSet's counters lag what the snapshot already shows, so that the ReplicaSet
 * controller is about to write its status and another pass will follow:
 *
 * - it has not observed its latest spec (observedGeneration < generation), or
 * - its `replicas` differs from its pods that count (not terminating, not Succeeded or Failed), or
 * - its `readyReplicas` differs from those of them that are Ready.
 *
 * Then the status waits for the counters (see statusMayWait): the step a readiness change allows
 * is never queued behind a status write that the next pass would overwrite (docs/operator.md,
 * "Status writes").
 */
export function countersSettling(snapshot: Pick<Snapshot, "replicaSets" | "pods">): boolean {
  return snapshot.replicaSets.some((rs) => !rs.deleting && replicaSetSettling(rs, snapshot.pods));
}

function replicaSetSettling(rs: ReplicaSetSnapshot, pods: Snapshot["pods"]): boolean {
  if (rs.observedGeneration < rs.generation) return true;
  let active = 0;
  let ready = 0;
  for (const pod of pods) {
    if (pod.deployedModelId !== rs.deployedModelId || !isActive(pod)) continue;
    active++;
    if (pod.ready) ready++;
  }
  return active !== rs.statusReplicas || ready !== rs.readyReplicas;
}

/**
 * Whether `next` records something the engine remembers only in the status, against `recorded`: the
 * generation observed, the deployed models and their revisions, a model's state (and, when it
 * fails, the reason and the message that say why, while the pods that explain it still exist), its
 * chain link, compute and createTime, an autoscaled chain's N. Such a status is written at once.
 * One that only reports counts, traffic, conditions, messages and progress can wait for the next
 * pass, which computes it again from the same record (a condition that flips while a step lowers
 * availability within the budget, as Ready does with maxUnavailable, flips again in that pass).
 */
export function recordsMemory(recorded: RecordedStatus | undefined, next: EndpointStatus): boolean {
  return !sameJson(memoryOf(recorded), memoryOf(next));
}

function memoryOf(status: RecordedStatus | EndpointStatus | undefined): unknown {
  return {
    observedGeneration: status?.observedGeneration,
    latestRevisionNumber: status?.latestRevisionNumber,
    deployedModels: (status?.deployedModels ?? []).map((m) => [
      m.id,
      m.revisionNumber,
      m.state,
      m.reason,
      m.reason === undefined ? undefined : m.message,
      m.previousDeployedModel,
      m.createTime,
      m.dedicatedResources,
      m.serviceAccount,
      m.placement,
      m.autoscaling?.desiredReplicaCount,
      m.autoscaling?.lastScaleTime,
    ]),
  };
}
