/**
 * From a parsed ModelEndpoint and the engine's decisions to what the owned objects are built from:
 * the routes a deployed model answers on, and the inputs of its ReplicaSet.
 */
import type { ContainerResources, MachineSpecInput } from "../api/machine-types.ts";
import type { ModelEndpoint } from "../api/resource.ts";
import type { DeployedModel } from "../api/spec.ts";
import { findRoot } from "../rollout/chains.ts";
import { recordedLinks } from "../rollout/summary.ts";
import type { CreateReplicaSet } from "../rollout/types.ts";
import { defaultHealthRoute, defaultPredictRoute, type ObjectInputs } from "./objects.ts";
import {
  containerResources,
  DEFAULT_PLACEMENT_PROFILE,
  podPlacement,
  type PlacementProfile,
} from "./placement.ts";

/**
 * The ReplicaSet inputs of a CreateReplicaSet: the entry's own containerSpec (as parsed, typed),
 * the engine's resolved compute, identity and placement (R2), sized and placed by the operator's
 * placement profile, and routes. A route the entry leaves out
 * defaults to Vertex's path for the chain's root model, so every revision of a chain answers on
 * the same URL (R10 requires a rolling deployment's routes to equal its previous model's).
 */
export function resolveForObjects(
  endpoint: ModelEndpoint,
  action: CreateReplicaSet,
  profile: PlacementProfile = DEFAULT_PLACEMENT_PROFILE,
): ObjectInputs {
  const entry: DeployedModel | undefined = endpoint.spec.deployedModels.find(
    (d) => d.id === action.deployedModelId,
  );
  const containerSpec = entry?.containerSpec ?? { imageUri: "" };
  const machineSpec = asMachineSpec(action.model.dedicatedResources?.machineSpec);
  const machineType = machineSpec?.machineType;
  return {
    id: action.deployedModelId,
    model: action.model.model,
    revision: action.revision,
    containerSpec,
    ...effectiveRoutes(endpoint, action.deployedModelId),
    resources: containerResources(explicitResources(containerSpec.resources), machineSpec, profile),
    placement: podPlacement(machineSpec, action.model.placement, profile),
    machineType,
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

/** The engine's opaque machineSpec, as the API shapes it (machineType required). */
function asMachineSpec(spec: Readonly<Record<string, unknown>> | undefined): MachineSpecInput | undefined {
  const { machineType, acceleratorType, acceleratorCount } = spec ?? {};
  if (typeof machineType !== "string") return undefined;
  return {
    machineType,
    ...(typeof acceleratorType === "string" ? { acceleratorType } : {}),
    ...(typeof acceleratorCount === "number" ? { acceleratorCount } : {}),
  };
}

function explicitResources(r: DeployedModel["containerSpec"]["resources"]): ContainerResources | undefined {
  if (r === undefined) return undefined;
  return { ...(r.requests ? { requests: r.requests } : {}), ...(r.limits ? { limits: r.limits } : {}) };
}
