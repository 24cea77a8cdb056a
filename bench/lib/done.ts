/**
 * When a rollout is complete, as users judge it: a Deployment as `kubectl rollout status` does (the
 * controller observed the change, every replica updated and available, no old one left), a
 * ModelEndpoint as `kubectl wait --for=condition=Ready` plus the deployed models' states, an Argo
 * Rollouts Rollout as `kubectl argo rollouts status` does (observed, phase Healthy).
 */
import type { DeepReadonly } from "../../src/kube/objects.ts";
import type { ArgoRolloutObject, Deployment, ModelEndpointObject } from "./objects.ts";

export function deploymentDone(generation: number, replicas: number) {
  return (d: DeepReadonly<Deployment>): boolean => {
    const s = d.status;
    const gen = d.metadata?.generation ?? 0;
    return (
      gen >= generation &&
      (s?.observedGeneration ?? 0) >= gen &&
      s?.updatedReplicas === replicas &&
      s.replicas === replicas &&
      s.availableReplicas === replicas
    );
  };
}

export function endpointDone(generation: number, states: Readonly<Record<string, string>>) {
  return (e: DeepReadonly<ModelEndpointObject>): boolean => {
    const s = e.status;
    const gen = e.metadata?.generation ?? 0;
    return (
      gen >= generation &&
      s?.observedGeneration === gen &&
      (s.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false) &&
      Object.entries(states).every(
        ([id, state]) => s.deployedModels?.find((m) => m.id === id)?.state === state,
      )
    );
  };
}

/**
 * `kubectl argo rollouts status` (rolloututil.GetRolloutPhase): the controller observed the
 * generation (status.observedGeneration, a string; one that is not a number counts as observed, as
 * there) and computed phase Healthy. For a canary without traffic routing Healthy means N updated,
 * every updated one available, no old replica left and the new ReplicaSet stable; the counts and
 * the hashes are checked too, so a phase the counts contradict would show as a timeout.
 */
export function argoRolloutDone(generation: number, replicas: number) {
  return (r: DeepReadonly<ArgoRolloutObject>): boolean => {
    const s = r.status;
    const gen = r.metadata?.generation ?? 0;
    const observed = Number(s?.observedGeneration ?? "0");
    return (
      gen >= generation &&
      (Number.isInteger(observed) ? observed >= gen : true) &&
      s?.phase === "Healthy" &&
      s.updatedReplicas === replicas &&
      s.replicas === replicas &&
      s.availableReplicas === replicas &&
      s.stableRS !== undefined &&
      s.stableRS === s.currentPodHash
    );
  };
}
