/**
 * Carrying out the engine's actions: each one becomes a write, in the plan's order, stopping at the
 * first failure (the next pass plans again from what happened). A write the API server refuses for
 * good is handed back for the engine's next pass, which fails the rollout (R8).
 */
import type { ModelEndpoint } from "../api/resource.ts";
import { TerminalError } from "../kube/errors.ts";
import type { DeepReadonly, ReplicaSet } from "../kube/objects.ts";
import type { Action, ActionError } from "../rollout/types.ts";
import { buildReplicaSet, type ModelPodSettings, type OwnerEndpoint } from "./objects.ts";
import { resolveForObjects } from "./resolve.ts";
import type { Writer } from "./writer.ts";

/** The endpoint a pass acts on, as that pass saw it. */
export interface ActionTarget {
  /** "namespace/name". */
  readonly key: string;
  readonly ref: OwnerEndpoint;
  readonly endpoint: ModelEndpoint;
  readonly replicaSets: readonly DeepReadonly<ReplicaSet>[];
  /** How its model pods run (operator configuration). */
  readonly pods?: ModelPodSettings;
}

export interface ActionEffects {
  readonly writer: Writer;
  /** A ReplicaSet was written while the cache showed `staleVersion` (see Expectations). */
  readonly expect: (endpointKey: string, objectKey: string, staleVersion: string) => void;
}

/** The outcome of applying a plan's actions. */
export interface Applied {
  /** The first failure; the actions after it were not attempted. */
  readonly failure: Error | undefined;
  /** Writes the API server refused for good, for the engine's next pass. */
  readonly terminal: readonly ActionError[];
}

/**
 * Applies actions in order and returns the first failure (the rest are left to the next pass). Pod
 * labels that follow one another in the plan do not depend on each other and are written at once;
 * every other action waits for the one before it.
 */
export async function applyActions(
  effects: ActionEffects,
  on: ActionTarget,
  actions: readonly Action[],
): Promise<Applied> {
  const terminal: ActionError[] = [];
  for (const group of batchLabels(actions)) {
    const failures = await Promise.all(group.map((action) => applyAction(effects, on, action, terminal)));
    const failure = failures.find((f) => f !== undefined);
    if (failure !== undefined) return { failure, terminal };
  }
  return { failure: undefined, terminal };
}

async function applyAction(
  { writer, expect }: ActionEffects,
  { key, ref, endpoint, replicaSets, pods }: ActionTarget,
  action: Action,
  terminal: ActionError[],
): Promise<Error | undefined> {
  const byName = (name: string) => replicaSets.find((rs) => rs.metadata?.name === name);
  try {
    switch (action.kind) {
      case "createReplicaSet": {
        const rs = buildReplicaSet(
          ref,
          resolveForObjects(endpoint, action, pods?.placement),
          action.replicas,
          { poolSize: action.poolSize, lineage: action.lineage, rolloutSettings: action.rolloutSettings },
          action.serving,
          pods,
        );
        await writer.createReplicaSet(rs, ref.uid);
        expect(key, `replicasets/${ref.namespace}/${rs.metadata?.name ?? ""}`, "");
        break;
      }
      case "scaleReplicaSet": {
        const rv = byName(action.replicaSetName)?.metadata?.resourceVersion ?? "";
        await writer.scaleReplicaSet(ref.namespace, action.replicaSetName, action.from, action.to);
        expect(key, `replicasets/${ref.namespace}/${action.replicaSetName}`, rv);
        break;
      }
      case "deleteReplicaSet": {
        const uid = byName(action.replicaSetName)?.metadata?.uid ?? "";
        await writer.deleteReplicaSet(ref.namespace, action.replicaSetName, uid);
        break;
      }
      case "setPodServing":
        await writer.setPodServing(ref.namespace, action.podName, action.serving);
        break;
    }
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    if (err instanceof TerminalError) {
      terminal.push({
        deployedModelId: action.deployedModelId,
        action: action.kind,
        terminal: true,
        message: error.message,
      });
    }
    return error;
  }
  return undefined;
}

/**
 * The plan's actions in order, runs of pod labels grouped (they are applied at once). Pods that
 * start serving and pods that stop are separate groups: traffic is added before it is taken away.
 */
export function batchLabels(actions: readonly Action[]): Action[][] {
  const groups: Action[][] = [];
  for (const action of actions) {
    const last = groups.at(-1);
    const first = last?.[0];
    if (
      action.kind === "setPodServing" &&
      first?.kind === "setPodServing" &&
      first.serving === action.serving
    )
      last?.push(action);
    else groups.push([action]);
  }
  return groups;
}

/**
 * Actions a stale view must not take: creating or deleting a ReplicaSet, and scaling one to zero
 * (which takes a model out of service). Scaling between non-zero counts and pod labels are steps
 * the next pass corrects. The reconciler reads the endpoint live before a pass that has one.
 */
export function cannotBeUndone(action: Action): boolean {
  switch (action.kind) {
    case "createReplicaSet":
    case "deleteReplicaSet":
      return true;
    case "scaleReplicaSet":
      return action.to === 0;
    case "setPodServing":
      return false;
  }
}
