/**
 * The controller end to end, rollbacks and refusals: a rollback onto an in-progress rollout
 * (scenario 5), the reconcile-time refusals of R10 (6), and broken endpoints that must not hold up
 * another endpoint's rollout (11). Each scenario has its own invariant watcher.
 */
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { eventually, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, firstDeployment, rollingEntry, type EndpointObject } from "./endpoints.ts";
import type { OperatorProcess } from "./operator-process.ts";
import { startSuite, stopSuite } from "./suite.ts";
import {
  eventReasons,
  LABEL_ENDPOINT,
  LABEL_MODEL,
  PodGate,
  printFigures,
  waitHeldAt,
  servedBy,
  deployWatched,
  waitCompleted,
  waitServed,
  withEntries,
  writesOf,
} from "./scenario.ts";
import { InvariantWatcher } from "../../src/testing/watcher.ts";

const kc = kubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);

const V1 = "registry.example/fraud:1.0";
const V2 = "registry.example/fraud:2.0";
const UNREADY = "registry.example/fraud:2.0-unready";
const SURGE_1 = { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 };
/** Scenario 5's chains: m1, m2 rolling onto it, m3 rolling back onto m2; N = 4, surge 1. */
const CHAIN_4 = { models: ["m1", "m2", "m3"], n: 4, maxSurge: 1, maxUnavailable: 0 };

let ns = "";
let other = "";
let endpoints: Endpoints;
let operator: OperatorProcess;

beforeAll(async () => {
  let namespaces: readonly string[];
  ({ ns, namespaces, endpoints, operator } = await startSuite("rollback", ["rollback-other"]));
  other = namespaces[1] ?? "";
});

afterAll(async () => {
  await stopSuite(operator);
});

/**
 * Everything of an endpoint except what belongs to deployed model `except`: its ReplicaSets (uid,
 * replicas, generation), pods (serving label), Services, the other models' status and the split.
 */
async function footprint(name: string, except: string): Promise<unknown> {
  const selector = { namespace: ns, labelSelector: `${LABEL_ENDPOINT}=${name}` };
  const notExcepted = (o: { metadata?: { labels?: Record<string, string> } }): boolean =>
    o.metadata?.labels?.[LABEL_MODEL] !== except;
  const [replicaSets, pods, services, endpoint] = await Promise.all([
    apps.listNamespacedReplicaSet(selector),
    core.listNamespacedPod(selector),
    core.listNamespacedService(selector),
    endpoints.get(name),
  ]);
  return {
    replicaSets: replicaSets.items
      .filter(notExcepted)
      .map((rs) => [rs.metadata?.name, rs.metadata?.uid, rs.spec?.replicas, rs.metadata?.generation])
      .sort(),
    pods: pods.items
      .filter(notExcepted)
      .map((p) => [p.metadata?.name, p.metadata?.labels?.["serving.modelendpoint.io/serving"] ?? ""])
      .sort(),
    services: services.items
      .filter(notExcepted)
      .map((s) => s.metadata?.name)
      .sort(),
    models: (endpoint.status?.deployedModels ?? [])
      .filter((m) => m.id !== except)
      .map((m) => [m.id, m.revisionNumber, m.state, m.reason, m.replicas]),
    trafficSplit: endpoint.status?.trafficSplit,
  };
}

function condition(
  obj: EndpointObject,
  type: string,
): { status?: string; reason?: string; message?: string } {
  return obj.status?.conditions?.find((c) => c.type === type) ?? {};
}

