/**
 * The controller end to end, traffic and ownership: what the endpoint Service serves during a
 * rollout (scenario 3) and across independent models (7), and what undeploying and deleting leave
 * behind (10). Each scenario has its own invariant watcher (R4 per chain, R6 at every event).
 */
import { AppsV1Api, CoreV1Api, DiscoveryV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { eventually, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, firstDeployment, rollingEntry } from "./endpoints.ts";
import type { OperatorProcess } from "./operator-process.ts";
import { startSuite, stopSuite } from "./suite.ts";
import {
  deployWatched,
  LABEL_ENDPOINT,
  PodGate,
  printFigures,
  readyByModel,
  servedBy,
  waitCompleted,
  waitServed,
  withEntries,
} from "./scenario.ts";
import { InvariantWatcher } from "../../src/testing/watcher.ts";

const kc = kubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const discovery = kc.makeApiClient(DiscoveryV1Api);

let ns = "";
let endpoints: Endpoints;
let operator: OperatorProcess;

beforeAll(async () => {
  ({ ns, endpoints, operator } = await startSuite("traffic"));
});

afterAll(async () => {
  await stopSuite(operator);
});

/** Independent models (chains of one root each) of one endpoint, with a spec split. */
function independentModels(
  name: string,
  replicas: Readonly<Record<string, number>>,
  split: Readonly<Record<string, number>>,
): object {
  return {
    metadata: { name },
    spec: {
      trafficSplit: split,
      deployedModels: Object.entries(replicas).map(([id, n]) => {
        const entry = (firstDeployment(name, id, n) as { spec: { deployedModels: object[] } }).spec
          .deployedModels[0];
        return entry;
      }),
    },
  };
}

/** Whole percents by largest remainder, as the effective split is reported. */
function percentOf(counts: Readonly<Record<string, number>>): Record<string, number> {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const entries = Object.entries(counts).map(([id, c]) => ({ id, exact: (c * 100) / total }));
  const result = Object.fromEntries(entries.map((e) => [e.id, Math.floor(e.exact)]));
  let left = 100 - Object.values(result).reduce((a, b) => a + b, 0);
  for (const e of [...entries].sort((a, b) => (b.exact % 1) - (a.exact % 1))) {
    if (left-- <= 0) break;
    result[e.id] = (result[e.id] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(result).filter(([, p]) => p > 0));
}

/** The names of an endpoint's objects that still exist: ReplicaSets, Services, pods, EndpointSlices. */
async function ownedObjects(name: string): Promise<string[]> {
  const selector = { namespace: ns, labelSelector: `${LABEL_ENDPOINT}=${name}` };
  const [replicaSets, services, pods, slices] = await Promise.all([
    apps.listNamespacedReplicaSet(selector),
    core.listNamespacedService(selector),
    core.listNamespacedPod(selector),
    discovery.listNamespacedEndpointSlice({
      namespace: ns,
      labelSelector: `kubernetes.io/service-name in (${name},${name}-a,${name}-b)`,
    }),
  ]);
  return [
    ...replicaSets.items.map((o) => `replicaset/${o.metadata?.name ?? ""}`),
    ...services.items.map((o) => `service/${o.metadata?.name ?? ""}`),
    ...pods.items.map((o) => `pod/${o.metadata?.name ?? ""}`),
    // Slices have generated names: named here by the Service they belong to.
    ...slices.items.map((o) => `endpointslice/${o.metadata?.labels?.["kubernetes.io/service-name"] ?? ""}`),
  ].sort();
}

describe("traffic through the endpoint Service", () => {
  it("3. mid-rollout, the ready endpoints hold both revisions in proportion to their ready replicas", async () => {
    const name = "mixed";
    const chain = { models: ["m1", "m2"], n: 5, maxSurge: 1, maxUnavailable: 0 };
    const { manifest: m1, watcher } = await deployWatched(endpoints, kc, name, chain);
    // m2's pods are held not Ready as they appear: with surge 1 / unavailable 0 the rollout then
    // pauses after each released pod, at k ready new pods, 5 - k old ones and one held.
    const gate = await PodGate.start(kc, ns, name, "m2");
    await applyEndpoint(
      ns,
      withEntries(
        m1,
        rollingEntry("m2", "m1", "registry.example/fraud:2.0", {
          maxSurgeReplicas: 1,
          maxUnavailableReplicas: 0,
        }),
      ),
    );
    const paused = (k: number) =>
      eventually(
        `the rollout paused at ${k} ready new replicas, served in proportion`,
        async () => {
          const ready = readyByModel(watcher, name);
          if (gate.held.length !== 1 || (ready["m2"] ?? 0) !== k || (ready["m1"] ?? 0) !== 5 - k)
            return false;
          const served = await servedBy(kc, ns, name);
          const split = (await endpoints.get(name)).status?.trafficSplit;
          return JSON.stringify(served) === JSON.stringify(ready) &&
            JSON.stringify(split) === JSON.stringify(percentOf(ready))
            ? { ready, served, split }
            : false;
        },
        {
          timeoutMs: 30_000,
          describe: async () =>
            JSON.stringify({
              held: gate.held,
              ready: readyByModel(watcher, name),
              served: await servedBy(kc, ns, name),
              status: (await endpoints.get(name)).status?.deployedModels,
            }),
        },
      );

    // Nothing of m2 is Ready yet: all traffic stays on m1, none reaches the held pod (R6).
    const start = await paused(0);
    expect(start.served).toEqual({ m1: 5 });
    const samples = [start];
    for (const k of [1, 2, 3]) {
      await gate.release(1);
      samples.push(await paused(k));
    }
    expect(samples.map((s) => s.served)).toEqual([
      { m1: 5 },
      { m1: 4, m2: 1 },
      { m1: 3, m2: 2 },
      { m1: 2, m2: 3 },
    ]);
    expect(samples.map((s) => s.split)).toEqual([
      { m1: 100 },
      { m1: 80, m2: 20 },
      { m1: 60, m2: 40 },
      { m1: 40, m2: 60 },
    ]);
    const mid = await endpoints.model(name, "m2");
    expect(mid).toMatchObject({ state: "BEING_DEPLOYED", readyReplicas: 3 });

    await gate.open();
    await waitCompleted(endpoints, kc, name, "m2", ["m1"], 5);
    await gate.stop();
    const report = printFigures("3", await watcher.stop());
    expect(report.servedModels[name]).toEqual(["m1", "m2"]);
    expect(report.violations).toEqual([]);
  });

  it("7. two independent models: a 70/30 split realised by ready endpoints; changing it moves endpoints", async () => {
    const name = "split";
    const watcher = await InvariantWatcher.start(kc, ns);
    await applyEndpoint(ns, independentModels(name, { a: 7, b: 3 }, { a: 70, b: 30 }));
    await endpoints.waitForState(name, "a", "DEPLOYED");
    await endpoints.waitForState(name, "b", "DEPLOYED");
    // A split change moves endpoints, never pods: each chain keeps exactly N pods, all available.
    watcher.watchChain({ endpoint: name, models: ["a"], n: 7, maxSurge: 0, maxUnavailable: 0 });
    watcher.watchChain({ endpoint: name, models: ["b"], n: 3, maxSurge: 0, maxUnavailable: 0 });
    const realises = async (served: string, split: Record<string, number>) => {
      await eventually(
        `ready endpoints ${served}`,
        async () => JSON.stringify(await servedBy(kc, ns, name)) === served,
        {
          describe: async () => JSON.stringify(await servedBy(kc, ns, name)),
        },
      );
      await eventually(
        `status.trafficSplit ${JSON.stringify(split)}`,
        async () =>
          JSON.stringify((await endpoints.get(name)).status?.trafficSplit) === JSON.stringify(split),
      );
    };
    // 7 + 3 ready pods serve exactly 70/30.
    await realises('{"a":7,"b":3}', { a: 70, b: 30 });

    // 40/60 with 7 and 3 ready pods: 2 + 3 is the only exact choice; 5 pods of a stop serving.
    await applyEndpoint(ns, independentModels(name, { a: 7, b: 3 }, { a: 40, b: 60 }));
    await realises('{"a":2,"b":3}', { a: 40, b: 60 });
    expect(readyByModel(watcher, name)).toEqual({ a: 7, b: 3 });
    const serving = watcher
      .pods(name)
      .filter((p) => p.metadata?.labels?.["serving.modelendpoint.io/serving"] === "true")
      .map((p) => p.metadata?.labels?.["serving.modelendpoint.io/deployed-model"]);
    expect(serving.sort()).toEqual(["a", "a", "b", "b", "b"]);

    // And back: every ready pod serves again.
    await applyEndpoint(ns, independentModels(name, { a: 7, b: 3 }, { a: 70, b: 30 }));
    await realises('{"a":7,"b":3}', { a: 70, b: 30 });
    const report = printFigures("7", await watcher.stop());
    expect(report.chains.map((c) => [c.maxPods, c.minAvailable])).toEqual([
      [7, 7],
      [3, 3],
    ]);
    expect(report.violations).toEqual([]);
  });

  it("two chains answering different routes: only the larger share serves, Degraded RouteConflict until the routes agree", async () => {
    const name = "routes";
    const manifest = independentModels(name, { a: 2, b: 1 }, { a: 60, b: 40 }) as {
      spec: { deployedModels: { containerSpec: Record<string, unknown> }[] };
    };
    const b = manifest.spec.deployedModels[1];
    if (b === undefined) throw new Error("no entry b");
    b.containerSpec["predictRoute"] = "/v2/predict";
    await applyEndpoint(ns, manifest);
    const degraded = await endpoints.waitForCondition(name, "Degraded", "True");
    expect(degraded).toMatchObject({
      reason: "RouteConflict",
      message: expect.stringContaining(
        "b (traffic 40%) answers /v2/predict, not /predict of a (traffic 60%)",
      ),
    });
    await eventually(
      "only a's pods serve through the endpoint Service",
      async () => JSON.stringify(await servedBy(kc, ns, name)) === '{"a":2}',
      { describe: async () => JSON.stringify(await servedBy(kc, ns, name)) },
    );
    expect((await endpoints.get(name)).status?.trafficSplit).toEqual({ a: 100 });
    // b still answers through its own Service.
    await eventually(
      "b's own Service lists its pod",
      async () => JSON.stringify(await servedBy(kc, ns, `${name}-b`)) === '{"b":1}',
      { describe: async () => JSON.stringify(await servedBy(kc, ns, `${name}-b`)) },
    );

    // containerSpec is immutable: b is deployed again as c on a's route. Both serve, Degraded clears.
    await applyEndpoint(ns, independentModels(name, { a: 2, c: 1 }, { a: 60, c: 40 }));
    await endpoints.waitForCondition(name, "Degraded", "False");
    await eventually(
      "both serve",
      async () => JSON.stringify(await servedBy(kc, ns, name)) === '{"a":2,"c":1}',
      { describe: async () => JSON.stringify(await servedBy(kc, ns, name)) },
    );
  });

  // The user cleans up a replaced revision from the middle of a chain and leaves the split naming
  // the root, as the spec always did: the chain stays whole (R3, "directly or transitively").
  it("10. removing a replaced revision from the middle of a chain keeps the chain's traffic", async () => {
    const name = "middle";
    const watcher = await InvariantWatcher.start(kc, ns);
    const m1 = firstDeployment(name, "m1", 2);
    const m2 = rollingEntry("m2", "m1", "registry.example/fraud:2.0");
    const m3 = rollingEntry("m3", "m2", "registry.example/fraud:3.0");
    await applyEndpoint(ns, m1);
    await endpoints.waitForState(name, "m1", "DEPLOYED");
    await applyEndpoint(ns, withEntries(m1, m2));
    await endpoints.waitForState(name, "m2", "DEPLOYED");
    await applyEndpoint(ns, withEntries(m1, m2, m3));
    await endpoints.waitForState(name, "m3", "DEPLOYED");
    await waitServed(kc, ns, name, '{"m3":2}');
    watcher.watchChain({ endpoint: name, models: ["m1", "m2", "m3"], n: 2, maxSurge: 0, maxUnavailable: 0 });

    await applyEndpoint(ns, withEntries(m1, m3));
    await eventually("m2 gone from status", async () =>
      (await endpoints.get(name)).status?.deployedModels?.every((m) => m.id !== "m2"),
    );
    await endpoints.waitForCondition(name, "Ready", "True");
    expect((await endpoints.get(name)).status?.trafficSplit).toEqual({ m3: 100 });
    expect(await servedBy(kc, ns, name)).toEqual({ m3: 2 });
    const report = printFigures("10 (middle)", await watcher.stop());
    expect(report.violations).toEqual([]);
  });

  it("10. undeploying an entry deletes its ReplicaSet and Service; deleting the endpoint deletes all it owned", async () => {
    const name = "owned";
    const watcher = await InvariantWatcher.start(kc, ns);
    await applyEndpoint(ns, independentModels(name, { a: 2, b: 2 }, { a: 50, b: 50 }));
    await endpoints.waitForState(name, "a", "DEPLOYED");
    await endpoints.waitForState(name, "b", "DEPLOYED");
    expect(await ownedObjects(name)).toEqual(
      expect.arrayContaining([
        "replicaset/owned-a",
        "replicaset/owned-b",
        "service/owned",
        "service/owned-a",
        "service/owned-b",
      ]),
    );
    const aUid = (await apps.readNamespacedReplicaSet({ namespace: ns, name: "owned-a" })).metadata?.uid;
    watcher.watchChain({ endpoint: name, models: ["a"], n: 2, maxSurge: 0, maxUnavailable: 0 });

    // Undeploy b: its share moves first (a model with a share cannot leave spec), in the same apply.
    await applyEndpoint(ns, independentModels(name, { a: 2 }, { a: 100 }));
    await eventually(
      "b's ReplicaSet, Service and pods gone",
      async () => {
        const left = await ownedObjects(name);
        return !left.some((o) => /^[a-z]+\/owned-b(-|$)/.test(o)) && left;
      },
      { describe: async () => JSON.stringify(await ownedObjects(name)) },
    );
    await eventually("b left status", async () =>
      (await endpoints.get(name)).status?.deployedModels?.every((m) => m.id !== "b"),
    );
    await eventually(
      "a serves all traffic",
      async () => JSON.stringify(await servedBy(kc, ns, name)) === '{"a":2}',
    );
    // a was not touched.
    const a = await apps.readNamespacedReplicaSet({ namespace: ns, name: "owned-a" });
    expect([a.metadata?.uid, a.spec?.replicas]).toEqual([aUid, 2]);
    const report = printFigures("10", await watcher.stop());
    expect(report.violations).toEqual([]);

    // Delete the endpoint: the garbage collector removes everything it owned (ownerReferences). The
    // collector learns of a CRD only at its discovery resync (every 30 s in kube-controller-manager),
    // so right after the CRD was installed this can take that long.
    await endpoints.delete(name);
    await eventually("nothing of the endpoint left", async () => (await ownedObjects(name)).length === 0, {
      timeoutMs: 90_000,
      describe: async () => JSON.stringify(await ownedObjects(name)),
    });
  });
});
