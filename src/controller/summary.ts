/**
 * The one-line summaries `kubectl get modelendpoints` prints (status.revision, .state, .ready,
 * .traffic; the CRD's printer columns), computed from the engine's status. A jsonPath cannot
 * aggregate over chains, so the operator writes these strings.
 */
import type { EndpointStatus } from "../rollout/types.ts";

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

/** Walks previousDeployedModel links to the chain's root. */
export function chainRoot(id: string, previous: ReadonlyMap<string, string>): string {
  const seen = new Set<string>();
  let at = id;
  for (;;) {
    const next = previous.get(at);
    if (next === undefined || seen.has(next)) return at;
    seen.add(at);
    at = next;
  }
}

/**
 * Each chain's intended model (R3): the highest revision that has not FAILED; when every member
 * failed, the highest revision (so a failed first deployment still shows).
 */
export function intendedModels(
  status: Pick<EndpointStatus, "deployedModels">,
): EndpointStatus["deployedModels"] {
  const previous = new Map<string, string>();
  for (const m of status.deployedModels) {
    if (m.previousDeployedModel !== undefined) previous.set(m.id, m.previousDeployedModel);
  }
  const chains = new Map<string, EndpointStatus["deployedModels"][number][]>();
  for (const m of status.deployedModels) {
    const root = chainRoot(m.id, previous);
    chains.set(root, [...(chains.get(root) ?? []), m]);
  }
  return [...chains.values()].map((members) => {
    const byRevision = [...members].sort((a, b) => b.revisionNumber - a.revisionNumber);
    return byRevision.find((m) => m.state !== "FAILED") ?? (byRevision[0] as (typeof members)[number]);
  });
}

export function summarize(status: Pick<EndpointStatus, "deployedModels" | "trafficSplit">): StatusSummary {
  const intended = intendedModels(status);
  const ready = intended.reduce((sum, m) => sum + m.readyReplicas, 0);
  const desired = intended.reduce(
    (sum, m) => sum + (m.state === "FAILED" ? 0 : (m.dedicatedResources?.minReplicaCount ?? 0)),
    0,
  );
  const traffic = Object.entries(status.trafficSplit)
    .filter(([, percent]) => percent > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, percent]) => `${id}=${percent}`)
    .join(",");
  return {
    revision: intended.map((m) => `${m.id}@${m.revisionNumber}`).join(","),
    state: intended.map((m) => m.state).join(","),
    ready: `${ready}/${desired}`,
    traffic: traffic === "" ? "none" : traffic,
  };
}
