import { sameJson } from "./json.ts";
import { formatTime } from "./time.ts";
import { ConditionReason, ConditionType } from "./types.ts";
import type {
  Condition,
  ConditionStatus,
  DeployedModelStatus,
  FailureReason,
  RecordedCondition,
  RecordedDeployedModelStatus,
} from "./types.ts";

/**
 * Status is computed, never patched: every pass builds the whole status from the context and the
 * decisions, deterministically, and keeps a timestamp only when what it stamps did not change. The
 * controller compares it with what it read and writes it when it differs, which after a quiet pass
 * is never.
 */

type OptionalField =
  "previousDeployedModel" | "reason" | "dedicatedResources" | "serviceAccount" | "placement" | "autoscaling";

/**
 * Everything a deployed model's status record says, before its lastUpdateTime is decided: times as
 * epoch seconds, optional fields allowed to be undefined.
 */
export type DeployedModelFields = Omit<
  DeployedModelStatus,
  OptionalField | "createTime" | "lastUpdateTime" | "progressTime"
> & { readonly [P in OptionalField]?: DeployedModelStatus[P] | undefined } & {
  readonly createTime: number;
  readonly progressTime?: number | undefined;
};

/**
 * The status record of one deployed model. lastUpdateTime is the recorded one when every other field
 * is unchanged, else `now`: a pass that changes nothing about a model does not touch its record.
 */
export function buildDeployedModelStatus(
  fields: DeployedModelFields,
  recorded: RecordedDeployedModelStatus | undefined,
  now: number,
  format: (epochSeconds: number) => string = formatTime,
): DeployedModelStatus {
  const record: Omit<DeployedModelStatus, "lastUpdateTime"> = {
    id: fields.id,
    revisionNumber: fields.revisionNumber,
    state: fields.state,
    replicas: fields.replicas,
    readyReplicas: fields.readyReplicas,
    availableReplicaCount: fields.availableReplicaCount,
    createTime: format(fields.createTime),
    message: fields.message,
    ...(fields.previousDeployedModel === undefined
      ? {}
      : { previousDeployedModel: fields.previousDeployedModel }),
    ...(fields.reason === undefined ? {} : { reason: fields.reason }),
    ...(fields.progressTime === undefined ? {} : { progressTime: format(fields.progressTime) }),
    ...(fields.dedicatedResources === undefined ? {} : { dedicatedResources: fields.dedicatedResources }),
    ...(fields.serviceAccount === undefined ? {} : { serviceAccount: fields.serviceAccount }),
    ...(fields.autoscaling === undefined ? {} : { autoscaling: fields.autoscaling }),
    ...(fields.placement === undefined ? {} : { placement: fields.placement }),
  };
  const previous = recorded?.lastUpdateTime;
  const unchanged =
    recorded !== undefined &&
    previous !== undefined &&
    Number.isFinite(Date.parse(previous)) &&
    sameJson({ ...recorded, lastUpdateTime: undefined }, record);
  return { ...record, lastUpdateTime: unchanged ? previous : format(now) };
}

/** A condition as the planner decides it, before its lastTransitionTime. */
export interface ConditionDecision {
  readonly type: ConditionType;
  readonly status: ConditionStatus;
  readonly reason: ConditionReason;
  readonly message: string;
}

/**
 * A metav1.Condition: lastTransitionTime is kept from the recorded condition of the same type when
 * its status did not flip, else `now`; observedGeneration is the generation planned from.
 */
export function buildCondition(
  decision: ConditionDecision,
  recorded: readonly RecordedCondition[] | undefined,
  generation: number,
  now: number,
  format: (epochSeconds: number) => string = formatTime,
): Condition {
  const previous = recorded?.find((c) => c.type === decision.type);
  const since = previous?.lastTransitionTime;
  const keep =
    previous?.status === decision.status && since !== undefined && Number.isFinite(Date.parse(since));
  return {
    ...decision,
    lastTransitionTime: keep ? since : format(now),
    observedGeneration: generation,
  };
}

/** How one chain stands after this pass, for the endpoint's conditions. */
export type ChainPhase =
  /** Pool size unknown: left alone. */
  | "frozen"
  /** Its intended member is BEING_DEPLOYED (a first deployment, a rolling deployment, a rollback). */
  | "progressing"
  /** Its newest rollout failed and it is converging back onto the previous revision. */
  | "reverting"
  /** Its intended member is DEPLOYED and replicas are moving (N changed, drift repaired). */
  | "scaling"
  /** No live revision (every revision still in spec FAILED); `settled` tells whether pods remain. */
  | "undeployed"
  /** Converged on its intended member. */
  | "steady";

export interface ChainSummary {
  readonly phase: ChainPhase;
  /** Converged with every replica of the pool available (steady) or nothing left to remove (undeployed). */
  readonly settled: boolean;
  /** The chain's newest member FAILED during a rollout (not a refusal). */
  readonly reverted: boolean;
  /** "m2: 3/5 new replicas available", for condition messages. */
  readonly message: string;
}

/** A FAILED member, for the Degraded condition. */
export interface FailedMember {
  readonly id: string;
  readonly reason: FailureReason;
  readonly message: string;
}

