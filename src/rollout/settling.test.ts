import { describe, expect, it } from "vitest";

import { countersSettling, recordsMemory, statusMayWait } from "./settling.ts";
import type {
  Action,
  DeployedModelStatus,
  EndpointStatus,
  PodSnapshot,
  ReplicaSetSnapshot,
} from "./types.ts";

function rs(overrides: Partial<ReplicaSetSnapshot> = {}): ReplicaSetSnapshot {
  return {
    deployedModelId: "m1",
    name: "e-m1",
    specReplicas: 2,
    statusReplicas: 2,
    readyReplicas: 2,
    availableReplicas: 2,
    generation: 3,
    observedGeneration: 3,
    deleting: false,
    ...overrides,
  };
}

function pod(name: string, overrides: Partial<PodSnapshot> = {}): PodSnapshot {
  return {
    name,
    deployedModelId: "m1",
    ready: true,
    phase: "Running",
    deleting: false,
    createdAt: 0,
    serving: true,
    ...overrides,
  };
}

const TWO_READY = [pod("a"), pod("b")];

describe("countersSettling", () => {
  it("is false when every ReplicaSet's counters describe its latest spec and the pods the cache holds", () => {
    expect(countersSettling({ replicaSets: [rs()], pods: TWO_READY })).toBe(false);
    expect(countersSettling({ replicaSets: [], pods: [] })).toBe(false);
  });

  it("is true while a ReplicaSet has not observed its latest spec", () => {
    expect(countersSettling({ replicaSets: [rs({ observedGeneration: 2 })], pods: TWO_READY })).toBe(true);
  });

  it("is true while readyReplicas lags a pod's readiness, either way", () => {
    expect(countersSettling({ replicaSets: [rs({ readyReplicas: 1 })], pods: TWO_READY })).toBe(true);
    expect(countersSettling({ replicaSets: [rs()], pods: [pod("a"), pod("b", { ready: false })] })).toBe(
      true,
    );
  });

  it("is true while replicas lags a pod that came or went", () => {
    expect(countersSettling({ replicaSets: [rs()], pods: [pod("a")] })).toBe(true);
    expect(countersSettling({ replicaSets: [rs()], pods: [...TWO_READY, pod("c")] })).toBe(true);
  });

  it("counts neither terminating nor finished pods, as the ReplicaSet controller does", () => {
    const gone = [pod("c", { deleting: true }), pod("d", { phase: "Failed", ready: false })];
    expect(countersSettling({ replicaSets: [rs()], pods: [...TWO_READY, ...gone] })).toBe(false);
  });

  it("looks only at the pods of the ReplicaSet's own deployed model, and not at a ReplicaSet being deleted", () => {
    const other = [pod("x", { deployedModelId: "m2" })];
    expect(countersSettling({ replicaSets: [rs()], pods: [...TWO_READY, ...other] })).toBe(false);
    const deleting = rs({ deployedModelId: "m2", name: "e-m2", deleting: true, observedGeneration: 1 });
    expect(countersSettling({ replicaSets: [rs(), deleting], pods: TWO_READY })).toBe(false);
  });
});

function status(
  model: Partial<DeployedModelStatus> = {},
  overrides: Partial<EndpointStatus> = {},
): EndpointStatus {
  return {
    observedGeneration: 2,
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "RolloutComplete",
        message: "m1 serves",
        lastTransitionTime: "2026-12-03T10:00:00Z",
        observedGeneration: 2,
      },
    ],
    trafficSplit: { m1: 100 },
    deployedModels: [
      {
        id: "m1",
        revisionNumber: 1,
        state: "DEPLOYED",
        replicas: 2,
        readyReplicas: 2,
        availableReplicaCount: 2,
        createTime: "2026-12-03T09:00:00Z",
        lastUpdateTime: "2026-12-03T10:00:00Z",
        message: "2/2 available",
        ...model,
      },
    ],
    latestRevisionNumber: 1,
    ...overrides,
  };
}

