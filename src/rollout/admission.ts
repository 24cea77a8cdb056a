import type { Member, PlanContext } from "./context.ts";
import type { Failure } from "./deadline.ts";
import { FailureReason } from "./types.ts";
import type { DeployedModelState } from "./types.ts";

/**
 * R10 at reconcile time: the rules the CRD cannot check because they depend on status, judged once,
 * when an entry is first seen (no status record and no ReplicaSet), so that the outcome never
 * depends on later timing. An accepted entry starts BEING_DEPLOYED; a refused one is FAILED with a
 * reason, gets no ReplicaSet, and touches nothing else.
 *
 * A rolling deployment onto `p` is accepted when `p` is in spec and
 *
 * - `p` is DEPLOYED, or `p` is itself an in-progress rolling deployment (BEING_DEPLOYED with
 *   rolloutOptions): a roll-over or a rollback (R9). Otherwise PreviousNotDeployed: `p` FAILED,
 *   REPLACED, or is a first deployment still coming up;
 * - no other live entry rolls onto `p` (PreviousHasRollout; admission forbids it, this is the
 *   backstop);
 * - its predictRoute and healthRoute equal `p`'s (RouteMismatch; likewise a backstop).
 *
 * Entries first seen in the same pass are judged previous-first, each against the states decided so
 * far, after this pass's deadline check (R8 comes first): m2 -> m1 and m3 -> m2 applied together onto
 * a DEPLOYED m1 accept both, m3 being a roll-over of the in-progress m2; a rollback that arrives in
 * the pass where the rollout it targets fails is refused, and the revert it asked for happens anyway.
 *
 * `stateOf` gives the state of every member not first seen (after failures); the result maps each
 * first-seen id to its refusal, or to undefined when accepted.
 */
export function judgeFirstSeen(
  ctx: PlanContext,
  stateOf: (id: string) => DeployedModelState | undefined,
): ReadonlyMap<string, Failure | undefined> {
  const judged = new Map<string, Failure | undefined>();
  const current = (id: string): DeployedModelState | undefined => {
    if (judged.has(id)) return judged.get(id) === undefined ? "BEING_DEPLOYED" : "FAILED";
    return stateOf(id);
  };
  const firstSeen = ctx.members
    .filter((m) => m.firstSeen)
    .sort((a, b) => a.revision - b.revision || a.index - b.index);
  for (const member of firstSeen) judged.set(member.id, judge(ctx, member, current));
  return judged;
}

function judge(
  ctx: PlanContext,
  member: Member,
  current: (id: string) => DeployedModelState | undefined,
): Failure | undefined {
  const previousId = member.namedPreviousId;
  if (previousId === undefined) return undefined;
  const previous = ctx.byId.get(previousId);
  if (previous === undefined) {
    return {
      reason: FailureReason.PreviousNotFound,
      message: `previousDeployedModel ${previousId} is not a deployed model of this endpoint`,
    };
  }
  for (const route of ["predictRoute", "healthRoute"] as const) {
    const own = member.spec.containerSpec[route];
    const theirs = previous.spec.containerSpec[route];
    if (own !== theirs) {
      return {
        reason: FailureReason.RouteMismatch,
        message: `${route} ${own ?? "(default)"} differs from ${theirs ?? "(default)"} of ${previousId}; a rolling deployment serves the same routes as the model it replaces`,
      };
    }
  }
  const sibling = ctx.members.find(
    (m) => m.id !== member.id && m.previousId === previousId && (current(m.id) ?? "FAILED") !== "FAILED",
  );
  if (sibling !== undefined) {
    return {
      reason: FailureReason.PreviousHasRollout,
      message: `${sibling.id} already rolls onto ${previousId}; roll onto ${sibling.id} instead`,
    };
  }
  const state = current(previousId);
  if (canRollOnto(state, previous.previousId !== undefined)) return undefined;
  const what =
    state === "BEING_DEPLOYED"
      ? "is still being deployed and is not a rolling deployment (a first deployment, or a rollback onto it after the revisions above it left spec)"
      : state === undefined
        ? "has not been deployed"
        : `is ${state}`;
  return {
    reason: FailureReason.PreviousNotDeployed,
    message: `cannot roll onto ${previousId}: it ${what}; a rolling deployment needs a DEPLOYED model or an in-progress rolling deployment`,
  };
}

/**
 * R10: a model can be rolled onto when it is DEPLOYED, or when it is itself an in-progress rolling
 * deployment (BEING_DEPLOYED and rolling onto another: a roll-over or a rollback, R9). Not onto a
 * FAILED or REPLACED model, nor onto a first deployment still coming up. The operator judges a new
 * entry with it; the kubectl plugin refuses such an edit with it before writing.
 */
export function canRollOnto(state: string | undefined, isRollingDeployment: boolean): boolean {
  return state === "DEPLOYED" || (state === "BEING_DEPLOYED" && isRollingDeployment);
}
