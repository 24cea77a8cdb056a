import { describe, expect, it } from "vitest";
import { plan } from "./plan.ts";
import { FakeCluster, T0, UNREADY_REASON } from "./testing/cluster.ts";
import type { FakeClusterOptions } from "./testing/cluster.ts";
import type {
  Action,
  DeployedModelSpec,
  DeployedModelStatus,
  EndpointSpec,
  Plan,
  PlanEvent,
  RolloutOptions,
} from "./types.ts";

/**
 * Scenario tests: one per rule (R1-R11) and per state transition, each asserting the exact actions,
 * events and status a snapshot produces. Every pass also checks idempotence: planning the world that
 * results from applying the plan (same pods, same second) yields no actions, no events and the same
 * status.
 */

const root = (id: string, n: number, over: Partial<DeployedModelSpec> = {}): DeployedModelSpec => ({
  id,
  model: `${id}@1`,
  containerSpec: { imageUri: `registry.example/${id}`, healthRoute: "/health" },
  dedicatedResources: {
    machineSpec: { machineType: "n1-standard-2" },
    minReplicaCount: n,
    maxReplicaCount: n,
  },
  ...over,
});

const rolling = (
  id: string,
  previous: string,
  options: Omit<RolloutOptions, "previousDeployedModel"> = {},
  over: Partial<DeployedModelSpec> = {},
): DeployedModelSpec => ({
  id,
  model: `${id}@2`,
  containerSpec: { imageUri: `registry.example/${id}`, healthRoute: "/health" },
  rolloutOptions: { previousDeployedModel: previous, ...options },
  ...over,
});

const spec = (
  trafficSplit: Record<string, number>,
  ...deployedModels: DeployedModelSpec[]
): EndpointSpec => ({
  trafficSplit,
  deployedModels,
});

/** Pods of the ids in `good` become Ready this many seconds after creation; all others never. */
function world(
  endpoint: EndpointSpec,
  good: Record<string, number> = {},
  options: Partial<FakeClusterOptions> = {},
) {
  return new FakeCluster({ spec: endpoint, readyAfter: (id) => good[id], ...options });
}

/** One operator pass at the cluster's `now` (plus `ms`), applied, and checked for idempotence. */
function pass(cluster: FakeCluster, ms = 0): Plan {
  const result = plan(cluster.snapshot(), cluster.now * 1000 + ms);
  cluster.apply(result);
  const again = plan(cluster.snapshot(), cluster.now * 1000 + ms);
  expect(again.actions, "idempotent actions").toEqual([]);
  expect(again.events, "idempotent events").toEqual([]);
  expect(again.status, "idempotent status").toEqual(result.status);
  return result;
}

/** The ReplicaSet controller catches up, then `seconds` pass; `check` runs after each change. */
function later(cluster: FakeCluster, seconds: number, check: () => void = () => undefined): void {
  cluster.syncReplicaSets();
  check();
  cluster.advanceTo(cluster.now + seconds);
  cluster.syncReplicaSets();
  check();
}

/**
 * Passes, letting controllers catch up and time move `step` seconds in between, until a pass changes
 * nothing. `check` runs after every pass and every change of the world in between.
 */
function settle(cluster: FakeCluster, step = 10, check: (result?: Plan) => void = () => undefined): Plan[] {
  const plans: Plan[] = [];
  for (let i = 0; i < 200; i++) {
    const result = pass(cluster);
    check(result);
    plans.push(result);
    if (result.actions.length === 0 && !cluster.syncReplicaSets() && !cluster.advanceTo(cluster.now)) {
      const quiet = [...cluster.pods.values()].every((p) => p.ready || p.readyAt === undefined);
      if (quiet && result.requeueAfterMs === undefined) return plans;
    }
    later(cluster, step, check);
  }
  throw new Error("did not settle");
}

/** A check that the chain of `ids` keeps within N + surge pods and at least `minAvailable` available. */
const within =
  (cluster: FakeCluster, ids: readonly string[], maxPods: number, minAvailable: number) => () => {
    const now = counts(cluster, ids);
    expect(now.pods).toBeLessThanOrEqual(maxPods);
    expect(now.available).toBeGreaterThanOrEqual(minAvailable);
  };

const model = (result: Plan, id: string): DeployedModelStatus => {
  const found = result.status.deployedModels.find((m) => m.id === id);
  if (found === undefined) throw new Error(`no status for ${id}`);
  return found;
};
const condition = (result: Plan, type: string) => result.status.conditions.find((c) => c.type === type);
const reasons = (events: readonly PlanEvent[]) => events.map((e) => e.reason);
const scales = (actions: readonly Action[]) =>
  actions.flatMap((a) =>
    a.kind === "scaleReplicaSet"
      ? [`${a.deployedModelId} ${a.from}->${a.to}`]
      : a.kind === "createReplicaSet"
        ? [`${a.deployedModelId} +${a.replicas}`]
        : a.kind === "deleteReplicaSet"
          ? [`${a.deployedModelId} deleted`]
          : [],
  );
const t = (seconds: number) => new Date((T0 + seconds) * 1000).toISOString().replace(".000Z", "Z");

/** Counts of live pods and available pods of a set of deployed models. */
function counts(cluster: FakeCluster, ids: readonly string[]) {
  const pods = ids.flatMap((id) => cluster.livePods(id));
  return { pods: pods.length, available: pods.filter((p) => p.ready).length };
}

/** The user rolls m2 onto the DEPLOYED root m1 of N replicas. */
function rollOnto(
  cluster: FakeCluster,
  n: number,
  options: Omit<RolloutOptions, "previousDeployedModel"> = {},
): void {
  cluster.setSpec(spec({ m1: 100 }, root("m1", n), rolling("m2", "m1", options)));
}

/** Brings a root up to DEPLOYED with N available; pods Ready after 5s. */
function deployed(n: number, extra: Record<string, number> = {}, options: Partial<FakeClusterOptions> = {}) {
  const cluster = world(spec({ m1: 100 }, root("m1", n)), { m1: 5, ...extra }, options);
  settle(cluster);
  return cluster;
}

describe("first deployment (section 4: BEING_DEPLOYED -> DEPLOYED)", () => {
  it("creates the ReplicaSet with N, reports progress, then DEPLOYED and serving", () => {
    const cluster = world(spec({ m1: 100 }, root("m1", 3, { serviceAccount: "fraud-sa" })), { m1: 10 });
    const first = pass(cluster);
    expect(first).toEqual({
      actions: [
        {
          kind: "createReplicaSet",
          deployedModelId: "m1",
          revision: 1,
          replicas: 3,
          poolSize: 3,
          lineage: [],
          serving: true,
          model: {
            id: "m1",
            model: "m1@1",
            containerSpec: { imageUri: "registry.example/m1", healthRoute: "/health" },
            revisionNumber: 1,
            dedicatedResources: {
              machineSpec: { machineType: "n1-standard-2" },
              minReplicaCount: 3,
              maxReplicaCount: 3,
            },
            serviceAccount: "fraud-sa",
            disableContainerLogging: false,
            enableAccessLogging: false,
          },
        },
      ],
      status: {
        observedGeneration: 1,
        conditions: [
          {
            type: "Ready",
            status: "False",
            reason: "NewRevisionProgressing",
            message: "m1: 0/3 replicas available",
            lastTransitionTime: t(0),
            observedGeneration: 1,
          },
          {
            type: "Progressing",
            status: "True",
            reason: "NewRevisionProgressing",
            message: "m1: 0/3 replicas available",
            lastTransitionTime: t(0),
            observedGeneration: 1,
          },
          {
            type: "Degraded",
            status: "False",
            reason: "AsExpected",
            message: "",
            lastTransitionTime: t(0),
            observedGeneration: 1,
          },
          {
            type: "Stalled",
            status: "False",
            reason: "AsExpected",
            message: "",
            lastTransitionTime: t(0),
            observedGeneration: 1,
          },
        ],
        trafficSplit: {},
        latestRevisionNumber: 1,
        deployedModels: [
          {
            id: "m1",
            revisionNumber: 1,
            state: "BEING_DEPLOYED",
            replicas: 0,
            readyReplicas: 0,
            availableReplicaCount: 0,
            createTime: t(0),
            lastUpdateTime: t(0),
            message: "0/3 replicas available",
            progressTime: t(0),
            dedicatedResources: {
              machineSpec: { machineType: "n1-standard-2" },
              minReplicaCount: 3,
              maxReplicaCount: 3,
            },
            serviceAccount: "fraud-sa",
          },
        ],
      },
      events: [
        {
          type: "Normal",
          reason: "RolloutStarted",
          message: "deploying m1 (revision 1) with 3 replicas, progress deadline 600s",
          deployedModelId: "m1",
        },
        {
          type: "Normal",
          reason: "ReplicaSetCreated",
          message: "created the ReplicaSet of m1 (revision 1) with 3 replicas",
          deployedModelId: "m1",
        },
      ],
      requeueAfterMs: 600_000,
    });

    later(cluster, 2);
    const waiting = pass(cluster);
    expect(waiting.actions).toEqual([]);
    expect(waiting.events).toEqual([]);
    expect(model(waiting, "m1")).toMatchObject({
      replicas: 3,
      availableReplicaCount: 0,
      lastUpdateTime: t(2),
    });
    expect(waiting.requeueAfterMs).toBe(598_000);

    later(cluster, 8);
    const done = pass(cluster);
    // The pods carry the serving label from their template: Ready, they serve without a write.
    expect(done.actions).toEqual([]);
    expect([...cluster.pods.values()].map((p) => p.serving)).toEqual([true, true, true]);
    expect(done.events).toEqual([
      {
        type: "Normal",
        reason: "RolloutComplete",
        message: "m1 (revision 1) deployed: 3/3 replicas available",
        deployedModelId: "m1",
      },
      { type: "Normal", reason: "TrafficChanged", message: "effective traffic m1 100% (was none)" },
    ]);
    expect(model(done, "m1")).toMatchObject({
      state: "DEPLOYED",
      availableReplicaCount: 3,
      message: "3/3 replicas available",
    });
    expect(done.status.trafficSplit).toEqual({ m1: 100 });
    expect(done.status.conditions.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime])).toEqual([
      ["Ready", "True", "AllReplicasAvailable", t(10)],
      ["Progressing", "False", "RolloutComplete", t(10)],
      ["Degraded", "False", "AsExpected", t(0)],
      ["Stalled", "False", "AsExpected", t(0)],
    ]);
    expect(done.requeueAfterMs).toBeUndefined();
  });

  it("a first deployment that never becomes ready FAILS at its deadline and goes to 0 replicas", () => {
    const cluster = world(spec({ m1: 100 }, root("m1", 2)));
    pass(cluster);
    later(cluster, 599);
    expect(model(pass(cluster), "m1").state).toBe("BEING_DEPLOYED");
    later(cluster, 1);
    const failed = pass(cluster);
    expect(scales(failed.actions)).toEqual(["m1 2->0"]);
    expect(failed.events.map((e) => [e.type, e.reason, e.message])).toEqual([
      [
        "Warning",
        "RolloutFailed",
        `m1 (revision 1) failed: 0/2 replicas became ready: ${UNREADY_REASON} (no progress for 600s)`,
      ],
      ["Normal", "RolloutReverting", "scaling m1 to 0: there is no earlier revision to revert to"],
      ["Normal", "ScalingReplicaSet", "scaled m1 down from 2 to 0 replicas"],
      [
        "Warning",
        "TrafficNotServed",
        `m1 (traffic 100%): nothing serves, every revision FAILED; m1 FAILED (ProgressDeadlineExceeded): 0/2 replicas became ready: ${UNREADY_REASON} (no progress for 600s)`,
      ],
    ]);
    expect(model(failed, "m1")).toMatchObject({ state: "FAILED", reason: "ProgressDeadlineExceeded" });
    expect(condition(failed, "Ready")).toMatchObject({ status: "False", reason: "NoServingRevision" });
    // The split asks for traffic that nothing serves: the outage is the reason, the failure follows.
    expect(condition(failed, "Degraded")).toMatchObject({ status: "True", reason: "TrafficNotServed" });
    const after = settle(cluster).at(-1);
    expect(cluster.livePods("m1")).toHaveLength(0);
    expect(after && condition(after, "Progressing")).toMatchObject({
      status: "False",
      reason: "RolloutComplete",
    });
  });

  it("a replica-count change on a DEPLOYED root scales it (ReplicasScaling), without a rollout", () => {
    const cluster = deployed(3);
    cluster.setSpec(spec({ m1: 100 }, root("m1", 5)));
    const scaling = pass(cluster);
    expect(scales(scaling.actions)).toEqual(["m1 3->5"]);
    expect(reasons(scaling.events)).toEqual(["ScalingReplicaSet"]);
    expect(model(scaling, "m1").state).toBe("DEPLOYED");
    expect(condition(scaling, "Progressing")).toMatchObject({ status: "True", reason: "ReplicasScaling" });
    expect(scaling.requeueAfterMs).toBeUndefined();
    const end = settle(cluster).at(-1);
    expect(end && condition(end, "Ready")).toMatchObject({ status: "True" });
    expect(counts(cluster, ["m1"])).toEqual({ pods: 5, available: 5 });
  });
});