describe("recordsMemory", () => {
  it("is false for counts, traffic, conditions, messages, progress and timestamps: the next pass computes them again", () => {
    const reported = status({
      replicas: 3,
      readyReplicas: 1,
      availableReplicaCount: 1,
      message: "1/2 available",
      lastUpdateTime: "2026-12-03T10:00:05Z",
      progressTime: "2026-12-03T10:00:05Z",
    });
    expect(recordsMemory(status(), { ...reported, trafficSplit: { m1: 50 } })).toBe(false);
    const flipped = status().conditions.map((c) => ({
      ...c,
      status: "False" as const,
      reason: "ReplicasUnavailable" as const,
      message: "8/10 available",
      lastTransitionTime: "x",
    }));
    expect(recordsMemory(status(), { ...status(), conditions: flipped })).toBe(false);
  });

  it("is true for what only the status remembers", () => {
    const base = status();
    for (const changed of [
      status({ state: "BEING_DEPLOYED" }),
      status({ state: "FAILED", reason: "ProgressDeadlineExceeded" }),
      status({ revisionNumber: 2 }),
      status({ previousDeployedModel: "m0" }),
      status({ createTime: "2026-12-03T09:30:00Z" }),
      status({ serviceAccount: "reader" }),
      status({ dedicatedResources: { minReplicaCount: 3, maxReplicaCount: 3 } }),
      status({
        autoscaling: { currentReplicaCount: 2, desiredReplicaCount: 4, metrics: [], lastScaleTime: "t" },
      }),
      status({}, { observedGeneration: 3 }),
      status({}, { latestRevisionNumber: 2 }),
      status({}, { deployedModels: [] }),
    ]) {
      expect(recordsMemory(base, changed)).toBe(true);
    }
    expect(recordsMemory(undefined, base)).toBe(true);
  });

  it("keeps a failure's message: it says why while the pods that show it still exist", () => {
    const failed = status({
      state: "FAILED",
      reason: "ProgressDeadlineExceeded",
      message: "1 not ready: probe",
    });
    expect(
      recordsMemory(failed, {
        ...failed,
        deployedModels: [{ ...failed.deployedModels[0]!, message: "0/2" }],
      }),
    ).toBe(true);
  });
});

describe("statusMayWait", () => {
  const scale: Action = {
    kind: "scaleReplicaSet",
    deployedModelId: "m1",
    replicaSetName: "e-m1",
    from: 2,
    to: 3,
  };
  const create = { kind: "createReplicaSet", deployedModelId: "m2" } as Action;
  const settled = { replicaSets: [rs()], pods: TWO_READY, status: status() };

  it("waits after a replica step or while counters lag, when the status records no memory", () => {
    const counted = status({ availableReplicaCount: 1 });
    expect(statusMayWait(settled, [scale], counted)).toBe(true);
    expect(statusMayWait({ ...settled, replicaSets: [rs({ readyReplicas: 1 })] }, [], counted)).toBe(true);
  });

  it("writes at once with nothing to follow, after a create, or when the status records memory", () => {
    expect(statusMayWait(settled, [], status({ availableReplicaCount: 1 }))).toBe(false);
    expect(statusMayWait(settled, [scale, create], status({ availableReplicaCount: 1 }))).toBe(false);
    expect(
      statusMayWait(settled, [scale], status({ state: "FAILED", reason: "ProgressDeadlineExceeded" })),
    ).toBe(false);
  });

  it("compares the record as the API server returns it, whatever the order of its keys", () => {
    const model = status().deployedModels[0]!;
    const reordered = Object.fromEntries(Object.entries(model).reverse()) as unknown as DeployedModelStatus;
    const recorded = {
      ...status(),
      deployedModels: [{ ...reordered, dedicatedResources: { maxReplicaCount: 2, minReplicaCount: 2 } }],
    };
    const next = status({ dedicatedResources: { minReplicaCount: 2, maxReplicaCount: 2 } });
    expect(statusMayWait({ ...settled, status: recorded }, [scale], next)).toBe(true);
  });
});
