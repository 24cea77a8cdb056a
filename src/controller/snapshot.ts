/**
 * Gather: the pure mapping from cached Kubernetes objects to the rollout engine's Snapshot. No I/O;
 * the reconciler reads the caches once and hands the objects here.
 */
import { LABEL_DEPLOYED_MODEL, LABEL_REVISION } from "../api/constants.ts";
import type { ModelEndpoint } from "../api/resource.ts";
import { quantityValue } from "../api/spec.ts";
import type { DeepReadonly, Pod, ReplicaSet } from "../kube/objects.ts";
import type {
  ActionError,
  PodPhase,
  PodSnapshot,
  ReplicaSetSnapshot,
  RolloutSettings,
  Snapshot,
} from "../rollout/types.ts";
import { UNSCHEDULABLE_PREFIX } from "../rollout/types.ts";
import {
  ANNOTATION_LINEAGE,
  ANNOTATION_POOL_SIZE,
  ANNOTATION_ROLLOUT_SETTINGS,
  CONTAINER_NAME,
  LABEL_SERVING,
} from "./objects.ts";
import { effectiveRoutes } from "./resolve.ts";

const PHASES: ReadonlySet<string> = new Set(["Pending", "Running", "Succeeded", "Failed", "Unknown"]);

function wholeNumber(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,9}$/.test(value)) return undefined;
  return Number(value);
}

/** "m2,m1" -> ["m2", "m1"]; anything that is not a list of DNS labels is ignored. */
function lineageOf(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (value === "") return [];
  const ids = value.split(",");
  return ids.every((id) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(id)) ? ids : undefined;
}

const SETTING_FIELDS = [
  "maxSurgeReplicas",
  "maxSurgePercentage",
  "maxUnavailableReplicas",
  "maxUnavailablePercentage",
  "progressDeadlineSeconds",
] as const;

/**
 * '{"maxSurgeReplicas":1,"maxUnavailableReplicas":0}' -> the rollout settings; fields that are not
 * whole non-negative numbers are dropped, and anything that is not a JSON object is ignored.
 */
export function rolloutSettingsOf(value: string | undefined): RolloutSettings | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const fields = parsed as Record<string, unknown>;
  const settings: { -readonly [K in keyof RolloutSettings]: RolloutSettings[K] } = {};
  for (const field of SETTING_FIELDS) {
    const v = fields[field];
    if (typeof v === "number" && Number.isInteger(v) && v >= 0) settings[field] = v;
  }
  return settings;
}

export function replicaSetSnapshot(rs: DeepReadonly<ReplicaSet>): ReplicaSetSnapshot | undefined {
  const id = rs.metadata?.labels?.[LABEL_DEPLOYED_MODEL];
  if (id === undefined) return undefined;
  const failure = rs.status?.conditions?.find((c) => c.type === "ReplicaFailure" && c.status === "True");
  return {
    deployedModelId: id,
    name: rs.metadata?.name ?? "",
    revision: wholeNumber(rs.metadata?.labels?.[LABEL_REVISION]),
    poolSize: wholeNumber(rs.metadata?.annotations?.[ANNOTATION_POOL_SIZE]),
    lineage: lineageOf(rs.metadata?.annotations?.[ANNOTATION_LINEAGE]),
    rolloutSettings: rolloutSettingsOf(rs.metadata?.annotations?.[ANNOTATION_ROLLOUT_SETTINGS]),
    specReplicas: rs.spec?.replicas ?? 1,
    statusReplicas: rs.status?.replicas ?? 0,
    readyReplicas: rs.status?.readyReplicas ?? 0,
    availableReplicas: rs.status?.availableReplicas ?? 0,
    generation: rs.metadata?.generation ?? 0,
    observedGeneration: rs.status?.observedGeneration ?? 0,
    deleting: rs.metadata?.deletionTimestamp !== undefined,
    replicaFailure: failure?.message,
  };
}

/**
 * Why a pod is not Ready, in words a user can act on: a pod no node can take says what the
 * scheduler said (Insufficient nvidia.com/gpu, a node selector no node matches, ...); a container
 * that is waiting or terminated says why (ImagePullBackOff, CrashLoopBackOff, ...); a running
 * container that is not ready is failing its readiness probe.
 */
export function unreadyReason(pod: DeepReadonly<Pod>, healthRoute?: string): string | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  const status = statuses.find((s) => s.name === CONTAINER_NAME) ?? statuses[0];
  if (status === undefined) {
    const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
    if (scheduled?.status === "False" && scheduled.reason === "Unschedulable")
      return `${UNSCHEDULABLE_PREFIX}${schedulerVerdict(scheduled.message)}`;
    if (pod.status?.phase === "Pending") return "not scheduled or not started yet";
    return undefined;
  }
  if (status.ready) return undefined;
  const waiting = status.state?.waiting;
  if (waiting?.reason) return waiting.message ? `${waiting.reason}: ${waiting.message}` : waiting.reason;
  const terminated = status.state?.terminated;
  if (terminated?.reason) return `container terminated: ${terminated.reason}`;
  if (status.state?.running !== undefined) {
    return healthRoute === undefined ? "readiness probe failed" : `readiness probe failed on ${healthRoute}`;
  }
  return undefined;
}

/**
 * The scheduler's message without its preemption part, which only repeats that preempting would
 * not help: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
 */
