/**
 * The one-line summaries `kubectl get modelendpoints` prints (status.revision, .state, .ready,
 * .traffic; the CRD's printer columns), computed from the engine's status. A jsonPath cannot
 * aggregate over chains, so the operator writes these strings; the kubectl plugin reads a status
 * the same way. Pure: the chain and intended-member rules are those of chains.ts.
 */
import { findRoot, findShownIntended } from "./chains.ts";
import type { DeployedModelStatus, EndpointStatus } from "./types.ts";

export interface StatusSummary {
  /** "<id>@<revision>" of each chain's intended model, e.g. "m2@2". */
  readonly revision: string;
  /** The state of each chain's intended model, e.g. "BEING_DEPLOYED". */
  readonly state: string;
  /** Ready replicas / desired replicas over the endpoint's intended models, e.g. "3/5". */
  readonly ready: string;
  /** The effective split, e.g. "m1=40,m2=60"; "none" when no model receives traffic. */
  readonly traffic: string;
}

/** Each model's previous one by the links a status records. */
export function recordedLinks(
  models: readonly { readonly id: string; readonly previousDeployedModel?: string | undefined }[],
): Map<string, string> {
  const previous = new Map<string, string>();
  for (const m of models) {
    if (m.previousDeployedModel !== undefined) previous.set(m.id, m.previousDeployedModel);
  }
  return previous;
}

/** Each chain's intended model by the recorded status ({@link findShownIntended}), in spec order. */
export function findIntendedModels(
  status: Pick<EndpointStatus, "deployedModels">,
): EndpointStatus["deployedModels"] {
  const previous = recordedLinks(status.deployedModels);
  const chains = new Map<string, DeployedModelStatus[]>();
  for (const m of status.deployedModels) {
    const root = findRoot(m.id, previous);
    chains.set(root, [...(chains.get(root) ?? []), m]);
  }
  return [...chains.values()].flatMap((members) => {
    const pick = findShownIntended(members.map((m) => ({ ...m, revision: m.revisionNumber })));
    const model = members.find((m) => m.id === pick?.id);
    return model === undefined ? [] : [model];
  });
}

/** "m1=40,m2=60" (shares of 0 left out, ids in order), "none" without traffic. */
export function formatSplit(split: Readonly<Record<string, number>>): string {
  const parts = Object.entries(split)
    .filter(([, percent]) => percent > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, percent]) => `${id}=${percent}`);
  return parts.length === 0 ? "none" : parts.join(",");
}

/** The four printer-column strings of a status. */
export function summarize(status: Pick<EndpointStatus, "deployedModels" | "trafficSplit">): StatusSummary {
  const intended = findIntendedModels(status);
  const ready = intended.reduce((sum, m) => sum + m.readyReplicas, 0);
  const desired = intended.reduce(
    (sum, m) => sum + (m.state === "FAILED" ? 0 : (m.dedicatedResources?.minReplicaCount ?? 0)),
    0,
  );
  return {
    revision: intended.map((m) => `${m.id}@${m.revisionNumber}`).join(","),
    state: intended.map((m) => m.state).join(","),
    ready: `${ready}/${desired}`,
    traffic: formatSplit(status.trafficSplit),
  };
}
