/**
 * What a pass tells the world besides the status: the engine's events as Kubernetes Events, and
 * the rollout and endpoint metrics.
 */
import type { EventInput } from "../kube/events.ts";
import type { Metrics } from "../metrics.ts";
import type { EndpointStatus, EventReason, Plan, PlanEvent } from "../rollout/types.ts";

/** What the event's `action` says was done, by the engine's event reason (every reason has one). */
export const EVENT_ACTIONS: Readonly<Record<EventReason, string>> = {
  RolloutStarted: "Rollout",
  RollbackStarted: "Rollback",
  TrafficNotServed: "Alert",
  RouteConflict: "Alert",
  RolloutRefused: "Refuse",
  ReplicaSetCreated: "Create",
  ReplicaSetRecreated: "Create",
  ReplicaSetDeleted: "Delete",
  ScalingReplicaSet: "Scale",
  TrafficChanged: "ShiftTraffic",
  RolloutComplete: "Complete",
  RolloutFailed: "Fail",
  RolloutReverting: "Revert",
  RolloutReverted: "Revert",
  StatusRebuilt: "Rebuild",
  PodUnschedulable: "Alert",
  Autoscaled: "Scale",
};

/** An engine event as the Event to record on the ModelEndpoint. */
export function toEventInput(event: PlanEvent): EventInput {
  return { type: event.type, reason: event.reason, action: EVENT_ACTIONS[event.reason], note: event.message };
}

/**
 * Counts the rollouts that the events say started, completed and failed (the events recorded with
 * a status write), and observes the duration of those that ended (from the model's createTime to
 * `nowMs`). A rollback after an entry left spec is a rollout too: it ends with RolloutComplete (or
 * RolloutFailed).
 */
export function countRollouts(
  metrics: Metrics,
  namespace: string,
  endpoint: string,
  status: Plan["status"],
  events: readonly PlanEvent[],
  nowMs: number,
): void {
  const startedAt = (id: string | undefined): number | undefined => {
    const created = status.deployedModels.find((d) => d.id === id)?.createTime;
    return created === undefined ? undefined : Date.parse(created);
  };
  for (const event of events) {
    const start = startedAt(event.deployedModelId);
    const seconds =
      start === undefined || Number.isNaN(start) ? undefined : Math.max(0, (nowMs - start) / 1000);
    if (event.reason === "RolloutStarted" || event.reason === "RollbackStarted") {
      metrics.rolloutsStarted.inc({ namespace, endpoint });
    }
    if (event.reason === "RolloutComplete") {
      metrics.rolloutsCompleted.inc({ namespace, endpoint });
      if (seconds !== undefined) metrics.rolloutDuration.observe({ outcome: "completed" }, seconds);
    }
    if (event.reason === "RolloutFailed" || event.reason === "RolloutRefused") {
      const reason =
        status.deployedModels.find((d) => d.id === event.deployedModelId)?.reason ?? event.reason;
      metrics.rolloutsFailed.inc({ namespace, endpoint, reason });
      if (seconds !== undefined) metrics.rolloutDuration.observe({ outcome: "failed" }, seconds);
    }
  }
}

/** The per-model gauges of one endpoint: replicas by state, and effective traffic. */
export function observeEndpoint(
  metrics: Metrics,
  namespace: string,
  endpoint: string,
  status: EndpointStatus,
): void {
  metrics.observeEndpoint(
    namespace,
    endpoint,
    status.deployedModels.map((m) => ({
      id: m.id,
      state: m.state,
      replicas: m.replicas,
      readyReplicas: m.readyReplicas,
      availableReplicas: m.availableReplicaCount,
      trafficPercent: status.trafficSplit[m.id] ?? 0,
    })),
  );
}