function schedulerVerdict(message: string | undefined): string {
  const verdict = (message ?? "").split(" preemption:")[0]?.trim() ?? "";
  return verdict === "" ? "no node can take the pod" : verdict;
}

/** A pod's metric readings, from the cluster's metrics APIs (usage.ts); undefined without any. */
export type PodUsageLookup = (namespace: string, pod: string) => PodUsage | undefined;

export interface PodUsage {
  /** CPU used, in millicores (metrics.k8s.io). */
  readonly cpuMillis?: number | undefined;
  /** Accelerator duty cycle in percent (custom.metrics.k8s.io). */
  readonly dutyCyclePercent?: number | undefined;
}

/** The CPU a pod's containers request, in millicores; undefined when none requests any. */
export function cpuRequestMillis(pod: DeepReadonly<Pod>): number | undefined {
  return totalCpuMillis((pod.spec?.containers ?? []).map((c) => c.resources?.requests?.["cpu"]));
}

/** The sum of CPU quantities in millicores; undefined when none is a quantity. */
export function totalCpuMillis(quantities: readonly (string | undefined)[]): number | undefined {
  const values = quantities.flatMap((q) => {
    const value = q === undefined ? Number.NaN : quantityValue(q);
    return Number.isFinite(value) ? [value * 1000] : [];
  });
  return values.length === 0 ? undefined : Math.round(values.reduce((a, b) => a + b, 0));
}

export function podSnapshot(
  pod: DeepReadonly<Pod>,
  healthRoute?: (id: string) => string,
  usage?: PodUsageLookup,
): PodSnapshot | undefined {
  const id = pod.metadata?.labels?.[LABEL_DEPLOYED_MODEL];
  if (id === undefined) return undefined;
  const phase = pod.status?.phase ?? "Pending";
  const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  return {
    name: pod.metadata?.name ?? "",
    deployedModelId: id,
    ready,
    phase: (PHASES.has(phase) ? phase : "Unknown") as PodPhase,
    deleting: pod.metadata?.deletionTimestamp !== undefined,
    createdAt: pod.metadata?.creationTimestamp ?? 0,
    serving: pod.metadata?.labels?.[LABEL_SERVING] === "true",
    unreadyReason: ready ? undefined : unreadyReason(pod, healthRoute?.(id)),
    ...readings(pod, usage),
  };
}

/** The autoscaler's inputs of a pod: its CPU request and its readings, when there are any. */
function readings(pod: DeepReadonly<Pod>, usage: PodUsageLookup | undefined): Partial<PodSnapshot> {
  if (usage === undefined) return {};
  const read = usage(pod.metadata?.namespace ?? "", pod.metadata?.name ?? "");
  const request = cpuRequestMillis(pod);
  return {
    ...(request === undefined ? {} : { cpuRequestMillis: request }),
    ...(read?.cpuMillis === undefined ? {} : { cpuUsageMillis: read.cpuMillis }),
    ...(read?.dutyCyclePercent === undefined ? {} : { dutyCyclePercent: read.dutyCyclePercent }),
  };
}

/** What a pass adds to the objects it read: see {@link Snapshot}. */
export interface SnapshotExtras {
  readonly actionErrors?: readonly ActionError[];
  readonly exactWeights?: boolean;
  /** The pods' metric readings; absent, no pod has any (autoscaled chains hold their N). */
  readonly usage?: PodUsageLookup;
  readonly autoscaling?: Snapshot["autoscaling"];
}

/**
 * The engine's view of a parsed ModelEndpoint and the objects it owns. A pod's unready reason names
 * its model's health route, resolved once per model.
 */
export function buildSnapshot(
  endpoint: ModelEndpoint,
  replicaSets: readonly DeepReadonly<ReplicaSet>[],
  pods: readonly DeepReadonly<Pod>[],
  extras: SnapshotExtras = {},
): Snapshot {
  const { actionErrors = [], exactWeights = false, usage } = extras;
  const routes = new Map<string, string>();
  const healthRoute = (id: string): string => {
    let route = routes.get(id);
    if (route === undefined) {
      route = effectiveRoutes(endpoint, id).healthRoute;
      routes.set(id, route);
    }
    return route;
  };
  return {
    endpoint: {
      namespace: endpoint.metadata.namespace ?? "",
      name: endpoint.metadata.name,
      generation: endpoint.metadata.generation ?? 0,
    },
    spec: {
      trafficSplit: endpoint.spec.trafficSplit,
      deployedModels: endpoint.spec.deployedModels,
    },
    status: endpoint.status,
    replicaSets: replicaSets.flatMap((rs) => {
      const snap = replicaSetSnapshot(rs);
      return snap ? [snap] : [];
    }),
    pods: pods.flatMap((p) => {
      const snap = podSnapshot(p, healthRoute, usage);
      return snap ? [snap] : [];
    }),
    actionErrors,
    // Every chain serving through the endpoint's Service or its route must answer the same route
    // (traffic rule 5); a gateway weights each model exactly (exactWeights).
    routes: Object.fromEntries(
      endpoint.spec.deployedModels.map((dm) => [dm.id, effectiveRoutes(endpoint, dm.id).predictRoute]),
    ),
    exactWeights,
    ...(extras.autoscaling === undefined ? {} : { autoscaling: extras.autoscaling }),
  };
}
