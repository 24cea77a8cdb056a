/**
 * `rollout status` judged from one read of the endpoint (pure): which rolling deployment to follow,
 * how far it is, and whether it is over.
 */
import { chainOf, type EndpointView, type ModelView } from "../edits/endpoint.ts";

export type Progress =
  /** The operator has not yet observed the latest spec, or the model is not in status yet. */
  | { readonly phase: "waiting"; readonly line: string }
  | { readonly phase: "progressing"; readonly line: string }
  /** The chain has converged on the model: it is DEPLOYED and every other member holds 0 replicas. */
  | { readonly phase: "done"; readonly line: string }
  /** It FAILED (and reverted), or a later revision replaced it. */
  | { readonly phase: "failed"; readonly line: string };

/**
 * The rolling deployment `rollout status` follows when no ID is given: the one in progress (the
 * last in spec order if several), else the last rolling deployment, else the last model.
 */
export function defaultTarget(view: EndpointView): string | undefined {
  const models = view.models;
  const inProgress = models.filter((m) => m.state === "BEING_DEPLOYED");
  const rolling = models.filter((m) => m.previous !== undefined);
  return (inProgress.at(-1) ?? rolling.at(-1) ?? models.at(-1))?.id;
}

function replicasOf(members: readonly ModelView[]): string {
  return members
    .filter((m) => m.state !== "PENDING")
    .map((m) => `${m.id} ${m.available}/${m.replicas} available`)
    .join(", ");
}

/** Where the rollout of `id` stands in `view`. */
export function judge(view: EndpointView, id: string): Progress {
  if (view.observedGeneration === undefined || view.observedGeneration < view.generation) {
    return {
      phase: "waiting",
      line: `waiting for the operator to observe generation ${view.generation} of ${view.name}`,
    };
  }
  const model = view.models.find((m) => m.id === id);
  if (model === undefined) {
    return { phase: "failed", line: `${id} is not a deployed model of ${view.name} (any more)` };
  }
  if (model.state === "PENDING")
    return { phase: "waiting", line: `waiting for ${id} to appear in the status` };
  const members = chainOf(view, id);
  const traffic = `traffic ${view.traffic}`;
  const label = `${id} (revision ${model.revision ?? "?"})`;
  switch (model.state) {
    case "FAILED":
      return {
        phase: "failed",
        line: `${label} FAILED${model.reason === undefined ? "" : ` (${model.reason})`}: ${model.message ?? ""}; ${traffic}`,
      };
    case "REPLACED": {
      const later = members.filter((m) => (m.revision ?? 0) > (model.revision ?? 0) && m.state !== "FAILED");
      return {
        phase: "failed",
        line: `${label} was REPLACED by ${later.map((m) => m.id).join(", ") || "a later revision"}; ${traffic}`,
      };
    }
    case "DEPLOYED": {
      const others = members.filter((m) => m.id !== id && m.replicas > 0);
      if (others.length === 0) {
        return {
          phase: "done",
          line: `${label} rolled out: DEPLOYED, ${model.available}/${model.pool ?? model.replicas} replicas available; ${traffic}`,
        };
      }
      return { phase: "progressing", line: `${label} DEPLOYED, retiring ${replicasOf(others)}; ${traffic}` };
    }
    default:
      return {
        phase: "progressing",
        line: `${label} ${model.state}${model.message === undefined ? "" : `: ${model.message}`} [${replicasOf(members)}]; ${traffic}`,
      };
  }
}
