/**
 * The rollout engine's own vocabulary: what it reads (a {@link Snapshot}) and what it returns (a
 * {@link Plan}). These types are independent of the zod API schemas on purpose: the controller maps
 * the ModelEndpoint and its children onto them, so the engine can be read, tested and changed
 * without a cluster or a schema library. Field names mirror the API (docs/api.md) so the
 * mapping is one line per field.
 *
 * Input types accept `undefined` for every optional field (`x?: T | undefined`), so values parsed by
 * zod assign to them directly under `exactOptionalPropertyTypes`; output types do not, so the
 * status the engine returns never carries an explicit `undefined` into a Kubernetes object.
 */

import type { AutoscalingPolicy, Proposal } from "./autoscale.ts";

// ---------------------------------------------------------------------------------------------
// Spec (input)
// ---------------------------------------------------------------------------------------------

/** Vertex MachineSpec. Opaque to the engine: it is inherited (R2) and handed back to the controller. */
export type MachineSpec = Readonly<Record<string, unknown>>;

/**
 * Where a deployed model's pods may run (nodeSelector, tolerations, affinity). Opaque to the engine:
 * inherited like serviceAccount (R2) and handed back to the controller.
 */
export type Placement = Readonly<Record<string, unknown>>;

/** Vertex DedicatedResources. `minReplicaCount` is the pool size N of a chain's root (R3). */
export interface DedicatedResources {
  readonly machineSpec?: MachineSpec | undefined;
  readonly minReplicaCount: number;
  /** Above minReplicaCount, the chain's N is autoscaled between the two (autoscale.ts). */
  readonly maxReplicaCount?: number | undefined;
  readonly autoscalingMetricSpecs?: readonly AutoscalingMetricSpec[] | undefined;
}

/** Vertex AutoscalingMetricSpec: a metric name and a target percentage. */
export interface AutoscalingMetricSpec {
  readonly metricName: string;
  readonly target?: number | undefined;
}

/**
 * Vertex ModelContainerSpec. Opaque to the engine except the two routes, which a rolling deployment
 * must share with its previous model (R10), and deploymentTimeout, a progress deadline (R8).
 */
export interface ContainerSpec {
  readonly predictRoute?: string | undefined;
  readonly healthRoute?: string | undefined;
  /** A Duration ("1800s"): the progress deadline when rolloutOptions give none. */
  readonly deploymentTimeout?: string | undefined;
  readonly [field: string]: unknown;
}

/** Vertex rolloutOptions: this entry is a rolling deployment onto `previousDeployedModel` (R1). */
export interface RolloutOptions {
  readonly previousDeployedModel: string;
  readonly maxSurgeReplicas?: number | undefined;
  readonly maxSurgePercentage?: number | undefined;
  readonly maxUnavailableReplicas?: number | undefined;
  readonly maxUnavailablePercentage?: number | undefined;
  /** Extension: seconds without progress before the rollout fails (R8). Default 600. */
  readonly progressDeadlineSeconds?: number | undefined;
}

/**
 * The rollout settings of an entry without its link: what a ReplicaSet remembers of the rolling
 * deployment that created it, so that its budgets still apply once the entry left spec (a revert).
 */
export type RolloutSettings = Omit<RolloutOptions, "previousDeployedModel">;

/** One entry of `spec.deployedModels`: one revision with its own ReplicaSet. */
export interface DeployedModelSpec {
  readonly id: string;
  readonly model: string;
  readonly containerSpec: ContainerSpec;
  readonly dedicatedResources?: DedicatedResources | undefined;
  readonly serviceAccount?: string | undefined;
  readonly disableContainerLogging?: boolean | undefined;
  readonly enableAccessLogging?: boolean | undefined;
  readonly rolloutOptions?: RolloutOptions | undefined;
  /** Extension: inherited from the previous model when unset, like serviceAccount. */
  readonly placement?: Placement | undefined;
}

/** The part of the ModelEndpoint spec the engine plans from. */
export interface EndpointSpec {
  /** Deployed-model id -> percent. Sums to 100, or is empty (no traffic). */
  readonly trafficSplit: Readonly<Record<string, number>>;
  readonly deployedModels: readonly DeployedModelSpec[];
}

