/**
 * The four status strings behind the printer columns of `kubectl get modelendpoints`
 * (REVISION, STATE, REPLICAS, TRAFFIC). A column's jsonPath cannot aggregate a list, so the
 * operator writes these summaries along with the status they summarise:
 *
 *     NAME    REVISION   STATE            REPLICAS   TRAFFIC       READY   AGE
 *     fraud   m2@2       BEING_DEPLOYED   3/5        m1=40,m2=60   False   3m
 */
import type { DeployedModelState } from "./constants.ts";

/** The intended model of one rollout chain (DESIGN R3): highest revision that has not failed. */
export interface ChainHead {
  readonly id: string;
  readonly revisionNumber: number;
  readonly state: DeployedModelState;
}

export interface SummaryInput {
  /** One entry per rollout chain. */
  readonly heads: readonly ChainHead[];
  /** Ready pods of the endpoint (all chains). */
  readonly readyReplicas: number;
  /** Pods the endpoint should have once every chain is at its intended state (sum of the pools). */
  readonly desiredReplicas: number;
  /** status.trafficSplit. */
  readonly trafficSplit: Readonly<Record<string, number>>;
}

export interface StatusSummary {
  /** `m2@2`; several chains: `a@1,m2@2` (by id). */
  readonly revision: string;
  /** `BEING_DEPLOYED`; several chains: one state per chain, in the order of `revision`. */
  readonly state: string;
  /** `3/5`. */
  readonly ready: string;
  /** `m1=40,m2=60` (by id, shares of 0 left out); `none` when no model receives traffic. */
  readonly traffic: string;
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function summarizeStatus(input: SummaryInput): StatusSummary {
  const heads = [...input.heads].sort(byId);
  const shares = Object.entries(input.trafficSplit)
    .filter(([, percent]) => percent > 0)
    .map(([id, percent]) => ({ id, percent }))
    .sort(byId);
  return {
    revision: heads.map((h) => `${h.id}@${h.revisionNumber}`).join(","),
    state: heads.map((h) => h.state).join(","),
    ready: `${input.readyReplicas}/${input.desiredReplicas}`,
    traffic: shares.length === 0 ? "none" : shares.map((s) => `${s.id}=${s.percent}`).join(","),
  };
}
