/**
 * From a parsed ModelEndpoint and the engine's decisions to what the owned objects are built from:
 * the routes a deployed model answers on, and the inputs of its ReplicaSet.
 */
import { isMachineType, resolveContainerResources, type ContainerResources } from "../api/machine-types.ts";
import type { ModelEndpoint } from "../api/resource.ts";
import type { DeployedModel } from "../api/spec.ts";
import { findRoot } from "../rollout/chains.ts";
import { recordedLinks } from "../rollout/summary.ts";
import type { CreateReplicaSet } from "../rollout/types.ts";
import { defaultHealthRoute, defaultPredictRoute, type ObjectInputs } from "./objects.ts";

/**
 * The ReplicaSet inputs of a CreateReplicaSet: the entry's own containerSpec (as parsed, typed),
 * the engine's resolved compute and identity (R2), and routes. A route the entry leaves out
 * defaults to Vertex's path for the chain's root model, so every revision of a chain answers on
 * the same URL (R10 requires a rolling deployment's routes to equal its previous model's).
 */
export function resolveForObjects(endpoint: ModelEndpoint, action: CreateReplicaSet): ObjectInputs {
  const entry: DeployedModel | undefined = endpoint.spec.deployedModels.find(
    (d) => d.id === action.deployedModelId,
  );
  const containerSpec = entry?.containerSpec ?? { imageUri: "" };
  const machineType = action.model.dedicatedResources?.machineSpec?.["machineType"];
  const knownMachine =
    typeof machineType === "string" && isMachineType(machineType) ? machineType : undefined;
  return {
    id: action.deployedModelId,
    model: action.model.model,
    revision: action.revision,
    containerSpec,
    ...effectiveRoutes(endpoint, action.deployedModelId),
    resources: resolveContainerResources(explicitResources(containerSpec.resources), knownMachine),
    machineType: typeof machineType === "string" ? machineType : undefined,
    serviceAccount: action.model.serviceAccount,
    disableContainerLogging: action.model.disableContainerLogging,
    enableAccessLogging: action.model.enableAccessLogging,
  };
}

/**
 * A deployed model's routes: its own, else its chain root's, else Vertex's default path for the
 * chain root, so every revision of a chain answers on the same URL.
 */
export function effectiveRoutes(
  endpoint: ModelEndpoint,
  id: string,
): { readonly predictRoute: string; readonly healthRoute: string } {
  const previous = recordedLinks(endpoint.status?.deployedModels ?? []);
  for (const d of endpoint.spec.deployedModels) {
    if (d.rolloutOptions) previous.set(d.id, d.rolloutOptions.previousDeployedModel);
  }
  const root = findRoot(id, previous);
  const own = endpoint.spec.deployedModels.find((d) => d.id === id)?.containerSpec;
  const rootSpec = endpoint.spec.deployedModels.find((d) => d.id === root)?.containerSpec;
  const name = endpoint.metadata.name;
  return {
    predictRoute: own?.predictRoute ?? rootSpec?.predictRoute ?? defaultPredictRoute(name, root),
    healthRoute: own?.healthRoute ?? rootSpec?.healthRoute ?? defaultHealthRoute(name, root),
  };
}

function explicitResources(r: DeployedModel["containerSpec"]["resources"]): ContainerResources | undefined {
  if (r === undefined) return undefined;
  return { ...(r.requests ? { requests: r.requests } : {}), ...(r.limits ? { limits: r.limits } : {}) };
}
