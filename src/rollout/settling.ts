import type { EndpointStatus, RecordedStatus, ReplicaSetSnapshot, Snapshot } from "./types.ts";

/**
 * Whether a ReplicaSet's counters lag what the snapshot already shows, so that the ReplicaSet
 * controller is about to write its status and another pass will follow:
 *
 * - it has not observed its latest spec (observedGeneration < generation), or
 * - its `replicas` differs from its pods that count (not terminating, not Succeeded or Failed), or
 * - its `readyReplicas` differs from those of them that are Ready.
 *
 * The controller writes a pass's status only once the counters have caught up (or after a bounded
 * wait): the step a readiness change allows is never queued behind a status write that the next
 * pass would overwrite (docs/operator.md, "Status writes").
 */
export function countersSettling(snapshot: Pick<Snapshot, "replicaSets" | "pods">): boolean {
  return snapshot.replicaSets.some((rs) => !rs.deleting && replicaSetSettling(rs, snapshot.pods));
}

function replicaSetSettling(rs: ReplicaSetSnapshot, pods: Snapshot["pods"]): boolean {
  if (rs.observedGeneration < rs.generation) return true;
  let active = 0;
  let ready = 0;
  for (const pod of pods) {
    if (pod.deployedModelId !== rs.deployedModelId || pod.deleting) continue;
    if (pod.phase === "Succeeded" || pod.phase === "Failed") continue;
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
  return JSON.stringify(memoryOf(recorded)) !== JSON.stringify(memoryOf(next));
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
