import { describe, expect, it } from "vitest";

import { parseEndpoint, type RawEndpoint } from "./endpoint.ts";
import { endpointFixture } from "./fixtures.ts";
import {
  checkPlan,
  planDeploy,
  planRollback,
  planUndeploy,
  Refusal,
  rolloutOptions,
  type DeployRequest,
  type RollbackRequest,
  type UndeployRequest,
} from "./plan.ts";

const deploy = (over: Partial<DeployRequest> = {}): DeployRequest => ({
  id: "m2",
  model: "fraud-detector@2",
  containerSpec: { imageUri: "registry.example/fraud:2.0" },
  budgets: {},
  ...over,
});
const rollback = (over: Partial<RollbackRequest> = {}): RollbackRequest => ({ budgets: {}, ...over });
const undeploy = (id: string, trafficSplit?: Record<string, number>): UndeployRequest => ({
  id,
  ...(trafficSplit === undefined ? {} : { trafficSplit }),
});

/** Plans with `plan`, then checks the result with the API's rules, as the plugin does. */
function planned<T extends { next: RawEndpoint }>(raw: RawEndpoint, plan: (raw: RawEndpoint) => T): T {
  const result = plan(raw);
  checkPlan(raw, result.next);
  return result;
}

const deployed = endpointFixture({ models: [{ id: "m1", state: "DEPLOYED" }] });
const rolling = endpointFixture({
  models: [
    { id: "m1", state: "DEPLOYED", replicas: 2 },
    { id: "m2", previous: "m1", state: "BEING_DEPLOYED", replicas: 2, ready: 1 },
  ],
  effective: { m1: 67, m2: 33 },
  ready: "False",
});
const replaced = endpointFixture({
  models: [
    { id: "m1", state: "REPLACED" },
    { id: "m2", previous: "m1", state: "DEPLOYED" },
  ],
  effective: { m2: 100 },
});

describe("deploy", () => {
  it("appends a rolling deployment onto the only chain's current revision, keeping its routes and ports", () => {
    const { next, entry, summary } = planned(deployed, (raw) =>
      planDeploy(
        raw,
        parseEndpoint(raw),
        deploy({ budgets: { maxSurge: { replicas: 1 }, maxUnavailable: { percent: 0 } } }),
      ),
    );
    expect(entry).toEqual({
      id: "m2",
      model: "fraud-detector@2",
      containerSpec: {
        imageUri: "registry.example/fraud:2.0",
        predictRoute: "/predict",
        healthRoute: "/health",
      },
      rolloutOptions: { previousDeployedModel: "m1", maxSurgeReplicas: 1, maxUnavailablePercentage: 0 },
    });
    expect(next.spec?.deployedModels?.map((m) => m.id)).toEqual(["m1", "m2"]);
    // The existing entry goes back exactly as read (no defaults filled in), at the read resourceVersion.
    expect(next.spec?.deployedModels?.[0]).toEqual(deployed.spec?.deployedModels?.[0]);
    expect(next.metadata?.resourceVersion).toBe("42");
    expect(next).not.toHaveProperty("status");
    expect(summary).toBe("fraud: m2 (fraud-detector@2, registry.example/fraud:2.0) rolls onto m1");
  });

  it("rolls onto an in-progress rolling deployment (R10 allows it)", () => {
    const { entry } = planned(rolling, (raw) =>
      planDeploy(raw, parseEndpoint(raw), deploy({ id: "m3", previous: "m2" })),
    );
    expect(entry.rolloutOptions).toEqual({ previousDeployedModel: "m2" });
  });

  it.each([
    ["an unknown previous model", deployed, { previous: "m9" }, "m9 is not a deployed model of fraud"],
    ["an id in use", deployed, { id: "m1" }, "m1 is already a deployed model of fraud"],
    [
      "a previous model another rollout already targets",
      rolling,
      { id: "m3", previous: "m1" },
      "m2 already rolls onto m1: roll onto m2 instead, or undeploy m2 first",
    ],
    [
      "a previous model the operator has not seen yet",
      endpointFixture({
        models: [
          { id: "m1", state: "DEPLOYED" },
          { id: "m2", previous: "m1" },
        ],
      }),
      { id: "m3", previous: "m2" },
      "m2 is PENDING: a rolling deployment goes onto a DEPLOYED model or an in-progress rolling deployment",
    ],
  ] as const)("refuses %s", (_label, raw, over, message) => {
    expect(() => planDeploy(raw, parseEndpoint(raw), deploy(over))).toThrow(message);
  });

  it("refuses a model that is neither DEPLOYED nor rolling out, naming its chain's current revision", () => {
    const failed = endpointFixture({
      models: [
        { id: "m1", state: "DEPLOYED" },
        { id: "m2", previous: "m1", state: "FAILED", reason: "ProgressDeadlineExceeded" },
        { id: "m3", previous: "m2" },
      ],
    });
    expect(() => planDeploy(failed, parseEndpoint(failed), deploy({ id: "m4", previous: "m2" }))).toThrow(
      "m3 already rolls onto m2",
    );
    const other = endpointFixture({
      models: [
        { id: "m1", state: "DEPLOYED" },
        { id: "m2", previous: "m1", state: "FAILED", reason: "ProgressDeadlineExceeded" },
      ],
    });
    expect(() => planDeploy(other, parseEndpoint(other), deploy({ id: "m4", previous: "m2" }))).toThrow(
      "m2 is FAILED (ProgressDeadlineExceeded): a rolling deployment goes onto a DEPLOYED model or an in-progress rolling deployment; roll onto m1's current revision instead",
    );
  });

  it("asks for --previous when the endpoint has several chains", () => {
    const two = endpointFixture({
      models: [
        { id: "a", state: "DEPLOYED" },
        { id: "b", state: "DEPLOYED" },
      ],
      split: { a: 50, b: 50 },
    });
    expect(() => planDeploy(two, parseEndpoint(two), deploy())).toThrow(
      "fraud has 2 rollout chains (a, b): name the model to roll onto (rolloutOptions.previousDeployedModel)",
    );
  });
});

