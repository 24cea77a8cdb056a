/**
 * When a rollout is complete, as users judge it: a Deployment as `kubectl rollout status` does (the
 * controller observed the change, every replica updated and available, no old one left), a
 * ModelEndpoint as `kubectl wait --for=condition=Ready` plus the deployed models' states.
 */
import type { DeepReadonly } from "../../src/kube/objects.ts";
import type { Deployment, ModelEndpointObject } from "./objects.ts";

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