describe("rollbacks", () => {
  it("5. a rollback onto a stuck rollout converges on the newest revision", async () => {
    const name = "rb-stuck";
    const { manifest: m1, watcher } = await deployWatched(endpoints, kc, name, CHAIN_4, V1);
    // m2 never becomes Ready, and its deadline is far away: it stays in progress.
    const m2 = rollingEntry("m2", "m1", UNREADY, { ...SURGE_1, progressDeadlineSeconds: 600 });
    await applyEndpoint(ns, withEntries(m1, m2));
    await eventually("m2 in progress with its surge pod", async () => {
      const s = await endpoints.model(name, "m2");
      return s?.state === "BEING_DEPLOYED" && s.replicas === 1;
    });
    // The rollback: the old model's image as a new revision rolling onto the in-progress m2.
    await applyEndpoint(ns, withEntries(m1, m2, rollingEntry("m3", "m2", V1, SURGE_1)));
    await waitCompleted(endpoints, kc, name, "m3", ["m1", "m2"], 4);
    expect(await endpoints.model(name, "m3")).toMatchObject({ revisionNumber: 3, availableReplicaCount: 4 });
    expect((await endpoints.get(name)).status?.trafficSplit).toEqual({ m3: 100 });
    const report = printFigures("5 (stuck)", await watcher.stop());
    expect(report.servedModels[name]).toEqual(["m1", "m3"]);
    expect(report.violations).toEqual([]);
  });

  it("5. a rollback onto a rollout halfway through retires both older revisions within the budgets", async () => {
    const name = "rb-mid";
    const { manifest: m1, watcher } = await deployWatched(endpoints, kc, name, CHAIN_4, V1);
    // m2's pods are held not Ready; two are let go, so m2 pauses at 2 ready + 1 held, m1 at 2.
    const gate = await PodGate.start(kc, ns, name, "m2");
    const m2 = rollingEntry("m2", "m1", V2, { ...SURGE_1, progressDeadlineSeconds: 600 });
    await applyEndpoint(ns, withEntries(m1, m2));
    await waitHeldAt(gate, watcher, name, '{"m1":4}');
    await gate.release(1);
    await waitHeldAt(gate, watcher, name, '{"m1":3,"m2":1}');
    await gate.release(1);
    await waitHeldAt(gate, watcher, name, '{"m1":2,"m2":2}');
    await waitServed(kc, ns, name, '{"m1":2,"m2":2}');

    // Roll back onto m2 while its third pod is still held: m3 is the intended state (R9).
    await applyEndpoint(ns, withEntries(m1, m2, rollingEntry("m3", "m2", V1, SURGE_1)));
    await waitCompleted(endpoints, kc, name, "m3", ["m1", "m2"], 4);
    expect(await endpoints.model(name, "m3")).toMatchObject({ revisionNumber: 3 });
    await gate.stop();
    const report = printFigures("5 (halfway)", await watcher.stop());
    expect(report.servedModels[name]).toEqual(["m1", "m2", "m3"]);
    // m2 got exactly the 3 pods it was scaled to; nothing was created again.
    expect(report.podsSeen[`${name}/m2`]).toHaveLength(3);
    expect(report.violations).toEqual([]);
  });
});