/**
 * The four conditions, from the chains and the FAILED entries:
 *
 * - Ready is True only when every chain is steady with all N replicas available (kstatus: the
 *   endpoint is Current). An endpoint without deployed models is Ready.
 * - Progressing is True while something moves: NewRevisionProgressing, RolloutReverting or
 *   ReplicasScaling (in this order of precedence); False with RolloutReverted when everything is
 *   converged and some chain's newest rollout failed, else RolloutComplete.
 * - Degraded is True while a chain the split gives a share serves nothing (`unserved`, reason
 *   TrafficNotServed: an outage is the first thing to say), else while chains with a share answer
 *   different routes behind the endpoint Service (`routeConflicts`, RouteConflict), else while a FAILED entry is in spec,
 *   with that entry's reason; the user "acts" by removing it (which a retry needs anyway: its
 *   previousDeployedModel slot is taken). So Degraded=True survives a completed revert: the
 *   endpoint serves, but not what was asked for.
 * - Stalled mirrors Degraded (same status, reason and message) under the name kstatus reads, so
 *   Flux and other kstatus users see a failed rollout as Failed without a custom health check.
 */
export function decideConditions(
  chains: readonly ChainSummary[],
  degradation: {
    /** FAILED entries in spec. */
    readonly failed: readonly FailedMember[];
    /** Chains with a share that serve nothing, past their grace: one message each. */
    readonly unserved?: readonly string[];
    /** Chains with a share on another route than the largest share's: one message each. */
    readonly routeConflicts?: readonly string[];
  },
): readonly ConditionDecision[] {
  const { failed, unserved = [], routeConflicts = [] } = degradation;
  const messages = (phases: readonly ChainPhase[]): string =>
    chains
      .filter((c) => phases.includes(c.phase))
      .map((c) => c.message)
      .join("; ");
  const any = (phase: ChainPhase): boolean => chains.some((c) => c.phase === phase);

  let ready: ConditionDecision;
  let progressing: ConditionDecision;
  const notReady = (reason: ConditionReason, phases: readonly ChainPhase[]): ConditionDecision => ({
    type: ConditionType.Ready,
    status: "False",
    reason,
    message: messages(phases),
  });
  if (any("frozen")) ready = notReady(ConditionReason.PoolSizeUnknown, ["frozen"]);
  else if (any("progressing")) ready = notReady(ConditionReason.NewRevisionProgressing, ["progressing"]);
  else if (any("reverting")) ready = notReady(ConditionReason.RolloutReverting, ["reverting"]);
  else if (any("scaling")) ready = notReady(ConditionReason.ReplicasScaling, ["scaling"]);
  else if (any("undeployed")) ready = notReady(ConditionReason.NoServingRevision, ["undeployed"]);
  else if (chains.some((c) => !c.settled)) {
    ready = {
      type: ConditionType.Ready,
      status: "False",
      reason: ConditionReason.ReplicasUnavailable,
      message: chains
        .filter((c) => !c.settled)
        .map((c) => c.message)
        .join("; "),
    };
  } else {
    ready = {
      type: ConditionType.Ready,
      status: "True",
      reason: ConditionReason.AllReplicasAvailable,
      message: chains.length === 0 ? "no deployed models" : messages(["steady"]),
    };
  }

  const moving = (reason: ConditionReason, phases: readonly ChainPhase[]): ConditionDecision => ({
    type: ConditionType.Progressing,
    status: "True",
    reason,
    message: messages(phases),
  });
  if (any("progressing")) progressing = moving(ConditionReason.NewRevisionProgressing, ["progressing"]);
  else if (any("reverting")) progressing = moving(ConditionReason.RolloutReverting, ["reverting"]);
  else if (any("scaling") || chains.some((c) => c.phase === "undeployed" && !c.settled)) {
    progressing = moving(ConditionReason.ReplicasScaling, ["scaling", "undeployed"]);
  } else if (any("frozen")) {
    progressing = {
      type: ConditionType.Progressing,
      status: "False",
      reason: ConditionReason.PoolSizeUnknown,
      message: messages(["frozen"]),
    };
  } else {
    const reverted = chains.filter((c) => c.reverted);
    progressing = {
      type: ConditionType.Progressing,
      status: "False",
      reason: reverted.length > 0 ? ConditionReason.RolloutReverted : ConditionReason.RolloutComplete,
      message:
        reverted.length > 0
          ? reverted.map((c) => c.message).join("; ")
          : chains.length === 0
            ? "no deployed models"
            : "every deployed model is at its intended revision",
    };
  }

  const first = failed[0];
  const failures = failed.map((f) => `${f.id} FAILED (${f.reason}): ${f.message}`);
  let degraded: ConditionDecision;
  if (unserved.length > 0) {
    degraded = {
      type: ConditionType.Degraded,
      status: "True",
      reason: ConditionReason.TrafficNotServed,
      message: [...unserved, ...failures].join("; "),
    };
  } else if (routeConflicts.length > 0) {
    degraded = {
      type: ConditionType.Degraded,
      status: "True",
      reason: ConditionReason.RouteConflict,
      message: [...routeConflicts, ...failures].join("; "),
    };
  } else if (first !== undefined) {
    degraded = {
      type: ConditionType.Degraded,
      status: "True",
      reason: first.reason,
      message: failures.join("; "),
    };
  } else {
    degraded = {
      type: ConditionType.Degraded,
      status: "False",
      reason: ConditionReason.AsExpected,
      message: "",
    };
  }
  const stalled: ConditionDecision = { ...degraded, type: ConditionType.Stalled };
  return [ready, progressing, degraded, stalled];
}