describe("rollback", () => {
  it("rolls the previous model, container and all, onto the in-progress revision (Vertex's recipe)", () => {
    const { entry, summary, next } = planned(rolling, (raw) =>
      planRollback(raw, parseEndpoint(raw), rollback({ budgets: { maxSurge: { replicas: 1 } } })),
    );
    expect(entry).toEqual({
      id: "m1-r3",
      model: "fraud-detector@m1",
      containerSpec: rolling.spec?.deployedModels?.[0]?.containerSpec,
      rolloutOptions: { previousDeployedModel: "m2", maxSurgeReplicas: 1 },
    });
    expect(next.spec?.deployedModels?.map((m) => m.id)).toEqual(["m1", "m2", "m1-r3"]);
    expect(summary).toBe(
      "fraud: m1-r3 (revision 3) rolls m1's model fraud-detector@m1 back onto m2 (BEING_DEPLOYED)",
    );
  });

  it("rolls back a completed rollout too, with the id asked for", () => {
    const { entry } = planned(replaced, (raw) =>
      planRollback(raw, parseEndpoint(raw), rollback({ id: "back" })),
    );
    expect(entry).toMatchObject({ id: "back", rolloutOptions: { previousDeployedModel: "m2" } });
  });

  it.each([
    [
      "nothing to roll back",
      deployed,
      {},
      "fraud has no rolling deployment to roll back (every chain is at its first revision)",
    ],
    [
      "the first revision",
      deployed,
      { from: "m1" },
      "m1 is the first revision of its chain: there is nothing to roll back to",
    ],
    [
      "a REPLACED revision",
      replaced,
      { from: "m1" },
      "m1 is the first revision of its chain: there is nothing to roll back to",
    ],
  ] as const)("refuses %s", (_label, raw, over, message) => {
    expect(() => planRollback(raw, parseEndpoint(raw), rollback(over))).toThrow(new Refusal(message));
  });

  it("refuses a FAILED revision: it has already reverted", () => {
    const failed = endpointFixture({
      models: [
        { id: "m1", state: "DEPLOYED" },
        { id: "m2", previous: "m1", state: "FAILED", reason: "ProgressDeadlineExceeded" },
      ],
    });
    expect(() => planRollback(failed, parseEndpoint(failed), rollback({ from: "m2" }))).toThrow(
      "a FAILED rollout has already reverted to m1",
    );
  });

  it("refuses when the previous model has left the spec", () => {
    const gone = endpointFixture({ models: [{ id: "m2", state: "DEPLOYED" }] });
    const spec = gone.spec?.deployedModels?.[0];
    const { dedicatedResources: _, ...rest } = spec ?? { id: "m2" };
    const withoutRoot: RawEndpoint = {
      ...gone,
      spec: {
        trafficSplit: { m2: 100 },
        deployedModels: [{ ...rest, id: "m2", rolloutOptions: { previousDeployedModel: "m1" } }],
      },
    };
    expect(() => planRollback(withoutRoot, parseEndpoint(withoutRoot), rollback())).toThrow(
      "is no longer in the endpoint",
    );
  });
});

describe("undeploy", () => {
  it("refuses a model with a spec share, suggesting the split that moves it to the chain's current revision", () => {
    expect(() => planUndeploy(replaced, parseEndpoint(replaced), undeploy("m1"))).toThrow(
      "m1 has 100% of spec.trafficSplit: move it in the same change with a new traffic split (e.g. m2=100)",
    );
  });

  it("refuses a model that serves traffic right now", () => {
    expect(() => planUndeploy(rolling, parseEndpoint(rolling), undeploy("m2"))).toThrow(
      "m2 serves 33% of the traffic right now (status.trafficSplit)",
    );
  });

  it("removes a replaced model and moves its share in one write", () => {
    const { next } = planned(replaced, (raw) =>
      planUndeploy(raw, parseEndpoint(raw), undeploy("m1", { m2: 100 })),
    );
    expect(next.spec?.deployedModels?.map((m) => m.id)).toEqual(["m2"]);
    expect(next.spec?.trafficSplit).toEqual({ m2: 100 });
  });
});

describe("checkPlan", () => {
  it("refuses what the API server would refuse, with its message", () => {
    const raw = deployed;
    const changed: RawEndpoint = {
      ...raw,
      spec: {
        ...raw.spec,
        deployedModels: (raw.spec?.deployedModels ?? []).map((m) => ({
          ...m,
          containerSpec: { ...m.containerSpec, imageUri: "x:2" },
        })),
      },
    };
    expect(() => {
      checkPlan(raw, changed);
    }).toThrow(/spec.deployedModels\[0\].containerSpec: containerSpec is immutable/);
  });

  it("builds rolloutOptions with only the budgets given", () => {
    expect(rolloutOptions("m1", {})).toEqual({ previousDeployedModel: "m1" });
    expect(
      rolloutOptions("m1", {
        maxSurge: { percent: 50 },
        maxUnavailable: { replicas: 0 },
        progressDeadlineSeconds: 60,
      }),
    ).toEqual({
      previousDeployedModel: "m1",
      maxSurgePercentage: 50,
      maxUnavailableReplicas: 0,
      progressDeadlineSeconds: 60,
    });
  });
});