describe("reconcile-time refusals (R10)", () => {
  /**
   * Applies `manifest` (which adds the entry `id`), waits for `id` to be FAILED with `refusal`, and
   * checks that nothing else of the endpoint changed (its chain `untouched` keeps exactly its pods)
   * and that no ReplicaSet or pod of `id` ever existed.
   */
  async function expectRefused(
    name: string,
    manifest: object,
    id: string,
    refusal: { readonly reason: string; readonly why: string },
    untouched: { readonly models: readonly string[]; readonly n: number },
  ): Promise<void> {
    const watcher = await InvariantWatcher.start(kc, ns);
    watcher.watchChain({ endpoint: name, ...untouched, maxSurge: 0, maxUnavailable: 0 });
    const before = await footprint(name, id);
    const writesBefore = await writesOf(operator, ["replicasets", "pods"]);
    await applyEndpoint(ns, manifest);
    const refused = await endpoints.waitForState(name, id, "FAILED");
    expect(refused).toMatchObject({ reason: refusal.reason, replicas: 0 });
    expect(refused.message).toContain(refusal.why);
    const degraded = await endpoints.waitForCondition(name, "Degraded", "True");
    expect(degraded.message).toContain(`${id} FAILED (${refusal.reason})`);
    expect(await eventReasons(ns, name)).toContain("RolloutRefused");

    // Nothing else moved, and no ReplicaSet or pod of the refused entry ever existed.
    expect(await footprint(name, id)).toEqual(before);
    expect(await writesOf(operator, ["replicasets", "pods"])).toBe(writesBefore);
    const report = printFigures(`6 (${name})`, await watcher.stop());
    expect(report.replicaSetUids[`${name}-${id}`]).toBeUndefined();
    expect(report.podsSeen[`${name}/${id}`]).toBeUndefined();
    expect(report.violations).toEqual([]);
  }

  it("6. rolling onto a FAILED model is refused", async () => {
    const name = "onto-failed";
    const m1 = firstDeployment(name, "m1", 2, V1);
    await applyEndpoint(ns, m1);
    await endpoints.waitForState(name, "m1", "DEPLOYED");
    const m2 = rollingEntry("m2", "m1", UNREADY, { ...SURGE_1, progressDeadlineSeconds: 3 });
    await applyEndpoint(ns, withEntries(m1, m2));
    await endpoints.waitForState(name, "m2", "FAILED");
    await eventually("the revert done", async () => (await endpoints.model(name, "m2"))?.replicas === 0);
    await waitServed(kc, ns, name, '{"m1":2}');
    await expectRefused(
      name,
      withEntries(m1, m2, rollingEntry("m3", "m2", V2, SURGE_1)),
      "m3",
      { reason: "PreviousNotDeployed", why: "cannot roll onto m2: it is FAILED" },
      { models: ["m1", "m2"], n: 2 },
    );
    expect(await endpoints.model(name, "m1")).toMatchObject({ state: "DEPLOYED", availableReplicaCount: 2 });
    expect(condition(await endpoints.get(name), "Ready").status).toBe("True");
  });

  it("6. rolling onto a REPLACED model is refused", async () => {
    const name = "onto-replaced";
    const m1 = firstDeployment(name, "m1", 2, V1);
    const m2 = rollingEntry("m2", "m1", V2, SURGE_1);
    const m3 = rollingEntry("m3", "m2", "registry.example/fraud:3.0", SURGE_1);
    await applyEndpoint(ns, m1);
    await endpoints.waitForState(name, "m1", "DEPLOYED");
    await applyEndpoint(ns, withEntries(m1, m2));
    await endpoints.waitForState(name, "m2", "DEPLOYED");
    await applyEndpoint(ns, withEntries(m1, m2, m3));
    await endpoints.waitForState(name, "m3", "DEPLOYED");
    // The user removes the replaced m2, so no entry names m1 any more (admission allows one rolling
    // deployment per previous model), then rolls onto the REPLACED m1. The chain stays whole: m3 now
    // links to m1, and the engine says so when it refuses.
    await applyEndpoint(ns, withEntries(m1, m3));
    await eventually("m2 gone from status", async () =>
      (await endpoints.get(name)).status?.deployedModels?.every((m) => m.id !== "m2"),
    );
    await waitServed(kc, ns, name, '{"m3":2}');
    expect(await endpoints.model(name, "m1")).toMatchObject({ state: "REPLACED", replicas: 0 });
    await expectRefused(
      name,
      withEntries(m1, m3, rollingEntry("m4", "m1", V2, SURGE_1)),
      "m4",
      { reason: "PreviousHasRollout", why: "m3 already rolls onto m1; roll onto m3 instead" },
      { models: ["m1", "m3"], n: 2 },
    );
    expect(await endpoints.model(name, "m3")).toMatchObject({ state: "DEPLOYED", availableReplicaCount: 2 });
    expect(condition(await endpoints.get(name), "Ready").status).toBe("True");
  });

  it("6. rolling onto a first deployment still coming up is refused", async () => {
    const name = "onto-first";
    // m1 never becomes Ready: it stays BEING_DEPLOYED, a first deployment (its deadline is 600 s).
    const m1 = firstDeployment(name, "m1", 2, "registry.example/fraud:1.0-unready");
    await applyEndpoint(ns, m1);
    await eventually("m1 coming up with 2 unready pods", async () => {
      const s = await endpoints.model(name, "m1");
      return s?.state === "BEING_DEPLOYED" && s.replicas === 2;
    });
    await expectRefused(
      name,
      withEntries(m1, rollingEntry("m2", "m1", V2, SURGE_1)),
      "m2",
      {
        reason: "PreviousNotDeployed",
        why: "cannot roll onto m1: it is still being deployed and is not a rolling deployment",
      },
      { models: ["m1"], n: 2 },
    );
    expect(await endpoints.model(name, "m1")).toMatchObject({ state: "BEING_DEPLOYED", replicas: 2 });
  });
});

