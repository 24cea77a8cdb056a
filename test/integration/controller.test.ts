/**
 * The controller end to end: a real control plane, the operator as a separate process, and an
 * independent watcher that checks R4 and R6 at every event it sees. Scenario numbers follow the
 * controller issue's list.
 */
import { AppsV1Api, CoreV1Api, DiscoveryV1Api, PolicyV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createNamespace, eventually, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, firstDeployment, installCrd, rollingEntry } from "./endpoints.ts";
import { OperatorProcess } from "./operator-process.ts";
import { eventReasons, eventsOn } from "./scenario.ts";
import { InvariantWatcher, type WatchReport } from "../../src/testing/watcher.ts";

const kc = kubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const discovery = kc.makeApiClient(DiscoveryV1Api);
const policy = kc.makeApiClient(PolicyV1Api);

let ns = "";
let endpoints: Endpoints;
let operator: OperatorProcess;
let watcher: InvariantWatcher;
const reports: WatchReport[] = [];

beforeAll(async () => {
  await installCrd();
  ns = await createNamespace("ctl");
  endpoints = new Endpoints(kc, ns);
  watcher = await InvariantWatcher.start(kc, ns);
  operator = new OperatorProcess({ namespaces: [ns] });
  await operator.start();
});

afterAll(async () => {
  const report = await watcher.stop();
  reports.push(report);
  await operator.stop();
  console.log(`[watcher] ${report.events} events observed; chains: ${JSON.stringify(report.chains)}`);
  expect(operator.problems()).toEqual([]);
});

/** The pods listed as ready endpoints of a Service, by deployed model. */
async function servedBy(service: string): Promise<Record<string, number>> {
  const slices = await discovery.listNamespacedEndpointSlice({
    namespace: ns,
    labelSelector: `kubernetes.io/service-name=${service}`,
  });
  const pods = await core.listNamespacedPod({
    namespace: ns,
    labelSelector: `serving.modelendpoint.io/endpoint=${service}`,
  });
  const modelOf = new Map(
    pods.items.map((p) => [
      p.metadata?.name,
      p.metadata?.labels?.["serving.modelendpoint.io/deployed-model"],
    ]),
  );
  const counts: Record<string, number> = {};
  for (const ep of slices.items.flatMap((s) => s.endpoints ?? [])) {
    if (ep.conditions?.ready !== true) continue;
    const model = modelOf.get(ep.targetRef?.name) ?? "?";
    counts[model] = (counts[model] ?? 0) + 1;
  }
  return counts;
}