/** Which ModelEndpoint this is, and which generation of its spec the snapshot holds. */
export interface EndpointRef {
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
}

// ---------------------------------------------------------------------------------------------
// Status (output, and the engine's memory between passes)
// ---------------------------------------------------------------------------------------------

/** The states of a deployed model (docs/rollout.md, "Completion and states"); pinned to the API's list by a test. */
export const DEPLOYED_MODEL_STATES = ["BEING_DEPLOYED", "DEPLOYED", "FAILED", "REPLACED"] as const;
export type DeployedModelState = (typeof DEPLOYED_MODEL_STATES)[number];

/** Stable reasons a deployed model is FAILED; `FailureReason` in its status. */
export const FailureReason = {
  /** R8: no new replica became available and no old replica was retired for the deadline. */
  ProgressDeadlineExceeded: "ProgressDeadlineExceeded",
  /** R8: the deadline passed while the ReplicaSet reported that it could not create pods. */
  PodCreateFailed: "PodCreateFailed",
  /** R8: the API server refused the ReplicaSet itself (a terminal error from the controller). */
  ReplicaSetCreateFailed: "ReplicaSetCreateFailed",
  /** R10: previousDeployedModel names no entry of this endpoint. */
  PreviousNotFound: "PreviousNotFound",
  /** R10: the previous model is neither DEPLOYED nor an in-progress rolling deployment. */
  PreviousNotDeployed: "PreviousNotDeployed",
  /** R10: another live entry already rolls onto the same previous model. */
  PreviousHasRollout: "PreviousHasRollout",
  /** R10: predictRoute or healthRoute differ from the previous model's. */
  RouteMismatch: "RouteMismatch",
} as const;
export type FailureReason = (typeof FailureReason)[keyof typeof FailureReason];

/** The reasons that mean "refused when first seen" (R10) rather than "failed while rolling" (R8). */
export const REFUSAL_REASONS: ReadonlySet<string> = new Set<string>([
  FailureReason.PreviousNotFound,
  FailureReason.PreviousNotDeployed,
  FailureReason.PreviousHasRollout,
  FailureReason.RouteMismatch,
]);

/** The status of one deployed model, as the engine writes it. */
export interface DeployedModelStatus {
  readonly id: string;
  /** R1: written once, never changes. */
  readonly revisionNumber: number;
  readonly state: DeployedModelState;
  /** Pods of its ReplicaSet (status.replicas: created, not terminating). */
  readonly replicas: number;
  readonly readyReplicas: number;
  readonly availableReplicaCount: number;
  readonly createTime: string;
  /** Changes only when another field of this record changes. */
  readonly lastUpdateTime: string;
  readonly message: string;
  /** The chain link as first seen; later edits of rolloutOptions do not re-link a chain. */
  readonly previousDeployedModel?: string;
  /** Set when FAILED. */
  readonly reason?: FailureReason;
  /**
   * Last time its rollout made progress; the progress deadline counts from here. For a DEPLOYED
   * model whose chain serves nothing while the split asks for traffic: when that started.
   */
  readonly progressTime?: string;
  /** The compute it resolved under R2 (its own for a root, inherited for a rolling deployment). */
  readonly dedicatedResources?: DedicatedResources;
  readonly serviceAccount?: string;
  /** The placement it resolved under R2 (own or inherited). */
  readonly placement?: Placement;
  /** On the head of an autoscaled chain: its N and the metrics it scales by. */
  readonly autoscaling?: AutoscalingStatus;
}

/** The autoscaling of a chain, on its head's record (the engine's memory of N between passes). */
export interface AutoscalingStatus {
  /** Replicas of the chain's intended revision when the autoscaler last looked. */
  readonly currentReplicaCount: number;
  /** N. */
  readonly desiredReplicaCount: number;
  readonly metrics: readonly {
    readonly metricName: string;
    readonly target: number;
    readonly currentValue?: number | undefined;
  }[];
  readonly lastScaleTime?: string | undefined;
  readonly message?: string | undefined;
}

