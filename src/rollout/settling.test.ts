import { describe, expect, it } from "vitest";

import { countersSettling } from "./settling.ts";
import type { PodSnapshot, ReplicaSetSnapshot } from "./types.ts";

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