describe("the controller", () => {
  it("1. deploys a first model: N = 5, DEPLOYED, Ready=True, all traffic", async () => {
    await applyEndpoint(ns, firstDeployment("first", "m1", 5));
    const m1 = await endpoints.waitForState("first", "m1", "DEPLOYED");
    expect(m1).toMatchObject({ revisionNumber: 1, replicas: 5, readyReplicas: 5, availableReplicaCount: 5 });
    await endpoints.waitForCondition("first", "Ready", "True");
    expect((await endpoints.get("first")).status?.trafficSplit).toEqual({ m1: 100 });
    await eventually(
      "5 ready endpoints of m1",
      async () => JSON.stringify(await servedBy("first")) === '{"m1":5}',
    );
    // The owned objects: ReplicaSet and both Services, owned by the endpoint.
    const rs = await apps.readNamespacedReplicaSet({ namespace: ns, name: "first-m1" });
    expect(rs.metadata?.ownerReferences?.[0]?.kind).toBe("ModelEndpoint");
    const env = Object.fromEntries(
      (rs.spec?.template?.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      AIP_DEPLOYED_MODEL_ID: "m1",
      AIP_ENDPOINT_ID: "first",
      AIP_HEALTH_ROUTE: "/health",
      AIP_MODE: "PREDICTION",
    });
    expect(rs.spec?.template?.spec?.containers[0]?.readinessProbe?.httpGet?.path).toBe("/health");
    const own = await core.readNamespacedService({ namespace: ns, name: "first" });
    expect(own.spec?.clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // No Gateway routes to this endpoint: the model's Service is headless, and its EndpointSlices
    // list the model's 5 pods all the same (what the Vertex API's per-model :predict reads).
    const model = await core.readNamespacedService({ namespace: ns, name: "first-m1" });
    expect(model.spec?.clusterIP).toBe("None");
    const slices = await eventually("5 ready endpoints in first-m1's EndpointSlices", async () => {
      const list = await discovery.listNamespacedEndpointSlice({
        namespace: ns,
        labelSelector: "kubernetes.io/service-name=first-m1",
      });
      const ready = list.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready === true);
      return ready.length === 5 && list;
    });
    // Its DNS name resolves to the pods, so its port is the one they listen on.
    const httpPort = (ports: readonly { name?: string; port?: number }[] | undefined) =>
      ports?.find((p) => p.name === "http")?.port;
    expect(httpPort(model.spec?.ports)).toBe(httpPort(slices.items[0]?.ports));
  });

  it("1b. a model's PodDisruptionBudget counts its pods: the disruption controller allows one eviction of 4", async () => {
    await applyEndpoint(ns, firstDeployment("drain", "m1", 4));
    await endpoints.waitForState("drain", "m1", "DEPLOYED");
    const read = () => policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: "drain-m1" });
    // The endpoint's only chain: selected by the endpoint's label alone.
    expect((await read()).spec?.selector).toEqual({
      matchLabels: { "serving.modelendpoint.io/endpoint": "drain" },
    });
    const counted = await eventually(
      "the budget counts 4 healthy pods of 4, one disruption allowed",
      async () => {
        const s = (await read()).status;
        return s?.expectedPods === 4 && s.currentHealthy === 4 && s.disruptionsAllowed === 1 && s;
      },
    );
    expect(counted.desiredHealthy).toBe(3); // maxUnavailable 25% of 4
    const pods = await core.listNamespacedPod({
      namespace: ns,
      labelSelector: "serving.modelendpoint.io/endpoint=drain",
    });
    const victim = pods.items[0]?.metadata?.name ?? "";
    await core.createNamespacedPodEviction({
      namespace: ns,
      name: victim,
      body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: victim, namespace: ns } },
    });
    await endpoints.waitForState("drain", "m1", "DEPLOYED");
  });

  it.each([
    ["count budgets (surge 1, unavailable 0)", { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 }, 1, 0],
    [
      "percentage budgets (surge 40%, unavailable 20%)",
      { maxSurgePercentage: 40, maxUnavailablePercentage: 20 },
      2,
      1,
    ],
    [
      "existing capacity only (surge 0, unavailable 2)",
      { maxSurgeReplicas: 0, maxUnavailableReplicas: 2 },
      0,
      2,
    ],
  ])(
    "2. rolls out with %s within the budgets, ends DEPLOYED/REPLACED",
    async (label, budgets, surge, unavailable) => {
      const name = `roll-${surge}-${unavailable}`;
      await applyEndpoint(ns, firstDeployment(name, "m1", 5));
      await endpoints.waitForState(name, "m1", "DEPLOYED");
      const before = await endpoints.get(name);
      watcher.watchChain({
        endpoint: name,
        models: ["m1", "m2"],
        n: 5,
        maxSurge: surge,
        maxUnavailable: unavailable,
      });
      const manifest = firstDeployment(name, "m1", 5) as { spec: { deployedModels: object[] } };
      manifest.spec.deployedModels.push(rollingEntry("m2", "m1", "registry.example/fraud:2.0", budgets));
      await applyEndpoint(ns, manifest);
      const m2 = await endpoints.waitForState(name, "m2", "DEPLOYED");
      expect(m2).toMatchObject({ revisionNumber: 2, availableReplicaCount: 5 });
      const m1 = await endpoints.waitForState(name, "m1", "REPLACED");
      expect(m1.replicas).toBe(0);
      const after = await endpoints.get(name);
      expect(after.status?.trafficSplit).toEqual({ m2: 100 });
      // The operator never writes spec: the user's split still names m1.
      expect(after.spec.trafficSplit).toEqual({ m1: 100 });
      expect(after.metadata.generation).toBe(before.metadata.generation + 1);
      const chain = watcher.report().chains.find((c) => c.endpoint === name);
      expect(chain?.maxPods).toBeLessThanOrEqual(5 + surge);
      expect(chain?.minAvailable).toBeGreaterThanOrEqual(5 - unavailable);
      expect(watcher.report().violations, label).toEqual([]);
    },
  );

  it("4. a revision that never becomes Ready gets no traffic, FAILS at its deadline and reverts", async () => {
    const name = "broken";
    await applyEndpoint(ns, firstDeployment(name, "m1", 4));
    await endpoints.waitForState(name, "m1", "DEPLOYED");
    watcher.watchChain({ endpoint: name, models: ["m1", "m2"], n: 4, maxSurge: 1, maxUnavailable: 0 });
    const manifest = firstDeployment(name, "m1", 4) as { spec: { deployedModels: object[] } };
    manifest.spec.deployedModels.push(
      rollingEntry("m2", "m1", "registry.example/fraud:2.0-unready", {
        maxSurgeReplicas: 1,
        maxUnavailableReplicas: 0,
        progressDeadlineSeconds: 6,
      }),
    );
    await applyEndpoint(ns, manifest);
    const failed = await endpoints.waitForState(name, "m2", "FAILED");
    expect(failed.reason).toBe("ProgressDeadlineExceeded");
    expect(failed.message).toContain("readiness probe failed on /health");
    await eventually(
      "the failed revision scaled to 0",
      async () => (await endpoints.model(name, "m2"))?.replicas === 0,
    );
    const m1 = await endpoints.waitForState(name, "m1", "DEPLOYED");
    expect(m1.availableReplicaCount).toBe(4);
    const degraded = await endpoints.waitForCondition(name, "Degraded", "True");
    expect(degraded.reason).toBe("ProgressDeadlineExceeded");
    expect((await endpoints.get(name)).status?.trafficSplit).toEqual({ m1: 100 });
    expect(await eventReasons(ns, name)).toContain("RolloutFailed");
    // R6: no pod of the never-Ready revision was ever a ready endpoint.
    expect(watcher.report().servedModels[name] ?? []).not.toContain("m2");
    expect(watcher.report().violations).toEqual([]);
  });

  it("5. a revision no node can take says what the scheduler said, in its status and when it FAILS at its deadline", async () => {
    const name = "nofit";
    await applyEndpoint(ns, firstDeployment(name, "m1", 2));
    await endpoints.waitForState(name, "m1", "DEPLOYED");
    const manifest = firstDeployment(name, "m1", 2) as { spec: { deployedModels: object[] } };
    const entry = rollingEntry("m2", "m1", "registry.example/fraud:2.0", {
      maxSurgeReplicas: 1,
      maxUnavailableReplicas: 0,
      progressDeadlineSeconds: 15,
    }) as { containerSpec: object };
    // No node of this cluster has a GPU.
    entry.containerSpec = { ...entry.containerSpec, resources: { limits: { "nvidia.com/gpu": "1" } } };
    manifest.spec.deployedModels.push(entry);
    await applyEndpoint(ns, manifest);
    const verdict = /unschedulable: 0\/\d+ nodes are available: \d+ Insufficient nvidia\.com\/gpu/;
    await eventually("the scheduler's verdict in m2's status message while it is deployed", async () => {
      const m2 = await endpoints.model(name, "m2");
      expect(m2?.state).not.toBe("FAILED");
      return m2?.state === "BEING_DEPLOYED" && verdict.test(m2.message ?? "");
    });
    const failed = await endpoints.waitForState(name, "m2", "FAILED");
    expect(failed.reason).toBe("ProgressDeadlineExceeded");
    expect(failed.message).toMatch(verdict);
    expect((await endpoints.model(name, "m1"))?.state).toBe("DEPLOYED");
    const unschedulable = (await eventsOn(ns, name)).filter((e) => e.reason === "PodUnschedulable");
    expect(unschedulable).toHaveLength(1);
    expect(unschedulable[0]).toMatchObject({
      type: "Warning",
      note: expect.stringMatching(/Insufficient nvidia\.com\/gpu/),
    });
  });
});