describe("R1: revision numbers", () => {
  it("root 1, a rolling deployment previous + 1, a rollback onto it + 1 again; never rewritten", () => {
    const cluster = deployed(2, { m2: 5, m3: 5 });
    rollOnto(cluster, 2);
    pass(cluster);
    cluster.setSpec(spec({ m1: 100 }, root("m1", 2), rolling("m2", "m1"), rolling("m3", "m2")));
    const result = pass(cluster);
    expect(result.status.deployedModels.map((m) => [m.id, m.revisionNumber])).toEqual([
      ["m1", 1],
      ["m2", 2],
      ["m3", 3],
    ]);
    // Relinking m3 in spec (an edit admission would refuse) changes neither its number nor its chain link.
    cluster.setSpec(spec({ m1: 100 }, root("m1", 2), rolling("m2", "m1"), rolling("m3", "m1")));
    const relinked = pass(cluster);
    expect(model(relinked, "m3")).toMatchObject({ revisionNumber: 3, previousDeployedModel: "m2" });
  });
});

describe("R2: inherited compute and identity", () => {
  it("a rolling deployment gets the chain's dedicatedResources and the previous serviceAccount unless it sets one", () => {
    const cluster = deployed(2, {}, {});
    cluster.setSpec(
      spec(
        { m1: 100 },
        root("m1", 2, { serviceAccount: "sa1", enableAccessLogging: true }),
        rolling(
          "m2",
          "m1",
          {},
          { dedicatedResources: { minReplicaCount: 50 }, disableContainerLogging: true },
        ),
      ),
    );
    const result = pass(cluster);
    const create = result.actions.find((a) => a.kind === "createReplicaSet");
    expect(create).toMatchObject({
      deployedModelId: "m2",
      revision: 2,
      replicas: 1,
      poolSize: 2,
      lineage: ["m1"],
      model: {
        dedicatedResources: {
          machineSpec: { machineType: "n1-standard-2" },
          minReplicaCount: 2,
          maxReplicaCount: 2,
        },
        serviceAccount: "sa1",
        disableContainerLogging: true,
        enableAccessLogging: true,
        previousDeployedModel: "m1",
      },
    });
    expect(model(result, "m2")).toMatchObject({
      dedicatedResources: { minReplicaCount: 2 },
      serviceAccount: "sa1",
      previousDeployedModel: "m1",
    });
  });

  it("once the replaced root left spec, the chain keeps its N and identity from status", () => {
    const cluster = deployed(3, { m2: 5 });
    cluster.setSpec(spec({ m1: 100 }, root("m1", 3, { serviceAccount: "sa1" }), rolling("m2", "m1")));
    settle(cluster);
    expect(model(pass(cluster), "m1").state).toBe("REPLACED");
    cluster.setSpec(spec({ m2: 100 }, rolling("m2", "m1")));
    const removed = pass(cluster);
    expect(scales(removed.actions)).toEqual(["m1 deleted"]);
    expect(model(removed, "m2")).toMatchObject({
      state: "DEPLOYED",
      dedicatedResources: { minReplicaCount: 3 },
      serviceAccount: "sa1",
    });
    // The user scales nothing, the pool stays at 3 and a pod killed is replaced by the ReplicaSet.
    expect(counts(cluster, ["m2"])).toEqual({ pods: 3, available: 3 });
    expect(condition(removed, "Ready")?.status).toBe("True");
  });
});

describe("R3: chains and their intended member", () => {
  it("removing a middle revision keeps the chain whole: pool, traffic share and link", () => {
    const cluster = deployed(2, { m2: 5, m3: 5 });
    rollOnto(cluster, 2);
    settle(cluster, 5);
    cluster.setSpec(spec({ m1: 100 }, root("m1", 2), rolling("m2", "m1"), rolling("m3", "m2")));
    settle(cluster, 5);
    // The user removes m2; m1 (replaced) keeps the traffic key.
    cluster.setSpec(spec({ m1: 100 }, root("m1", 2), rolling("m3", "m2")));
    const result = pass(cluster);
    expect(scales(result.actions)).toEqual(["m2 deleted"]);
    expect(model(result, "m3")).toMatchObject({
      state: "DEPLOYED",
      previousDeployedModel: "m1",
      revisionNumber: 3,
    });
    expect(result.status.trafficSplit).toEqual({ m3: 100 });
    const end = settle(cluster, 5).at(-1);
    expect(end?.status.trafficSplit).toEqual({ m3: 100 });
    expect(counts(cluster, ["m1", "m3"])).toEqual({ pods: 2, available: 2 });
  });

  it("chains are independent: each rolls within its own pool", () => {
    const cluster = world(spec({ a1: 50, b1: 50 }, root("a1", 2), root("b1", 3)), { a1: 5, b1: 5, a2: 5 });
    settle(cluster);
    cluster.setSpec(spec({ a1: 50, b1: 50 }, root("a1", 2), root("b1", 3), rolling("a2", "a1")));
    const result = pass(cluster);
    expect(scales(result.actions)).toEqual(["a2 +1"]);
    settle(cluster);
    expect(counts(cluster, ["a1", "a2"])).toEqual({ pods: 2, available: 2 });
    expect(counts(cluster, ["b1"])).toEqual({ pods: 3, available: 3 });
  });
});