describe("isolation", () => {
  it("11. broken endpoints in one namespace never stop another endpoint's rollout", async () => {
    const foreignService = (name: string) =>
      core.createNamespacedService({
        namespace: ns,
        body: { metadata: { name }, spec: { selector: { app: "someone-else" }, ports: [{ port: 80 }] } },
      });
    // Broken, in the first namespace:
    // - a first deployment that never becomes Ready, with a refused rollout onto it;
    const stuck = firstDeployment("stuck", "m1", 3, "registry.example/fraud:1.0-unready");
    await applyEndpoint(ns, withEntries(stuck, rollingEntry("m2", "m1", V2, SURGE_1)));
    // - an endpoint whose ReplicaSet name is taken by someone else's object;
    await apps.createNamespacedReplicaSet({
      namespace: ns,
      body: {
        metadata: { name: "clash-m1" },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: "someone-else" } },
          template: {
            metadata: { labels: { app: "someone-else" } },
            spec: { containers: [{ name: "c", image: "registry.example/other:1" }] },
          },
        },
      },
    });
    await applyEndpoint(ns, firstDeployment("clash", "m1", 2, V1));
    // - an endpoint whose own Service name is taken;
    await foreignService("taken");
    await applyEndpoint(ns, firstDeployment("taken", "m1", 2, V1));
    // - a rollout that never becomes Ready, whose new model's Service name is taken.
    const blocked = firstDeployment("blocked", "m1", 2, V1);
    await applyEndpoint(ns, blocked);
    await endpoints.waitForState("blocked", "m1", "DEPLOYED");
    await foreignService("blocked-m2");

    const clash = await endpoints.waitForState("clash", "m1", "FAILED");
    expect(clash.reason).toBe("ReplicaSetCreateFailed");
    await endpoints.waitForState("stuck", "m2", "FAILED");
    const taken = await endpoints.waitForCondition("taken", "Ready", "False");
    expect(taken.reason).toBe("ServiceConflict");
    expect(taken.message).toContain(
      "Service " + ns + "/taken already exists and is not owned by this ModelEndpoint",
    );

    // Healthy, in the other namespace: a rolling deployment, while the blocked one runs too.
    const good = new Endpoints(kc, other);
    const watcher = await InvariantWatcher.start(kc, other);
    const m1 = firstDeployment("good", "m1", 4, V1);
    await applyEndpoint(other, m1);
    await good.waitForState("good", "m1", "DEPLOYED");
    watcher.watchChain({ endpoint: "good", models: ["m1", "m2"], n: 4, maxSurge: 1, maxUnavailable: 1 });
    await applyEndpoint(
      ns,
      withEntries(blocked, rollingEntry("m2", "m1", UNREADY, { ...SURGE_1, progressDeadlineSeconds: 5 })),
    );
    await applyEndpoint(
      other,
      withEntries(m1, rollingEntry("m2", "m1", V2, { maxSurgeReplicas: 1, maxUnavailableReplicas: 1 })),
    );
    await good.waitForState("good", "m2", "DEPLOYED");
    await good.waitForState("good", "m1", "REPLACED");
    await waitServed(kc, other, "good", '{"m2":4}');

    // The blocked rollout still meets its deadline and reverts (R8 is never starved), and says why.
    const failed = await endpoints.waitForState("blocked", "m2", "FAILED");
    expect(failed.reason).toBe("ProgressDeadlineExceeded");
    await eventually(
      "blocked reverted",
      async () => (await endpoints.model("blocked", "m2"))?.replicas === 0,
    );
    await waitServed(kc, ns, "blocked", '{"m1":2}');
    const degraded = await endpoints.waitForCondition("blocked", "Degraded", "True");
    expect(degraded.reason).toBe("ServiceConflict");
    expect(degraded.message).toContain("m2 FAILED (ProgressDeadlineExceeded)");

    // The broken ones are still broken, as they were, and nobody else's object was touched.
    expect(await endpoints.model("stuck", "m1")).toMatchObject({ state: "BEING_DEPLOYED", readyReplicas: 0 });
    expect(await endpoints.model("stuck", "m2")).toMatchObject({
      state: "FAILED",
      reason: "PreviousNotDeployed",
    });
    expect(await endpoints.model("clash", "m1")).toMatchObject({
      state: "FAILED",
      reason: "ReplicaSetCreateFailed",
    });
    expect(await endpoints.model("taken", "m1")).toMatchObject({ state: "DEPLOYED" });
    expect(await servedBy(kc, ns, "taken")).toEqual({});
    const foreign = await apps.readNamespacedReplicaSet({ namespace: ns, name: "clash-m1" });
    expect(foreign.metadata?.ownerReferences).toBeUndefined();
    for (const name of ["taken", "blocked-m2"]) {
      const svc = await core.readNamespacedService({ namespace: ns, name });
      expect([svc.metadata?.ownerReferences, svc.spec?.selector]).toEqual([
        undefined,
        { app: "someone-else" },
      ]);
    }
    const report = printFigures("11", await watcher.stop());
    expect(report.violations).toEqual([]);
  });
});