export const ConditionType = {
  Ready: "Ready",
  Progressing: "Progressing",
  Degraded: "Degraded",
  /**
   * kstatus' abnormal-true condition, mirroring Degraded: True while a FAILED entry is in spec, so
   * kstatus (Flux, `kstatus`-based tools) reports a failed-and-reverted endpoint as Failed rather
   * than Current. The endpoint serves, but not what was applied.
   */
  Stalled: "Stalled",
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** Stable reasons of the three conditions. */
export const ConditionReason = {
  /** Ready=True: every chain holds N available replicas of its intended revision. */
  AllReplicasAvailable: "AllReplicasAvailable",
  /** Ready=False: every chain is converged but some hold fewer than N available replicas. */
  ReplicasUnavailable: "ReplicasUnavailable",
  /** Ready=False: a chain has no live revision (every revision of it still in spec FAILED). */
  NoServingRevision: "NoServingRevision",
  /**
   * Degraded=True: a chain the traffic split gives a share serves nothing: no live revision, pool
   * size unknown, or no Ready replica of its deployed revision for its progress deadline.
   */
  TrafficNotServed: "TrafficNotServed",
  /**
   * Degraded=True: chains with a traffic share answer different predict routes behind the one
   * endpoint Service; only those on the route of the largest share serve (traffic rule 5).
   */
  RouteConflict: "RouteConflict",
  /** Ready=False: the pool size of a chain is unknown (its root left spec and status was lost). */
  PoolSizeUnknown: "PoolSizeUnknown",
  /** Progressing=True (and Ready=False): a revision is being deployed or rolled. */
  NewRevisionProgressing: "NewRevisionProgressing",
  /** Progressing=True (and Ready=False): a failed rollout is being reverted. */
  RolloutReverting: "RolloutReverting",
  /** Progressing=True (and Ready=False): a deployed chain is scaling to a new N or repairing drift. */
  ReplicasScaling: "ReplicasScaling",
  /** Progressing=False: every chain is converged. */
  RolloutComplete: "RolloutComplete",
  /** Progressing=False: every chain is converged, and some chain's newest rollout failed and was reverted. */
  RolloutReverted: "RolloutReverted",
  /** Degraded=False. */
  AsExpected: "AsExpected",
  // Degraded=True uses the FailureReason of the failed entry (ProgressDeadlineExceeded, ...).
  ...FailureReason,
} as const;
export type ConditionReason = (typeof ConditionReason)[keyof typeof ConditionReason];

export type ConditionStatus = "True" | "False" | "Unknown";

/** A Kubernetes-shaped condition (metav1.Condition). */
export interface Condition {
  readonly type: ConditionType;
  readonly status: ConditionStatus;
  readonly reason: ConditionReason;
  readonly message: string;
  /** Changes only when `status` flips. */
  readonly lastTransitionTime: string;
  readonly observedGeneration: number;
}

/** The ModelEndpoint status the engine computes; the controller writes it when it changed. */
export interface EndpointStatus {
  readonly observedGeneration: number;
  /** Always Ready, Progressing, Degraded, Stalled, in this order. */
  readonly conditions: readonly Condition[];
  /** Effective split from the pods that serve now: integer percents summing to 100, or empty. */
  readonly trafficSplit: Readonly<Record<string, number>>;
  /** One record per spec entry, in spec order. */
  readonly deployedModels: readonly DeployedModelStatus[];
  /**
   * The highest revision number the endpoint has given. A new rolling deployment's number is above
   * it, so a number is never given twice, even after the entry that had it left spec.
   */
  readonly latestRevisionNumber: number;
}

/**
 * `T` as read back from the object: every field but `K` may be missing, and string enums are
 * loosened to string, because a status may be fresh, lost, partial or edited by hand.
 */
export type AsRecorded<T, K extends keyof T> = { readonly [P in K]: Loosened<T[P]> } & {
  readonly [P in Exclude<keyof T, K>]?: Loosened<T[P]> | undefined;
};
type Loosened<V> = V extends string ? string : V;

/**
 * A deployed model's status as read back. Everything but `id` may be missing or malformed: the
 * engine validates each field and rebuilds what it cannot trust.
 */
export type RecordedDeployedModelStatus = AsRecorded<DeployedModelStatus, "id">;

/** A condition as read back. */
export type RecordedCondition = AsRecorded<Condition, "type">;

/** The status the previous pass wrote, as read back; any part may be missing. */
export interface RecordedStatus {
  readonly observedGeneration?: number | undefined;
  readonly conditions?: readonly RecordedCondition[] | undefined;
  readonly trafficSplit?: Readonly<Record<string, number>> | undefined;
  readonly deployedModels?: readonly RecordedDeployedModelStatus[] | undefined;
  readonly latestRevisionNumber?: number | undefined;
}

// ---------------------------------------------------------------------------------------------
// Cluster state (input)
// ---------------------------------------------------------------------------------------------

/** The ReplicaSet of one deployed model (`<endpoint>-<id>`), as the cache holds it. */
export interface ReplicaSetSnapshot {
  readonly deployedModelId: string;
  readonly name: string;
  /** The `serving.modelendpoint.io/revision` label; used only when status was lost. */
  readonly revision?: number | undefined;
  /**
   * The chain pool size the engine asked for when it created this ReplicaSet
   * ({@link CreateReplicaSet.poolSize}, kept by the controller as an annotation); used only when the
   * root left spec and status was lost.
   */
  readonly poolSize?: number | undefined;
  /**
   * The chain ancestors of its deployed model when the ReplicaSet was created, nearest first
   * ({@link CreateReplicaSet.lineage}, kept by the controller as an annotation); used only when the
   * model's previous model left spec and status was lost, so the chain is not split.
   */
  readonly lineage?: readonly string[] | undefined;
  /**
   * The rollout settings (budgets, deadline) of the rolling deployment that created it
   * ({@link CreateReplicaSet.rolloutSettings}, kept as an annotation); used once its entry left spec,
   * so that rolling back from it moves within the budgets it was rolled out with.
   */
  readonly rolloutSettings?: RolloutSettings | undefined;
  /** spec.replicas */
  readonly specReplicas: number;
  /** status.replicas: pods created and not terminating. */
  readonly statusReplicas: number;
  readonly readyReplicas: number;
  readonly availableReplicas: number;
  /** metadata.generation and status.observedGeneration: counts are fresh when equal. */
  readonly generation: number;
  readonly observedGeneration: number;
  /** metadata.deletionTimestamp is set. */
  readonly deleting: boolean;
  /** The message of a ReplicaFailure condition (e.g. "exceeded quota"), when present. */
  readonly replicaFailure?: string | undefined;
}

export type PodPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";

/** A pod of a deployed model's ReplicaSet. */
export interface PodSnapshot {
  readonly name: string;
  readonly deployedModelId: string;
  /** The Ready condition is True. */
  readonly ready: boolean;
  readonly phase: PodPhase;
  /** metadata.deletionTimestamp is set (terminating). */
  readonly deleting: boolean;
  readonly createdAt: Date | number | string;
  /** It carries the `serving` label the endpoint Service selects. */
  readonly serving: boolean;
  /**
   * Why it is not ready, when known: the Ready condition's message, or a container's waiting or
   * terminated reason ("readiness probe failed on /health", "CrashLoopBackOff", ...).
   */
  readonly unreadyReason?: string | undefined;
  /** The CPU its containers request, in millicores (autoscaling by CPU utilization needs it). */
  readonly cpuRequestMillis?: number | undefined;
  /** CPU used, in millicores, from the cluster's metrics API; undefined without a reading. */
  readonly cpuUsageMillis?: number | undefined;
  /** Accelerator duty cycle in percent, from the custom metrics API; undefined without a reading. */
  readonly dutyCyclePercent?: number | undefined;
}

/**
 * An action of the previous pass that the API server refused. Only `terminal` errors matter to the
 * engine (a createReplicaSet rejected as invalid fails the rollout, R8); others are retried by
 * planning again.
 */
export interface ActionError {
  readonly deployedModelId: string;
  readonly action: Action["kind"];
  readonly terminal: boolean;
  readonly message: string;
}

/** Everything one pass plans from, read from caches at one moment. */
export interface Snapshot {
  readonly endpoint: EndpointRef;
  readonly spec: EndpointSpec;
  readonly status?: RecordedStatus | undefined;
  /** At most one per deployed-model id (the controller owns them by name). */
  readonly replicaSets: readonly ReplicaSetSnapshot[];
  readonly pods: readonly PodSnapshot[];
  readonly actionErrors?: readonly ActionError[] | undefined;
  /**
   * Each deployed model's effective predict route (its own, else its chain root's, else the
   * default), when clients reach the endpoint through its Service only: then every chain that
   * serves through it must answer the same route (traffic rule 5). Absent: not checked.
   */
  readonly routes?: Readonly<Record<string, string>> | undefined;
  /**
   * Traffic is weighted per request (a gateway routes to each model's Service with a weight), not
   * by counting serving pods behind the endpoint Service: the effective split is the chains' shares
   * exactly, divided within a chain in proportion to its members' Ready pods. Absent: false.
   */
  readonly exactWeights?: boolean | undefined;
  /**
   * How autoscaled chains scale, and the proposals remembered from earlier passes by chain head id
   * ({@link Plan.autoscalingProposals} of the previous pass). Absent: the default policy, no memory.
   */
  readonly autoscaling?:
    | {
        readonly policy: AutoscalingPolicy;
        readonly proposals: Readonly<Record<string, readonly Proposal[]>>;
        /** Why the cluster's metrics APIs gave no reading (not served, failing), if so. */
        readonly unavailable?: string | undefined;
      }
    | undefined;
}

// ---------------------------------------------------------------------------------------------
// Plan (output)
// ---------------------------------------------------------------------------------------------

/** What the controller needs to build a deployed model's ReplicaSet and pods (R2 already applied). */
export interface ResolvedDeployedModel {
  readonly id: string;
  readonly model: string;
  readonly containerSpec: ContainerSpec;
  readonly revisionNumber: number;
  /** Own for a root; the chain's (inherited) for a rolling deployment. */
  readonly dedicatedResources?: DedicatedResources;
  readonly serviceAccount?: string;
  readonly placement?: Placement;
  readonly disableContainerLogging: boolean;
  readonly enableAccessLogging: boolean;
  /** The entry it rolls onto, if any (as first seen). */
  readonly previousDeployedModel?: string;
}

/** Create the ReplicaSet of a deployed model with this many replicas. */
export interface CreateReplicaSet {
  readonly kind: "createReplicaSet";
  readonly deployedModelId: string;
  /** For the `serving.modelendpoint.io/revision` label. */
  readonly revision: number;
  readonly replicas: number;
  /** The chain's N; keep it on the object (annotation) and hand it back as ReplicaSetSnapshot.poolSize. */
  readonly poolSize: number;
  /**
   * The model's chain ancestors, nearest first (["m2", "m1"] for m3 -> m2 -> m1); keep it on the
   * object (an annotation, e.g. comma-separated) and hand it back as ReplicaSetSnapshot.lineage.
   */
  readonly lineage: readonly string[];
  /**
   * Its rolloutOptions without the link (undefined for a root); keep it on the object (an
   * annotation) and hand it back as ReplicaSetSnapshot.rolloutSettings.
   */
  readonly rolloutSettings?: RolloutSettings;
  /**
   * The `serving` label of the pod template: true when the model's chain is the endpoint's only
   * chain with a traffic share, so each pod serves as soon as it is Ready (traffic rule 2).
   */
  readonly serving: boolean;
  readonly model: ResolvedDeployedModel;
}

/** Set spec.replicas of an existing ReplicaSet. */
export interface ScaleReplicaSet {
  readonly kind: "scaleReplicaSet";
  readonly deployedModelId: string;
  readonly replicaSetName: string;
  readonly from: number;
  readonly to: number;
}

/**
 * Delete the ReplicaSet of an entry that left spec: at once when its whole chain left (an undeploy),
 * else once it has been drained to 0 like an old member.
 */
export interface DeleteReplicaSet {
  readonly kind: "deleteReplicaSet";
  readonly deployedModelId: string;
  readonly replicaSetName: string;
}

/** Add (serving=true) or remove the label the endpoint Service selects. */
export interface SetPodServing {
  readonly kind: "setPodServing";
  readonly podName: string;
  readonly deployedModelId: string;
  readonly serving: boolean;
}

/**
 * One effect for the controller to carry out. Plans list them in the order to apply: creations and
 * scale-ups, then pods that start serving, then pods that stop, then scale-downs and deletions (so
 * capacity and traffic are added before they are taken away). An action that fails may stop the rest;
 * the next pass plans again from what happened.
 */
export type Action = CreateReplicaSet | ScaleReplicaSet | DeleteReplicaSet | SetPodServing;

/** Stable reasons of the Kubernetes Events a plan asks for. */
export const EventReason = {
  RolloutStarted: "RolloutStarted",
  /** The intended revision of a chain left spec: the chain rolls back onto the revision below it. */
  RollbackStarted: "RollbackStarted",
  /** A chain with a traffic share serves nothing (see ConditionReason.TrafficNotServed). */
  TrafficNotServed: "TrafficNotServed",
  /** Chains with a traffic share answer different routes (see ConditionReason.RouteConflict). */
  RouteConflict: "RouteConflict",
  RolloutRefused: "RolloutRefused",
  ReplicaSetCreated: "ReplicaSetCreated",
  ReplicaSetRecreated: "ReplicaSetRecreated",
  ReplicaSetDeleted: "ReplicaSetDeleted",
  ScalingReplicaSet: "ScalingReplicaSet",
  TrafficChanged: "TrafficChanged",
  RolloutComplete: "RolloutComplete",
  RolloutFailed: "RolloutFailed",
  RolloutReverting: "RolloutReverting",
  RolloutReverted: "RolloutReverted",
  StatusRebuilt: "StatusRebuilt",
  /** An autoscaled chain's N changed (the metrics that decided it are in the message). */
  Autoscaled: "Autoscaled",
  /** A model's status first says that no node can take its pods (the scheduler's verdict). */
  PodUnschedulable: "PodUnschedulable",
} as const;

/**
 * How a pod's unready reason begins when the scheduler found no node for it (then its verdict
 * follows); the controller writes it, the engine raises PodUnschedulable on it.
 */
export const UNSCHEDULABLE_PREFIX = "unschedulable: ";

/** The scheduler's verdict a status message carries, if any. */
export function unschedulableVerdict(message: string | undefined): string | undefined {
  const at = message?.indexOf(UNSCHEDULABLE_PREFIX) ?? -1;
  return at < 0 ? undefined : message?.slice(at + UNSCHEDULABLE_PREFIX.length);
}
export type EventReason = (typeof EventReason)[keyof typeof EventReason];

/**
 * The events that describe this pass's own writes (a ReplicaSet created, scaled or deleted). Every
 * other event describes a change of the status against the recorded one, and is recorded with the
 * status write that records that change.
 */
export const ACTION_EVENT_REASONS: ReadonlySet<EventReason> = new Set([
  EventReason.ReplicaSetCreated,
  EventReason.ReplicaSetRecreated,
  EventReason.ReplicaSetDeleted,
  EventReason.ScalingReplicaSet,
]);

/** A Kubernetes Event to record on the ModelEndpoint. */
export interface PlanEvent {
  readonly type: "Normal" | "Warning";
  readonly reason: EventReason;
  readonly message: string;
  readonly deployedModelId?: string;
}

/** The result of one pass. */
export interface Plan {
  readonly actions: readonly Action[];
  readonly status: EndpointStatus;
  readonly events: readonly PlanEvent[];
  /** Plan again after this long even if nothing changes: the earliest progress deadline. */
  readonly requeueAfterMs?: number;
  /**
   * The predict route every chain with traffic answers (Traffic rule 5), removed members included:
   * the path a gateway rewrites requests to. Undefined without routes in the snapshot or traffic.
   */
  readonly predictRoute?: string;
  /** The autoscaler's proposals by chain head id, for the next pass's snapshot (not persisted). */
  readonly autoscalingProposals?: Readonly<Record<string, readonly Proposal[]>>;
  /**
   * The status may wait for the pass that follows this one (settling.ts `statusMayWait`); set only
   * when true. The controller still writes at once after a failure, and after a bounded wait.
   */
  readonly statusMayWait?: true;
}

/** `now` as the controller's clock gives it. */
export type Instant = Date | number;