describe("R3: removing the intended revision rolls the chain back (a git revert)", () => {
  /** m1 (N) DEPLOYED, m2 rolled onto it with `options` and DEPLOYED; pods Ready after 5s. */
  function rolledOut(n: number, options: Omit<RolloutOptions, "previousDeployedModel"> = {}) {
    const cluster = deployed(n, { m2: 5 });
    rollOnto(cluster, n, options);
    settle(cluster, 5);
    expect(cluster.status?.deployedModels.map((m) => m.state)).toEqual(["REPLACED", "DEPLOYED"]);
    return cluster;
  }
  const revert = (cluster: FakeCluster, n: number): void => {
    cluster.setSpec(spec({ m1: 100 }, root("m1", n)));
  };

  it("after completion: m1 comes back within m2's budgets (1/0), m2 drains, then its ReplicaSet goes", () => {
    const cluster = rolledOut(3, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    revert(cluster, 3);
    const first = pass(cluster);
    expect(scales(first.actions)).toEqual(["m1 0->1"]);
    expect(first.events.map((e) => [e.reason, e.message])).toEqual([
      [
        "RollbackStarted",
        "m2 left spec: rolling back onto m1 (revision 1): 3 replicas, maxSurge 1, maxUnavailable 0, progress deadline 600s",
      ],
      ["ScalingReplicaSet", "scaled m1 up from 0 to 1 replicas"],
    ]);
    expect(model(first, "m1")).toMatchObject({ state: "BEING_DEPLOYED", progressTime: t(cluster.now - T0) });
    expect(first.status.deployedModels.map((m) => m.id)).toEqual(["m1"]);
    // m2's pods still serve, and the effective split says so.
    expect(first.status.trafficSplit).toEqual({ m2: 100 });
    expect(condition(first, "Ready")).toMatchObject({
      status: "False",
      reason: "NewRevisionProgressing",
      message: "m1: 0/3 replicas available; m2 left spec, 3 pods draining",
    });
    expect(condition(first, "Degraded")).toMatchObject({ status: "False" });

    const plans = settle(cluster, 5, within(cluster, ["m1", "m2"], 4, 3));
    const all = [first, ...plans];
    expect(all.flatMap((p) => scales(p.actions))).toEqual([
      "m1 0->1",
      "m2 3->2",
      "m1 1->2",
      "m2 2->1",
      "m1 2->3",
      "m2 1->0",
      "m2 deleted",
    ]);
    expect(all.some((p) => p.status.trafficSplit.m1 === 33 && p.status.trafficSplit.m2 === 67)).toBe(true);
    const end = plans.at(-1);
    if (end === undefined) throw new Error("no plan");
    expect(
      end.status.deployedModels.map((m) => [m.id, m.state, m.replicas, m.availableReplicaCount]),
    ).toEqual([["m1", "DEPLOYED", 3, 3]]);
    expect(end.status.trafficSplit).toEqual({ m1: 100 });
    expect(end.status.latestRevisionNumber).toBe(2);
    expect(end.status.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "True", "AllReplicasAvailable"],
      ["Progressing", "False", "RolloutComplete"],
      ["Degraded", "False", "AsExpected"],
      ["Stalled", "False", "AsExpected"],
    ]);
    expect(all.flatMap((p) => p.events).find((e) => e.reason === "RolloutComplete")?.message).toBe(
      "m1 (revision 1) deployed: 3/3 replicas available",
    );
    expect(cluster.replicaSets.has("m2")).toBe(false);
  });

  it("with m2's budgets 0/1: an m2 pod goes first, never below N - 1 available, never above N pods", () => {
    const cluster = rolledOut(3, { maxSurgeReplicas: 0, maxUnavailableReplicas: 1 });
    revert(cluster, 3);
    const first = pass(cluster);
    expect(scales(first.actions)).toEqual(["m2 3->2"]);
    settle(cluster, 5, within(cluster, ["m1", "m2"], 3, 2));
    expect(counts(cluster, ["m1"])).toEqual({ pods: 3, available: 3 });
    expect(cluster.replicaSets.has("m2")).toBe(false);
  });

  it("with m2's budgets 2/0: two m1 pods at once, never above N + 2, never below N available", () => {
    const cluster = rolledOut(3, { maxSurgeReplicas: 2, maxUnavailableReplicas: 0 });
    revert(cluster, 3);
    expect(scales(pass(cluster).actions)).toEqual(["m1 0->2"]);
    settle(cluster, 5, within(cluster, ["m1", "m2"], 5, 3));
    expect(cluster.status?.deployedModels.map((m) => [m.id, m.state])).toEqual([["m1", "DEPLOYED"]]);
    expect(cluster.replicaSets.has("m2")).toBe(false);
  });

  it("an old ReplicaSet without remembered settings rolls back within the defaults (25%/25%)", () => {
    const cluster = rolledOut(4, { maxSurgeReplicas: 0, maxUnavailableReplicas: 2 });
    const m2 = cluster.replicaSets.get("m2");
    if (m2 === undefined) throw new Error("no ReplicaSet");
    cluster.replicaSets.set("m2", { ...m2, rolloutSettings: undefined });
    revert(cluster, 4);
    // Defaults for N = 4: surge 1, unavailable 1, one pod each way in the same pass (with its own
    // 0/2, m2 4->2 would come alone).
    expect(scales(pass(cluster).actions)).toEqual(["m1 0->1", "m2 4->3"]);
    settle(cluster, 5, within(cluster, ["m1", "m2"], 5, 3));
    expect(counts(cluster, ["m1"])).toEqual({ pods: 4, available: 4 });
  });

  it("mid-rollout: DEPLOYED m1 goes back to BEING_DEPLOYED and to N; m2's Ready pods serve until drained", () => {
    const cluster = deployed(4, { m2: 5 });
    rollOnto(cluster, 4, { maxSurgeReplicas: 1, maxUnavailableReplicas: 1 });
    for (let i = 0; i < 3; i++) {
      pass(cluster);
      later(cluster, 5);
    }
    const before = counts(cluster, ["m2"]);
    expect(before.pods).toBeGreaterThan(0);
    expect(cluster.status?.deployedModels.map((m) => m.state)).toEqual(["DEPLOYED", "BEING_DEPLOYED"]);
    revert(cluster, 4);
    const first = pass(cluster);
    expect(reasons(first.events)[0]).toBe("RollbackStarted");
    expect(model(first, "m1").state).toBe("BEING_DEPLOYED");
    const plans = settle(cluster, 5, within(cluster, ["m1", "m2"], 5, 3));
    expect(plans.at(-1)?.status.deployedModels.map((m) => [m.id, m.state, m.replicas])).toEqual([
      ["m1", "DEPLOYED", 4],
    ]);
    expect(cluster.replicaSets.has("m2")).toBe(false);
  });

  it("after a FAILED rollout: removing the failed entry deletes its empty ReplicaSet; m1 stays DEPLOYED", () => {
    const cluster = deployed(2);
    rollOnto(cluster, 2, { progressDeadlineSeconds: 30 });
    settle(cluster, 10);
    expect(cluster.status?.deployedModels.map((m) => m.state)).toEqual(["DEPLOYED", "FAILED"]);
    revert(cluster, 2);
    const result = pass(cluster);
    expect(scales(result.actions)).toEqual(["m2 deleted"]);
    expect(reasons(result.events)).toEqual(["ReplicaSetDeleted"]);
    expect(model(result, "m1").state).toBe("DEPLOYED");
    expect(condition(result, "Degraded")).toMatchObject({ status: "False" });
  });

  it("a chain of three: remove m3, then m2; each time the revision below comes back within the budgets", () => {
    const cluster = deployed(2, { m2: 5, m3: 5 });
    rollOnto(cluster, 2, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    settle(cluster, 5);
    cluster.setSpec(
      spec(
        { m1: 100 },
        root("m1", 2),
        rolling("m2", "m1", { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 }),
        rolling("m3", "m2", { maxSurgeReplicas: 0, maxUnavailableReplicas: 1 }),
      ),
    );
    settle(cluster, 5);
    expect(cluster.status?.deployedModels.map((m) => m.state)).toEqual(["REPLACED", "REPLACED", "DEPLOYED"]);

    cluster.setSpec(
      spec(
        { m1: 100 },
        root("m1", 2),
        rolling("m2", "m1", { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 }),
      ),
    );
    const back = pass(cluster);
    expect(back.events[0]?.message).toBe(
      "m3 left spec: rolling back onto m2 (revision 2): 2 replicas, maxSurge 0, maxUnavailable 1, progress deadline 600s",
    );
    settle(cluster, 5, within(cluster, ["m1", "m2", "m3"], 2, 1));
    expect(cluster.status?.deployedModels.map((m) => [m.id, m.state])).toEqual([
      ["m1", "REPLACED"],
      ["m2", "DEPLOYED"],
    ]);
    expect(counts(cluster, ["m2"])).toEqual({ pods: 2, available: 2 });

    revert(cluster, 2);
    settle(cluster, 5, within(cluster, ["m1", "m2"], 3, 2));
    expect(cluster.status?.deployedModels.map((m) => [m.id, m.state])).toEqual([["m1", "DEPLOYED"]]);
    expect(counts(cluster, ["m1"])).toEqual({ pods: 2, available: 2 });
    expect([...cluster.replicaSets.keys()]).toEqual(["m1"]);
    expect(cluster.status?.latestRevisionNumber).toBe(3);
  });

  it("status lost at the same moment: the lineage on m2's ReplicaSet still ties it to m1's chain", () => {
    const cluster = rolledOut(3, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    revert(cluster, 3);
    cluster.status = undefined;
    const first = pass(cluster);
    expect(scales(first.actions)).toEqual(["m1 0->1"]);
    expect(model(first, "m1").state).toBe("BEING_DEPLOYED");
    const end = settle(cluster, 5, within(cluster, ["m1", "m2"], 4, 3)).at(-1);
    expect(end?.status.deployedModels.map((m) => [m.id, m.state])).toEqual([["m1", "DEPLOYED"]]);
    expect(cluster.replicaSets.has("m2")).toBe(false);
  });

  it("removing the root mid-rollout drains its pods within the budgets instead of deleting them", () => {
    const cluster = deployed(3, { m2: 5 });
    rollOnto(cluster, 3, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    pass(cluster);
    later(cluster, 5);
    cluster.setSpec(
      spec({ m2: 100 }, rolling("m2", "m1", { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 })),
    );
    const plans = settle(cluster, 5, within(cluster, ["m1", "m2"], 4, 3));
    expect(plans.flatMap((p) => scales(p.actions)).at(-1)).toBe("m1 deleted");
    expect(cluster.status?.deployedModels.map((m) => [m.id, m.state, m.replicas])).toEqual([
      ["m2", "DEPLOYED", 3],
    ]);
  });

  it("removing every entry of a chain undeploys it at once", () => {
    const cluster = rolledOut(2);
    cluster.setSpec(spec({}));
    const result = pass(cluster);
    expect(scales(result.actions).sort()).toEqual(["m1 deleted", "m2 deleted"]);
  });

  it("a revived revision that never becomes Ready fails at its deadline; the removed one keeps serving", () => {
    let broken = false;
    const cluster = new FakeCluster({
      spec: spec({ m1: 100 }, root("m1", 2)),
      readyAfter: (id) => (id === "m1" && broken ? undefined : 5),
    });
    settle(cluster);
    rollOnto(cluster, 2, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    settle(cluster, 5);
    broken = true; // m1's image is gone from the registry
    revert(cluster, 2);
    const plans = settle(cluster, 60, within(cluster, ["m1", "m2"], 3, 2));
    const failed = plans.find((p) => reasons(p.events).includes("RolloutFailed"));
    expect(failed && model(failed, "m1")).toMatchObject({
      state: "FAILED",
      reason: "ProgressDeadlineExceeded",
    });
    const end = plans.at(-1);
    if (end === undefined) throw new Error("no plan");
    // Nothing in spec can take over, so m2's pods, the only ones that serve, stay.
    expect(counts(cluster, ["m2"])).toEqual({ pods: 2, available: 2 });
    expect(end.status.trafficSplit).toEqual({ m2: 100 });
    expect(condition(end, "Ready")).toMatchObject({
      status: "False",
      reason: "NoServingRevision",
      message: "m1: no live revision; m2 left spec, 2 pods still serving",
    });
    expect(condition(end, "Progressing")).toMatchObject({ status: "False" });
    expect(condition(end, "Degraded")).toMatchObject({ status: "True", reason: "ProgressDeadlineExceeded" });
    // Removing the failed entry too undeploys the chain: m2 goes at once.
    cluster.setSpec(spec({}));
    expect(scales(pass(cluster).actions).sort()).toEqual(["m1 deleted", "m2 deleted"]);
  });
});

describe("R1: revision numbers are never given twice", () => {
  it("a retry after a removed FAILED revision gets a new number", () => {
    const cluster = deployed(2);
    rollOnto(cluster, 2, { progressDeadlineSeconds: 30 });
    settle(cluster, 10);
    cluster.setSpec(spec({ m1: 100 }, root("m1", 2)));
    settle(cluster, 10);
    expect(cluster.status?.latestRevisionNumber).toBe(2);
    cluster.setSpec(spec({ m1: 100 }, root("m1", 2), rolling("m3", "m1")));
    const result = pass(cluster);
    expect(model(result, "m3").revisionNumber).toBe(3);
    expect(result.status.latestRevisionNumber).toBe(3);
  });
});

describe("a split whose chain serves nothing is Degraded", () => {
  it("a DEPLOYED chain with no Ready pod for its deadline: Degraded TrafficNotServed, not before", () => {
    const cluster = deployed(2);
    for (const pod of cluster.livePods("m1")) {
      pod.ready = false;
      pod.readyAt = undefined;
      pod.unreadyReason = "container terminated: OOMKilled";
    }
    const start = cluster.now;
    const down = pass(cluster);
    expect(model(down, "m1")).toMatchObject({ state: "DEPLOYED", progressTime: t(start - T0) });
    expect(condition(down, "Degraded")).toMatchObject({ status: "False" });
    expect(condition(down, "Ready")).toMatchObject({ status: "False" });
    expect(down.requeueAfterMs).toBe(600_000);
    later(cluster, 599);
    expect(condition(pass(cluster), "Degraded")).toMatchObject({ status: "False" });
    later(cluster, 1);
    const degraded = pass(cluster);
    const message =
      "m1 (traffic 100%): nothing serves, no Ready replica of m1 for 600s (container terminated: OOMKilled)";
    expect(condition(degraded, "Degraded")).toMatchObject({
      status: "True",
      reason: "TrafficNotServed",
      message,
    });
    expect(condition(degraded, "Stalled")).toMatchObject({
      status: "True",
      reason: "TrafficNotServed",
      message,
    });
    expect(degraded.events).toEqual([{ type: "Warning", reason: "TrafficNotServed", message }]);
    // Pods come back: the condition clears, and the recorded outage time stays as it was.
    for (const pod of cluster.livePods("m1")) {
      pod.ready = true;
    }
    const back = pass(cluster);
    expect(condition(back, "Degraded")).toMatchObject({ status: "False", reason: "AsExpected" });
    expect(model(back, "m1").progressTime).toBe(t(start - T0));
  });

  it("a chain without a share that serves nothing is not Degraded", () => {
    const cluster = world(spec({ a: 100 }, root("a", 1), root("b", 1)), { a: 5, b: 5 });
    settle(cluster);
    for (const pod of cluster.livePods("b")) {
      pod.ready = false;
      pod.readyAt = undefined;
    }
    later(cluster, 3600);
    expect(condition(pass(cluster), "Degraded")).toMatchObject({ status: "False" });
  });
});

describe("R4, R5: rolling within the budgets, one step per pass (up, then down on what that leaves)", () => {
  it("N=10, surge 3, unavailable 2: never more than 13 pods, never fewer than 8 available", () => {
    const cluster = deployed(10, { m2: 5 });
    rollOnto(cluster, 10, { maxSurgeReplicas: 3, maxUnavailableReplicas: 2 });
    const passes = settle(cluster, 5, within(cluster, ["m1", "m2"], 13, 8))
      .map((p) => scales(p.actions))
      .filter((steps) => steps.length > 0);
    // Each pass adds what the surge allows and, in the same pass, retires what availability allows
    // (the added pods are not available yet, so they free nothing): 3 up and 2 down (13 - 8 - 3);
    // with the 3 Ready, 2 up and 3 down; 3 up and 2 down; 2 up and the last 3 down.
    expect(passes).toEqual([
      ["m2 +3", "m1 10->8"],
      ["m2 3->5", "m1 8->5"],
      ["m2 5->8", "m1 5->3"],
      ["m2 8->10", "m1 3->0"],
    ]);
    const end = pass(cluster);
    expect(model(end, "m2")).toMatchObject({ state: "DEPLOYED", availableReplicaCount: 10 });
    expect(model(end, "m1")).toMatchObject({
      state: "REPLACED",
      replicas: 0,
      message: "replaced by m2 (revision 2)",
    });
  });

  it("N=10, surge 3, unavailable 2 with slow pods: old pods go only as far as unavailability allows", () => {
    const cluster = deployed(10, { m2: 12 });
    rollOnto(cluster, 10, { maxSurgeReplicas: 3, maxUnavailableReplicas: 2 });
    const steps = settle(cluster, 5, within(cluster, ["m1", "m2"], 13, 8)).flatMap((p) => scales(p.actions));
    // The 3 new pods are not ready at the next pass: 13 - 8 - 3 = 2 old may go (10 -> 8), no more.
    expect(steps.slice(0, 3)).toEqual(["m2 +3", "m1 10->8", "m2 3->5"]);
    expect(steps.at(-1)).toMatch(/^m1 \d+->0$|^m2 \d+->10$/);
  });

  it("0/0 (the SDK default) means unavailable 1: N=3 rolls one pod at a time without surge", () => {
    const cluster = deployed(3, { m2: 5 });
    rollOnto(cluster, 3, { maxSurgeReplicas: 0, maxUnavailableReplicas: 0 });
    const first = pass(cluster);
    // The new ReplicaSet starts at 0 (no surge room) and the same pass retires one old pod.
    expect(scales(first.actions)).toEqual(["m2 +0", "m1 3->2"]);
    expect(first.events.find((e) => e.reason === "RolloutStarted")?.message).toBe(
      "rolling m2 (revision 2) onto m1: 3 replicas, maxSurge 0, maxUnavailable 1, progress deadline 600s",
    );
    const steps = settle(cluster, 5).flatMap((p) => scales(p.actions));
    expect(steps).toEqual(["m2 0->1", "m1 2->1", "m2 1->2", "m1 1->0", "m2 2->3"]);
  });

  it("N=1 with the defaults (surge 1, unavailable 0) keeps its one pod until the new one is ready", () => {
    const cluster = deployed(1, { m2: 20 });
    rollOnto(cluster, 1);
    const plans = settle(cluster, 5, within(cluster, ["m1", "m2"], 2, 1));
    expect(plans.flatMap((p) => scales(p.actions))).toEqual(["m2 +1", "m1 1->0"]);
  });

  it("unhealthy old pods go first, and unavailable new pods never free old capacity", () => {
    const cluster = deployed(5);
    // Two m1 pods stop being ready (e.g. their node is sick): availability starts at 3.
    for (const pod of cluster.livePods("m1").slice(0, 2)) {
      pod.ready = false;
      pod.readyAt = undefined;
    }
    rollOnto(cluster, 5, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    expect(scales(pass(cluster).actions)).toEqual(["m2 +1"]);
    later(cluster, 1);
    // m2's pod is not available: 6 pods - 5 minimum - 1 unavailable new = 0, nothing old may go.
    expect(scales(pass(cluster).actions)).toEqual([]);
    const m2pod = cluster.livePods("m2")[0];
    if (m2pod !== undefined) m2pod.ready = true;
    later(cluster, 1);
    // Now one may go: an unhealthy one (availability stays 4 = 3 old + 1 new, never below where it started).
    const retire = pass(cluster);
    expect(scales(retire.actions)).toEqual(["m1 5->4"]);
    later(cluster, 1);
    expect(cluster.livePods("m1").filter((p) => !p.ready)).toHaveLength(1);
    expect(counts(cluster, ["m1", "m2"]).available).toBe(4);
  });
});

describe("R4: a ReplicaSet's pods while it scales down", () => {
  /**
   * N=4, surge 1, unavailable 0: m2 +1, and once its pod is Ready m1 4->3. Then the ReplicaSet
   * controller syncs m1 once: it deletes a pod and, as replica_set.go does, writes a status counting
   * the 4 pods it saw before acting.
   */
  function scaledDownOnce(): FakeCluster {
    const cluster = deployed(4, { m2: 5 });
    rollOnto(cluster, 4, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    expect(scales(pass(cluster).actions)).toEqual(["m2 +1"]);
    later(cluster, 10);
    expect(scales(pass(cluster).actions)).toEqual(["m1 4->3"]);
    cluster.syncReplicaSets("m1");
    return cluster;
  }

  it("steps once the pods above an observed spec are seen terminating, before the ReplicaSet's next status", () => {
    const cluster = scaledDownOnce();
    const m1 = cluster.snapshot().replicaSets.find((rs) => rs.deployedModelId === "m1");
    expect(m1).toMatchObject({ specReplicas: 3, statusReplicas: 4 });
    expect(m1?.observedGeneration).toBe(m1?.generation);
    expect(scales(pass(cluster).actions)).toEqual(["m2 1->2"]);
  });

  it("counts the pods the status counts while their termination is not seen yet", () => {
    const cluster = scaledDownOnce();
    // The watch has not brought the deletion: the pod still looks alive.
    for (const pod of cluster.pods.values()) pod.deleting = false;
    expect(scales(pass(cluster).actions)).toEqual([]);
  });

  it("a new ReplicaSet its controller has not seen yet holds no step: it creates at most what it was created with", () => {
    const cluster = deployed(4, { m2: 5 });
    rollOnto(cluster, 4, { maxSurgeReplicas: 0, maxUnavailableReplicas: 2 });
    // No surge: m2 is created at 0 and two m1 pods go in the same pass.
    expect(scales(pass(cluster).actions)).toEqual(["m2 +0", "m1 4->2"]);
    // The ReplicaSet controller has acted on m1 (its two pods are seen terminating), not yet on m2.
    cluster.syncReplicaSets("m1");
    expect(cluster.replicaSets.get("m2")).toMatchObject({ generation: 1, observedGeneration: 0 });
    expect(scales(pass(cluster).actions)).toEqual(["m2 0->2"]);
  });

  it("takes no step while the ReplicaSet has not observed its spec, even when one of its pods is seen going", () => {
    const cluster = deployed(4, { m2: 5 });
    rollOnto(cluster, 4, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    pass(cluster);
    later(cluster, 10);
    expect(scales(pass(cluster).actions)).toEqual(["m1 4->3"]);
    // Someone else deletes an m1 pod before the ReplicaSet controller has seen the new spec.
    const [victim] = cluster.livePods("m1");
    if (victim === undefined) throw new Error("no m1 pod");
    cluster.deletePod(victim);
    expect(scales(pass(cluster).actions)).toEqual([]);
  });
});

/** The first live pod of `id` fails its readiness probe for good. */
function failProbe(cluster: FakeCluster, id: string) {
  const [sick] = cluster.livePods(id);
  if (sick === undefined) throw new Error("no pod");
  sick.ready = false;
  sick.readyAt = undefined;
  sick.unreadyReason = "readiness probe failed on /health";
  return sick;
}

describe("a rollout whose pods no node can take", () => {
  it("says the scheduler's verdict in the model's status, with one PodUnschedulable Warning, not one per pass", () => {
    const cluster = deployed(3);
    rollOnto(cluster, 3, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    const started = pass(cluster);
    expect(reasons(started.events)).not.toContain("PodUnschedulable");
    cluster.syncReplicaSets();
    const verdict = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.";
    for (const pod of cluster.livePods("m2")) pod.unreadyReason = `unschedulable: ${verdict}`;
    const seen = pass(cluster);
    expect(model(seen, "m2").message).toContain(`not ready: unschedulable: ${verdict}`);
    expect(seen.events.filter((e) => e.reason === "PodUnschedulable")).toEqual([
      {
        type: "Warning",
        reason: "PodUnschedulable",
        message: `pods of m2 cannot be scheduled: ${verdict}`,
        deployedModelId: "m2",
      },
    ]);
    expect(reasons(pass(cluster, 1000).events)).not.toContain("PodUnschedulable");
  });
});

describe("R6: traffic goes to Ready pods only, in proportion within a chain", () => {
  it("in the only chain with a share, pods are labelled from birth and keep the label while unready", () => {
    const cluster = deployed(3);
    // Created with the label (the ReplicaSet's template): no label writes, ever.
    expect([...cluster.pods.values()].every((p) => p.serving)).toBe(true);
    failProbe(cluster, "m1");
    // Unready, it gets no traffic (Kubernetes lists it as not ready) and serves again once Ready.
    const result = pass(cluster);
    expect(result.actions).toEqual([]);
    expect(result.events).toEqual([]);
    expect(result.status.trafficSplit).toEqual({ m1: 100 });
    expect(condition(result, "Ready")).toMatchObject({ status: "False", reason: "ReplicasUnavailable" });
  });

  it("with two chains sharing traffic, an unready pod loses its label and a Ready one gains it when chosen", () => {
    const cluster = world(spec({ a: 50, b: 50 }, root("a", 2), root("b", 2)), { a: 5, b: 5 });
    settle(cluster);
    expect([...cluster.pods.values()].filter((p) => p.serving)).toHaveLength(4);
    const sick = failProbe(cluster, "a");
    // 1 Ready a and 2 Ready b: 1 + 1 serve (50/50), and the unready pod must not serve once Ready.
    const result = pass(cluster);
    expect(result.actions).toEqual([
      { kind: "setPodServing", podName: sick.name, deployedModelId: "a", serving: false },
      expect.objectContaining({ kind: "setPodServing", deployedModelId: "b", serving: false }),
    ]);
    expect(result.status.trafficSplit).toEqual({ a: 50, b: 50 });
  });

  it("a chain that becomes the only one with a share labels its unready pods; the template follows at creation", () => {
    const cluster = world(spec({ a: 50, b: 50 }, root("a", 2), root("b", 2)), { a: 5 });
    const first = pass(cluster);
    expect(first.actions.filter((a) => a.kind === "createReplicaSet").map((a) => a.serving)).toEqual([
      false,
      false,
    ]);
    later(cluster, 5);
    pass(cluster);
    const unready = cluster.livePods("b");
    expect(unready.map((p) => p.serving)).toEqual([false, false]);
    cluster.setSpec(spec({ b: 100 }, root("a", 2), root("b", 2)));
    const result = pass(cluster);
    expect(result.actions).toEqual(
      expect.arrayContaining(
        unready.map((p) => ({ kind: "setPodServing", podName: p.name, deployedModelId: "b", serving: true })),
      ),
    );
  });

  it("during a rollout both revisions serve in proportion to their Ready replicas", () => {
    const cluster = deployed(4, { m2: 5 });
    rollOnto(cluster, 4, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    pass(cluster);
    later(cluster, 5);
    const mixed = pass(cluster);
    expect(mixed.status.trafficSplit).toEqual({ m1: 80, m2: 20 });
    expect(mixed.events.find((e) => e.reason === "TrafficChanged")?.message).toBe(
      "effective traffic m1 80%, m2 20% (was m1 100%)",
    );
    for (const pod of cluster.pods.values()) expect(pod.serving).toBe(pod.ready && !pod.deleting);
  });
});

describe("R7: completion", () => {
  it("the previous model goes to 0 and REPLACED, its share moves to the new one, it stays in spec", () => {
    const cluster = deployed(2, { m2: 5 });
    rollOnto(cluster, 2);
    const plans = settle(cluster, 5);
    const complete = plans.find((p) => reasons(p.events).includes("RolloutComplete"));
    expect(complete?.events.find((e) => e.reason === "RolloutComplete")?.message).toBe(
      "m2 (revision 2) deployed: 2/2 replicas available; replaced m1",
    );
    const end = plans.at(-1);
    if (end === undefined) throw new Error("no plan");
    expect(end.status.trafficSplit).toEqual({ m2: 100 });
    expect(end.status.deployedModels.map((m) => [m.id, m.state, m.replicas])).toEqual([
      ["m1", "REPLACED", 0],
      ["m2", "DEPLOYED", 2],
    ]);
    expect(end.actions.some((a) => a.kind === "deleteReplicaSet")).toBe(false);
    expect(condition(end, "Progressing")).toMatchObject({ status: "False", reason: "RolloutComplete" });
  });
});

describe("R8: progress deadline, failure and revert", () => {
  const rollOnto60 = (
    cluster: FakeCluster,
    n: number,
    options: Omit<RolloutOptions, "previousDeployedModel"> = {},
  ) => {
    rollOnto(cluster, n, { progressDeadlineSeconds: 60, ...options });
  };

  it("fails exactly at the deadline (not a second early), reverts, and reports why", () => {
    const cluster = deployed(2);
    const start = cluster.now;
    rollOnto60(cluster, 2);
    expect(pass(cluster).requeueAfterMs).toBe(60_000);
    later(cluster, 59);
    // 59.999 s: still within the deadline; the requeue lands on it.
    const before = pass(cluster, 999);
    expect(model(before, "m2").state).toBe("BEING_DEPLOYED");
    expect(before.requeueAfterMs).toBe(1);
    expect(model(before, "m2").message).toBe(`0/2 new replicas available; 1 not ready: ${UNREADY_REASON}`);
    later(cluster, 1);
    expect(cluster.now - start).toBe(60);
    const failed = pass(cluster);
    expect(failed.actions).toEqual([
      { kind: "scaleReplicaSet", deployedModelId: "m2", replicaSetName: "ep-m2", from: 1, to: 0 },
    ]);
    const why = `0/2 new replicas became ready: ${UNREADY_REASON} (no progress for 60s)`;
    expect(failed.events).toEqual([
      {
        type: "Warning",
        reason: "RolloutFailed",
        message: `m2 (revision 2) failed: ${why}`,
        deployedModelId: "m2",
      },
      {
        type: "Normal",
        reason: "RolloutReverting",
        message: "reverting to m1 (revision 1): 2 replicas, traffic returns to it",
        deployedModelId: "m2",
      },
      {
        type: "Normal",
        reason: "ScalingReplicaSet",
        message: "scaled m2 down from 1 to 0 replicas",
        deployedModelId: "m2",
      },
    ]);
    expect(model(failed, "m2")).toMatchObject({
      state: "FAILED",
      reason: "ProgressDeadlineExceeded",
      message: why,
    });
    expect(failed.status.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "False", "RolloutReverting"],
      ["Progressing", "True", "RolloutReverting"],
      ["Degraded", "True", "ProgressDeadlineExceeded"],
      ["Stalled", "True", "ProgressDeadlineExceeded"],
    ]);
    expect(failed.requeueAfterMs).toBeUndefined();

    later(cluster, 1);
    const reverted = pass(cluster);
    expect(reverted.events.map((e) => [e.reason, e.message])).toEqual([
      ["RolloutReverted", "m1 (revision 1) holds 2/2 available replicas again after m2 failed"],
    ]);
    expect(reverted.status.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "True", "AllReplicasAvailable"],
      ["Progressing", "False", "RolloutReverted"],
      ["Degraded", "True", "ProgressDeadlineExceeded"],
      ["Stalled", "True", "ProgressDeadlineExceeded"],
    ]);
    expect(reverted.status.trafficSplit).toEqual({ m1: 100 });
    expect(counts(cluster, ["m1"])).toEqual({ pods: 2, available: 2 });

    // FAILED stays FAILED; Degraded clears when the user acts: removes the failed entry.
    cluster.setSpec(spec({ m1: 100 }, root("m1", 2)));
    const cleared = pass(cluster);
    expect(scales(cleared.actions)).toEqual(["m2 deleted"]);
    expect(cleared.status.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "True", "AllReplicasAvailable"],
      ["Progressing", "False", "RolloutComplete"],
      ["Degraded", "False", "AsExpected"],
      ["Stalled", "False", "AsExpected"],
    ]);
  });

  it("a revert moves within the budgets: old capacity comes back before new ready pods go", () => {
    // N=4, surge 1, unavailable 1; m2's first two pods become ready, later ones never do.
    let made = 0;
    const readyAfter = (id: string): number | undefined =>
      id === "m1" ? 5 : id === "m2" && made++ < 2 ? 5 : undefined;
    const slow = new FakeCluster({ spec: spec({ m1: 100 }, root("m1", 4)), readyAfter });
    settle(slow);
    rollOnto60(slow, 4, { maxSurgeReplicas: 1, maxUnavailableReplicas: 1 });
    const plans = settle(slow, 5, within(slow, ["m1", "m2"], 5, 3));
    const failed = plans.find((p) => reasons(p.events).includes("RolloutFailed"));
    // It failed with 2 of its pods ready; they went within the budgets, not at once.
    expect(failed && model(failed, "m2")).toMatchObject({ state: "FAILED", availableReplicaCount: 2 });
    const end = plans.at(-1);
    expect(end && model(end, "m2").state).toBe("FAILED");
    expect(counts(slow, ["m1"])).toEqual({ pods: 4, available: 4 });
    expect(counts(slow, ["m2"])).toEqual({ pods: 0, available: 0 });
  });

  it("PodCreateFailed: the ReplicaSet cannot create pods until the deadline", () => {
    const cluster = deployed(2);
    rollOnto60(cluster, 2);
    pass(cluster);
    const rs = cluster.replicaSets.get("m2");
    if (rs === undefined) throw new Error("no ReplicaSet");
    rs.replicaFailure = 'pods "ep-m2-x" is forbidden: exceeded quota: compute';
    later(cluster, 30);
    expect(model(pass(cluster), "m2").message).toBe(
      '0/2 new replicas available; pods cannot be created: pods "ep-m2-x" is forbidden: exceeded quota: compute',
    );
    later(cluster, 30);
    const failed = pass(cluster);
    expect(model(failed, "m2")).toMatchObject({
      state: "FAILED",
      reason: "PodCreateFailed",
      message:
        'pods cannot be created: pods "ep-m2-x" is forbidden: exceeded quota: compute (no progress for 60s)',
    });
    expect(scales(failed.actions)).toEqual(["m2 1->0"]);
  });

  it("ReplicaSetCreateFailed: a terminal error creating the ReplicaSet fails the rollout at once", () => {
    const cluster = deployed(2);
    rollOnto60(cluster, 2);
    const create = pass(cluster);
    // The controller could not apply the create: the API server refused it for good.
    cluster.replicaSets.delete("m2");
    cluster.status = create.status;
    cluster.actionErrors = [
      {
        deployedModelId: "m2",
        action: "createReplicaSet",
        terminal: true,
        message: "spec.template: Invalid value",
      },
    ];
    const failed = pass(cluster);
    expect(model(failed, "m2")).toMatchObject({
      state: "FAILED",
      reason: "ReplicaSetCreateFailed",
      message: "its ReplicaSet cannot be created: spec.template: Invalid value",
    });
    expect(failed.actions).toEqual([]);
    expect(reasons(failed.events)).toEqual(["RolloutFailed", "RolloutReverting", "RolloutReverted"]);
  });

  it("observed progress moves the deadline: an old pod going away counts", () => {
    const cluster = deployed(2);
    rollOnto60(cluster, 2, { maxSurgeReplicas: 0, maxUnavailableReplicas: 1 });
    expect(scales(pass(cluster).actions)).toEqual(["m2 +0", "m1 2->1"]);
    later(cluster, 50);
    const moved = pass(cluster);
    expect(model(moved, "m2").progressTime).toBe(t(cluster.now - T0));
    expect(moved.requeueAfterMs).toBe(60_000);
  });

  it("a rollout that completed while nobody looked does not fail when the late pass sees it", () => {
    const cluster = deployed(1, { m2: 5 });
    rollOnto60(cluster, 1);
    pass(cluster);
    later(cluster, 5);
    pass(cluster); // m2 available: m1 1->0
    cluster.syncReplicaSets();
    // The operator is away for 10 minutes; the old pod went long ago.
    later(cluster, 600);
    const late = pass(cluster);
    expect(model(late, "m2").state).toBe("DEPLOYED");
    expect(reasons(late.events)).toEqual(["RolloutComplete", "TrafficChanged"]);
  });
});

describe("R8: the deadline judges the new revision, not the ReplicaSet controller", () => {
  it("waits, without failing, while the ReplicaSet controller has not removed old pods scaled away", () => {
    const cluster = deployed(1, { m2: 5 });
    rollOnto(cluster, 1, { progressDeadlineSeconds: 60 });
    pass(cluster);
    later(cluster, 5);
    expect(scales(pass(cluster).actions)).toEqual(["m1 1->0"]); // m2 holds 1/1 available
    // The ReplicaSet controller is down: m1's pod stays, well past m2's deadline.
    cluster.advanceTo(cluster.now + 600);
    const waiting = pass(cluster);
    expect(model(waiting, "m2").state).toBe("BEING_DEPLOYED");
    expect(reasons(waiting.events)).not.toContain("RolloutFailed");
    expect(waiting.actions).toEqual([]);
    // Past the deadline, nothing is due at a time: the pod's going (a watch event) brings the next pass.
    expect(waiting.requeueAfterMs).toBeUndefined();
    // It comes back: the pod goes, and the rollout completes.
    cluster.syncReplicaSets();
    const done = pass(cluster);
    expect(model(done, "m2").state).toBe("DEPLOYED");
    expect(reasons(done.events)).toContain("RolloutComplete");
  });

  it("still fails a new revision that makes no progress once the old pods it may replace are gone", () => {
    const cluster = deployed(2);
    rollOnto(cluster, 2, { progressDeadlineSeconds: 60, maxSurgeReplicas: 0, maxUnavailableReplicas: 1 });
    expect(scales(pass(cluster).actions)).toEqual(["m2 +0", "m1 2->1"]);
    cluster.syncReplicaSets();
    later(cluster, 1);
    pass(cluster); // the old pod's going is progress: the clock starts here
    later(cluster, 60);
    const failed = pass(cluster);
    expect(model(failed, "m2")).toMatchObject({ state: "FAILED", reason: "ProgressDeadlineExceeded" });
  });
});

describe("R9: rollback onto an in-progress rollout", () => {
  it("the highest revision wins; the in-progress member is drained first; both end REPLACED", () => {
    const cluster = deployed(4, { m3: 5 });
    // m2 is broken; roll it with surge 1, unavailable 0.
    rollOnto(cluster, 4, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    pass(cluster);
    later(cluster, 10);
    pass(cluster);
    // The user rolls back: m3 (m1's image) onto the in-progress m2.
    cluster.setSpec(
      spec(
        { m1: 100 },
        root("m1", 4),
        rolling("m2", "m1", { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 }),
        rolling("m3", "m2", { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 }),
      ),
    );
    const first = pass(cluster);
    expect(model(first, "m3")).toMatchObject({ revisionNumber: 3, state: "BEING_DEPLOYED" });
    expect(model(first, "m2").message).toBe("superseded by m3 (revision 3): 1 replicas remaining");
    // 4 + 1 pods = N + surge: m3 starts at 0, and m2's unready pod goes at once.
    expect(scales(first.actions)).toEqual(["m3 +0", "m2 1->0"]);
    const plans = settle(cluster, 5, within(cluster, ["m1", "m2", "m3"], 5, 4));
    for (const p of plans) expect(p.status.deployedModels.every((m) => m.state !== "FAILED")).toBe(true);
    const end = plans.at(-1);
    if (end === undefined) throw new Error("no plan");
    expect(end.status.deployedModels.map((m) => [m.id, m.revisionNumber, m.state, m.replicas])).toEqual([
      ["m1", 1, "REPLACED", 0],
      ["m2", 2, "REPLACED", 0],
      ["m3", 3, "DEPLOYED", 4],
    ]);
    expect(end.status.trafficSplit).toEqual({ m3: 100 });
  });

  it("BEING_DEPLOYED -> REPLACED: a revision superseded before it ever ran", () => {
    const cluster = deployed(2, { m3: 5 });
    cluster.setSpec(spec({ m1: 100 }, root("m1", 2), rolling("m2", "m1"), rolling("m3", "m2")));
    const first = pass(cluster);
    expect(scales(first.actions)).toEqual(["m3 +1"]);
    expect(reasons(first.events)).toEqual(["RolloutStarted", "RolloutStarted", "ReplicaSetCreated"]);
    const end = settle(cluster, 5).at(-1);
    expect(end?.status.deployedModels.map((m) => [m.id, m.state])).toEqual([
      ["m1", "REPLACED"],
      ["m2", "REPLACED"],
      ["m3", "DEPLOYED"],
    ]);
    expect(cluster.replicaSets.has("m2")).toBe(false);
  });
});

describe("R10: reconcile-time refusal, judged once when first seen", () => {
  it("refuses rolling onto a first deployment still coming up, and never revisits it", () => {
    const cluster = world(spec({ m1: 100 }, root("m1", 2), rolling("m2", "m1")), { m1: 5, m2: 5 });
    const first = pass(cluster);
    expect(scales(first.actions)).toEqual(["m1 +2"]);
    expect(model(first, "m2")).toMatchObject({
      state: "FAILED",
      reason: "PreviousNotDeployed",
      replicas: 0,
      message:
        "cannot roll onto m1: it is still being deployed and is not a rolling deployment (a first deployment, or a rollback onto it after the revisions above it left spec); a rolling deployment needs a DEPLOYED model or an in-progress rolling deployment",
    });
    expect(first.events.map((e) => [e.type, e.reason])).toEqual([
      ["Normal", "RolloutStarted"],
      ["Warning", "RolloutRefused"],
      ["Normal", "ReplicaSetCreated"],
    ]);
    const end = settle(cluster).at(-1);
    // m1 is DEPLOYED now; m2 stays FAILED and never gets a ReplicaSet.
    expect(end?.status.deployedModels.map((m) => [m.id, m.state])).toEqual([
      ["m1", "DEPLOYED"],
      ["m2", "FAILED"],
    ]);
    expect(cluster.replicaSets.has("m2")).toBe(false);
    expect(end && condition(end, "Degraded")).toMatchObject({
      status: "True",
      reason: "PreviousNotDeployed",
    });
    expect(end && condition(end, "Progressing")).toMatchObject({
      status: "False",
      reason: "RolloutComplete",
    });
  });

  it.each([
    [
      "PreviousNotDeployed: onto a FAILED model",
      () => {
        const c = deployed(1);
        c.setSpec(spec({ m1: 100 }, root("m1", 1), rolling("m2", "m1", { progressDeadlineSeconds: 10 })));
        pass(c);
        later(c, 10);
        pass(c);
        c.setSpec(
          spec(
            { m1: 100 },
            root("m1", 1),
            rolling("m2", "m1", { progressDeadlineSeconds: 10 }),
            rolling("m3", "m2"),
          ),
        );
        return c;
      },
      "m3",
      "PreviousNotDeployed",
      "cannot roll onto m2: it is FAILED; a rolling deployment needs a DEPLOYED model or an in-progress rolling deployment",
    ],
    [
      "PreviousNotFound",
      () => {
        const c = deployed(1);
        c.setSpec(spec({ m1: 100 }, root("m1", 1), rolling("m9", "gone")));
        return c;
      },
      "m9",
      "PreviousNotFound",
      "previousDeployedModel gone is not a deployed model of this endpoint",
    ],
    [
      "PreviousHasRollout",
      () => {
        const c = deployed(1);
        c.setSpec(spec({ m1: 100 }, root("m1", 1), rolling("m2", "m1")));
        pass(c);
        c.setSpec(spec({ m1: 100 }, root("m1", 1), rolling("m2", "m1"), rolling("m3", "m1")));
        return c;
      },
      "m3",
      "PreviousHasRollout",
      "m2 already rolls onto m1; roll onto m2 instead",
    ],
    [
      "RouteMismatch",
      () => {
        const c = deployed(1);
        c.setSpec(
          spec(
            { m1: 100 },
            root("m1", 1),
            rolling("m2", "m1", {}, { containerSpec: { imageUri: "x", healthRoute: "/healthz" } }),
          ),
        );
        return c;
      },
      "m2",
      "RouteMismatch",
      "healthRoute /healthz differs from /health of m1; a rolling deployment serves the same routes as the model it replaces",
    ],
  ])("%s", (_name, setup, id, reason, message) => {
    const cluster = setup();
    const result = pass(cluster);
    expect(model(result, id)).toMatchObject({ state: "FAILED", reason, message, replicas: 0 });
    expect(result.actions.filter((a) => a.deployedModelId === id)).toEqual([]);
    expect(result.events.filter((e) => e.deployedModelId === id).map((e) => [e.type, e.reason])).toEqual([
      ["Warning", "RolloutRefused"],
    ]);
  });

  it("accepts rolling onto an in-progress rolling deployment, even one first seen in the same pass", () => {
    const cluster = deployed(1, { m3: 5 });
    cluster.setSpec(spec({ m1: 100 }, root("m1", 1), rolling("m2", "m1"), rolling("m3", "m2")));
    const result = pass(cluster);
    expect(result.status.deployedModels.map((m) => [m.id, m.state])).toEqual([
      ["m1", "DEPLOYED"],
      ["m2", "BEING_DEPLOYED"],
      ["m3", "BEING_DEPLOYED"],
    ]);
  });
});

describe("R11: the split across chains at replica granularity", () => {
  it("70/30 with 4 Ready pods each serves 4 + 2 (66.7/33.3, the closest Service endpoints allow)", () => {
    const cluster = world(spec({ a: 70, b: 30 }, root("a", 4), root("b", 4)), { a: 5, b: 5 });
    const end = settle(cluster).at(-1);
    expect(end?.status.trafficSplit).toEqual({ a: 67, b: 33 });
    expect([...cluster.pods.values()].filter((p) => p.serving).map((p) => p.modelId)).toEqual([
      "a",
      "a",
      "a",
      "a",
      "b",
      "b",
    ]);
  });

  it("a chain with no Ready pod gets nothing; the others take the whole traffic", () => {
    const cluster = world(spec({ a: 50, b: 50 }, root("a", 2), root("b", 2)), { a: 5 });
    pass(cluster);
    later(cluster, 5);
    expect(pass(cluster).status.trafficSplit).toEqual({ a: 100 });
  });

  it("an empty split serves nothing", () => {
    const cluster = world(spec({}, root("a", 2)), { a: 5 });
    const end = settle(cluster).at(-1);
    expect(end?.status.trafficSplit).toEqual({});
    expect([...cluster.pods.values()].some((p) => p.serving)).toBe(false);
    expect(end && condition(end, "Ready")?.status).toBe("True");
  });
});

describe("an endpoint routed by a gateway (exactWeights)", () => {
  it("90/10 over one replica each is 90/10, where the endpoint Service could only give 100/0", () => {
    const cluster = world(spec({ a: 90, b: 10 }, root("a", 1), root("b", 1)), { a: 5, b: 5 });
    cluster.routes = { a: "/p", b: "/p" };
    expect(settle(cluster).at(-1)?.status.trafficSplit).toEqual({ a: 100 });
    cluster.exactWeights = true;
    const end = settle(cluster).at(-1);
    expect(end?.status.trafficSplit).toEqual({ a: 90, b: 10 });
    // The route every chain with traffic answers, for the gateway's rewrite.
    expect(end?.predictRoute).toBe("/p");
  });

  it("a rolling deployment shifts its chain's share by Ready pods, the other chain keeps its own", () => {
    const cluster = world(spec({ m1: 60, x: 40 }, root("m1", 2), root("x", 1)), { m1: 5, m2: 5, x: 5 });
    cluster.routes = { m1: "/p", m2: "/p", x: "/p" };
    cluster.exactWeights = true;
    settle(cluster);
    cluster.setSpec(spec({ m1: 60, x: 40 }, root("m1", 2), rolling("m2", "m1"), root("x", 1)));
    const passes = settle(cluster);
    const splits = passes.map((p) => p.status.trafficSplit);
    for (const split of splits) expect(split["x"]).toBe(40);
    expect(splits.some((split) => (split["m1"] ?? 0) > 0 && (split["m2"] ?? 0) > 0)).toBe(true);
    expect(splits.at(-1)).toEqual({ m2: 60, x: 40 });
    // The pass that takes m1's last pods gives it no share: the route drops it before they go.
    const retiring = passes.filter((p) =>
      p.actions.some((a) => a.kind === "scaleReplicaSet" && a.deployedModelId === "m1" && a.to === 0),
    );
    expect(retiring).toHaveLength(1);
    expect(retiring[0]?.status.trafficSplit).toEqual({ m2: 60, x: 40 });
  });
});

describe("traffic rule 5: chains behind the endpoint Service answer one route", () => {
  it("prod 80% on /v1/predict, exp 20% on its default route: only prod serves, Degraded RouteConflict", () => {
    const cluster = world(spec({ prod: 80, exp: 20 }, root("prod", 4), root("exp", 1)), {
      prod: 5,
      exp: 5,
      exp2: 5,
    });
    cluster.routes = { prod: "/v1/predict", exp: "/v1/endpoints/ep/deployedModels/exp:predict" };
    const plans = settle(cluster);
    const end = plans.at(-1);
    if (end === undefined) throw new Error("no plan");
    expect(end.status.trafficSplit).toEqual({ prod: 100 });
    expect(cluster.livePods("exp").filter((p) => p.serving)).toEqual([]);
    const message =
      "exp (traffic 20%) answers /v1/endpoints/ep/deployedModels/exp:predict, not /v1/predict of prod (traffic 80%): it gets no traffic through the endpoint's Service; deploy it again as a new entry with predictRoute /v1/predict";
    expect(condition(end, "Degraded")).toMatchObject({ status: "True", reason: "RouteConflict", message });
    expect(condition(end, "Stalled")).toMatchObject({ status: "True", reason: "RouteConflict" });
    // Both chains are deployed and ready: Ready says so; Degraded says the split is not what was asked.
    expect(condition(end, "Ready")).toMatchObject({ status: "True" });
    expect(plans.flatMap((p) => p.events).filter((e) => e.reason === "RouteConflict")).toEqual([
      { type: "Warning", reason: "RouteConflict", message },
    ]);

    // containerSpec is immutable: the user deploys the experiment again as exp2 on prod's route.
    cluster.routes = { prod: "/v1/predict", exp2: "/v1/predict" };
    cluster.setSpec(spec({ prod: 80, exp2: 20 }, root("prod", 4), root("exp2", 1)));
    const fixed = settle(cluster).at(-1);
    expect(fixed?.status.trafficSplit).toEqual({ prod: 80, exp2: 20 });
    expect(fixed && condition(fixed, "Degraded")).toMatchObject({ status: "False", reason: "AsExpected" });
  });

  it("the revisions of one chain share its route; a chain without a share is not checked", () => {
    const cluster = world(spec({ m1: 100 }, root("m1", 2), root("x", 1)), { m1: 5, m2: 5, x: 5 });
    cluster.routes = { m1: "/predict", m2: "/predict", x: "/other" };
    settle(cluster);
    rollOnto(cluster, 2);
    cluster.setSpec(spec({ m1: 100 }, root("m1", 2), rolling("m2", "m1"), root("x", 1)));
    const end = settle(cluster, 5).at(-1);
    expect(end?.status.trafficSplit).toEqual({ m2: 100 });
    expect(end && condition(end, "Degraded")).toMatchObject({ status: "False" });
  });
});

describe("memory, drift and objects that vanish", () => {
  it("status lost mid-rollout: rebuilt from the ReplicaSets, nothing unsafe, the rollout goes on", () => {
    const cluster = deployed(4, { m2: 5 });
    rollOnto(cluster, 4, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    pass(cluster);
    later(cluster, 5);
    pass(cluster);
    later(cluster, 5);
    cluster.status = undefined;
    const rebuilt = pass(cluster);
    expect(rebuilt.events[0]).toEqual({
      type: "Warning",
      reason: "StatusRebuilt",
      message:
        "no status record for m1, m2: rebuilt from ReplicaSets (revisions from labels, progress clocks restarted)",
    });
    expect(rebuilt.status.deployedModels.map((m) => [m.id, m.revisionNumber, m.state])).toEqual([
      ["m1", 1, "BEING_DEPLOYED"],
      ["m2", 2, "BEING_DEPLOYED"],
    ]);
    expect(rebuilt.requeueAfterMs).toBe(600_000);
    settle(cluster, 5, within(cluster, ["m1", "m2"], 5, 4));
    expect(pass(cluster).status.deployedModels.map((m) => [m.id, m.state])).toEqual([
      ["m1", "REPLACED"],
      ["m2", "DEPLOYED"],
    ]);
  });

  it("status lost after the root left spec: N comes from the pool size kept on the ReplicaSet", () => {
    const cluster = deployed(3, { m2: 5 });
    rollOnto(cluster, 3);
    settle(cluster);
    cluster.setSpec(spec({ m2: 100 }, rolling("m2", "m1")));
    settle(cluster);
    cluster.status = undefined;
    const result = pass(cluster);
    expect(model(result, "m2")).toMatchObject({ state: "DEPLOYED", revisionNumber: 2 });
    expect(result.actions).toEqual([]);
    // With no status and no annotation, the pool size is unknown: the chain is left alone.
    const rs = cluster.replicaSets.get("m2");
    if (rs === undefined) throw new Error("no ReplicaSet");
    cluster.replicaSets.set("m2", { ...rs, poolSize: Number.NaN });
    cluster.status = undefined;
    const frozen = plan(cluster.snapshot(), cluster.now * 1000);
    expect(frozen.actions).toEqual([]);
    expect(condition(frozen, "Ready")).toMatchObject({ status: "False", reason: "PoolSizeUnknown" });
  });

  it("status lost after a middle revision left spec: the lineage on the ReplicaSet keeps the chain whole", () => {
    const cluster = deployed(2, { m2: 5, m3: 5 });
    rollOnto(cluster, 2);
    settle(cluster, 5);
    cluster.setSpec(spec({ m1: 100 }, root("m1", 2), rolling("m2", "m1"), rolling("m3", "m2")));
    settle(cluster, 5);
    expect(cluster.replicaSets.get("m3")?.lineage).toEqual(["m2", "m1"]);
    cluster.setSpec(spec({ m1: 100 }, root("m1", 2), rolling("m3", "m2")));
    settle(cluster, 5);
    cluster.status = undefined;
    // m1 (replaced, at 0) is not brought back: it is in m3's chain, below it.
    const result = pass(cluster);
    expect(scales(result.actions)).toEqual([]);
    expect(result.status.deployedModels.map((m) => [m.id, m.state, m.previousDeployedModel])).toEqual([
      ["m1", "REPLACED", undefined],
      ["m3", "DEPLOYED", "m1"],
    ]);
    expect(result.status.trafficSplit).toEqual({ m3: 100 });
  });

  it("a ReplicaSet deleted by someone is recreated with the replicas it should have", () => {
    const cluster = deployed(3);
    cluster.replicaSets.delete("m1");
    for (const pod of cluster.livePods("m1")) cluster.deletePod(pod);
    later(cluster, 1);
    const result = pass(cluster);
    expect(result.actions).toContainEqual(
      expect.objectContaining({ kind: "createReplicaSet", deployedModelId: "m1", replicas: 3 }),
    );
    expect(result.events[0]).toEqual({
      type: "Warning",
      reason: "ReplicaSetRecreated",
      message: "the ReplicaSet of m1 was missing: recreated with 3 replicas",
      deployedModelId: "m1",
    });
    expect(model(result, "m1").state).toBe("DEPLOYED");
  });

  it("drift is repaired: a DEPLOYED ReplicaSet scaled by hand, a REPLACED one scaled up", () => {
    const cluster = deployed(3, { m2: 5 });
    const rs = cluster.replicaSets.get("m1");
    if (rs === undefined) throw new Error("no ReplicaSet");
    rs.spec = 7;
    rs.generation++;
    later(cluster, 5);
    expect(scales(pass(cluster).actions)).toEqual(["m1 7->3"]);
    rollOnto(cluster, 3);
    settle(cluster);
    const replaced = cluster.replicaSets.get("m1");
    if (replaced === undefined) throw new Error("no ReplicaSet");
    replaced.spec = 2;
    replaced.generation++;
    later(cluster, 5);
    const repaired = pass(cluster);
    expect(scales(repaired.actions)).toEqual(["m1 2->0"]);
    expect(model(repaired, "m1").state).toBe("REPLACED");
  });

  it("an entry removed from spec has its ReplicaSet deleted and its pods stop serving", () => {
    const cluster = world(spec({ a: 100 }, root("a", 1), root("b", 1)), { a: 5, b: 5 });
    settle(cluster);
    cluster.setSpec(spec({ a: 100 }, root("a", 1)));
    const result = pass(cluster);
    expect(result.actions).toEqual([
      { kind: "deleteReplicaSet", deployedModelId: "b", replicaSetName: "ep-b" },
    ]);
    expect(result.events.map((e) => e.reason)).toEqual(["ReplicaSetDeleted"]);
  });

  it("nothing waits on a ReplicaSet whose new spec is not observed yet", () => {
    const cluster = deployed(3);
    rollOnto(cluster, 3);
    expect(scales(pass(cluster).actions)).toEqual(["m2 +1"]);
    // m2 is created (generation 1, observed 0): the next pass takes no step.
    expect(plan(cluster.snapshot(), cluster.now * 1000).actions).toEqual([]);
  });

  it("a quiet pass changes no timestamp: lastUpdateTime and lastTransitionTime stay", () => {
    const cluster = deployed(2);
    const before = pass(cluster);
    later(cluster, 3600);
    const after = pass(cluster);
    expect(after.status).toEqual(before.status);
    expect(after.events).toEqual([]);
  });
});

describe("autoscaling (maxReplicaCount above minReplicaCount)", () => {
  const CPU = "aiplatform.googleapis.com/prediction/online/cpu/utilization";
  const scaled = (id: string, min: number, max: number): DeployedModelSpec =>
    root(id, min, { dedicatedResources: { minReplicaCount: min, maxReplicaCount: max } });

  it("grows N with the load, says so in status and an event, and shrinks it after the window", () => {
    const cluster = world(spec({ m1: 100 }, scaled("m1", 2, 6)), { m1: 5 });
    let millis = 600;
    cluster.cpuUsage = () => millis;
    settle(cluster, 5);
    later(cluster, 20);
    expect(model(pass(cluster), "m1").autoscaling).toMatchObject({
      currentReplicaCount: 2,
      desiredReplicaCount: 2,
      metrics: [{ metricName: CPU, target: 60, currentValue: 60 }],
    });

    millis = 1200;
    later(cluster, 20);
    const up = pass(cluster);
    expect(scales(up.actions)).toEqual(["m1 2->4"]);
    expect(model(up, "m1").autoscaling).toMatchObject({
      currentReplicaCount: 2,
      desiredReplicaCount: 4,
      metrics: [{ metricName: CPU, target: 60, currentValue: 120 }],
      lastScaleTime: t(cluster.now - T0),
    });
    expect(up.events.find((e) => e.reason === "Autoscaled")?.message).toBe(
      "chain of m1 scaled from 2 to 4 replicas: cpu utilization 120% (target 60%)",
    );
    millis = 600;
    settle(cluster, 5);
    expect(counts(cluster, ["m1"])).toEqual({ pods: 4, available: 4 });
    expect(model(pass(cluster), "m1").state).toBe("DEPLOYED");

    // Idle: proposals of 2, held at 4 for the stabilisation window, then 2.
    millis = 100;
    later(cluster, 20);
    const held = pass(cluster);
    expect(scales(held.actions)).toEqual([]);
    expect(model(held, "m1").autoscaling?.message).toContain("scale-down stabilised");
    for (let s = 0; s < 300 && counts(cluster, ["m1"]).pods === 4; s += 20) {
      later(cluster, 20);
      pass(cluster);
    }
    expect(cluster.now - T0).toBeGreaterThan(300);
    settle(cluster, 5);
    expect(counts(cluster, ["m1"])).toEqual({ pods: 2, available: 2 });
  });

  it("holds N without readings, and keeps the recorded N across a restart", () => {
    const cluster = world(spec({ m1: 100 }, scaled("m1", 2, 6)), { m1: 5 });
    cluster.cpuUsage = () => 1500;
    settle(cluster, 20);
    expect(counts(cluster, ["m1"]).pods).toBeGreaterThan(2);
    const n = counts(cluster, ["m1"]).pods;
    // No readings (metrics-server gone), no memory (a new operator process): N stays.
    cluster.cpuUsage = () => undefined;
    cluster.proposals = {};
    later(cluster, 20);
    const result = pass(cluster);
    expect(scales(result.actions)).toEqual([]);
    expect(model(result, "m1").autoscaling).toMatchObject({ desiredReplicaCount: n });
    expect(model(result, "m1").autoscaling?.message).toContain("no metric readings");
  });

  it("never exceeds the ceiling or breaks the floor when N grows during a rolling deployment", () => {
    const cluster = world(spec({ m1: 100 }, scaled("m1", 2, 8)), { m1: 5, m2: 10 });
    // A demand of `total` millicores, shared by the chain's Ready pods.
    let total = 1200;
    cluster.cpuUsage = () => total / Math.max(1, counts(cluster, ["m1", "m2"]).available);
    settle(cluster, 5);
    cluster.setSpec(
      spec(
        { m1: 100 },
        scaled("m1", 2, 8),
        rolling("m2", "m1", { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 }),
      ),
    );
    pass(cluster);
    later(cluster, 15);
    total = 2400; // 120% of two pods' requests: N 2 -> 4 while the rollout runs
    let n = 2;
    let grewDuring: string | undefined;
    settle(cluster, 5, (result) => {
      const next = result === undefined ? n : (model(result, "m1").autoscaling?.desiredReplicaCount ?? n);
      if (result !== undefined && next !== n) grewDuring = model(result, "m2").state;
      n = next;
      // At every instant: at most N + maxSurge pods, at least N (before it grew) - maxUnavailable available.
      expect(counts(cluster, ["m1", "m2"]).pods).toBeLessThanOrEqual(n + 1);
      expect(counts(cluster, ["m1", "m2"]).available).toBeGreaterThanOrEqual(2);
    });
    expect(n).toBe(4);
    expect(grewDuring).toBe("BEING_DEPLOYED");
    const done = pass(cluster);
    expect(model(done, "m2").state).toBe("DEPLOYED");
    expect(model(done, "m1").state).toBe("REPLACED");
    expect(counts(cluster, ["m2"])).toEqual({ pods: 4, available: 4 });
  });
});
