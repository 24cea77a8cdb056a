/**
 * The controller end to end, a `git revert` of a rolling deployment: the manifest goes back to what
 * it was before the rollout, so the rolled-out entry leaves spec and the chain must roll back onto
 * the revision below it within the budgets (docs/rollout.md, "Rolling back by removing a revision").
 * After completion, mid-rollout, and in a chain of three; each with its own invariant watcher, which
 * checks that pods never exceed N + surge and available pods never drop below N - unavailable.
 */
import { AppsV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { eventually, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, rollingEntry } from "./endpoints.ts";
import type { OperatorProcess } from "./operator-process.ts";
import { startSuite, stopSuite } from "./suite.ts";
import {
  deployWatched,
  eventReasons,
  PodGate,
  printFigures,
  waitHeldAt,
  waitCompleted,
  waitServed,
  withEntries,
} from "./scenario.ts";

const kc = kubeConfig();
const apps = kc.makeApiClient(AppsV1Api);

const V1 = "registry.example/fraud:1.0";
const V2 = "registry.example/fraud:2.0";
const V3 = "registry.example/fraud:3.0";
const SURGE_1 = { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 };

let ns = "";
let endpoints: Endpoints;
let operator: OperatorProcess;

beforeAll(async () => {
  ({ ns, endpoints, operator } = await startSuite("revert"));
});

afterAll(async () => {
  await stopSuite(operator);
});

/** Awaits the ReplicaSet `<name>-<id>` being gone (deleted once its entry left spec and it drained). */
async function waitGone(name: string, id: string): Promise<void> {
  await eventually(`ReplicaSet ${name}-${id} deleted`, async () => {
    const list = await apps.listNamespacedReplicaSet({ namespace: ns });
    return !list.items.some((rs) => rs.metadata?.name === `${name}-${id}`);
  });
}

/** Awaits the endpoint back on `id` alone: DEPLOYED with N available, Ready, serving only it. */
async function waitRolledBack(name: string, id: string, n: number): Promise<void> {
  // Ready=True for the generation just applied: the rollback is over.
  await endpoints.waitForCondition(name, "Ready", "True");
  expect(await endpoints.model(name, id)).toMatchObject({ state: "DEPLOYED", availableReplicaCount: n });
  await waitServed(kc, ns, name, JSON.stringify({ [id]: n }));
}

describe("git revert of a rolling deployment", () => {
  it("after completion: m1 comes back to N within m2's budgets, m2 drains and its ReplicaSet goes", async () => {
    const name = "gr";
    const chain = { models: ["m1", "m2"], n: 3, ...{ maxSurge: 1, maxUnavailable: 0 } };
    const { manifest: m1, watcher } = await deployWatched(endpoints, kc, name, chain, V1);
    await applyEndpoint(ns, withEntries(m1, rollingEntry("m2", "m1", V2, SURGE_1)));
    await waitCompleted(endpoints, kc, name, "m2", ["m1"], 3);

    // The revert: the manifest of step 1, applied again.
    await applyEndpoint(ns, m1);
    await endpoints.waitForCondition(name, "Progressing", "True");
    await waitRolledBack(name, "m1", 3);
    await waitGone(name, "m2");

    const obj = await endpoints.get(name);
    expect(obj.status?.deployedModels?.map((m) => [m.id, m.state, m.revisionNumber])).toEqual([
      ["m1", "DEPLOYED", 1],
    ]);
    expect(obj.status?.trafficSplit).toEqual({ m1: 100 });
    expect(obj.status?.latestRevisionNumber).toBe(2);
    expect(obj.status?.conditions?.find((c) => c.type === "Degraded")).toMatchObject({ status: "False" });
    const reasons = await eventReasons(ns, name);
    expect(reasons).toContain("RollbackStarted");
    expect(reasons).toContain("ReplicaSetDeleted");

    const report = printFigures("revert (after completion)", await watcher.stop());
    expect(report.servedModels[name]).toEqual(["m1", "m2"]);
    // m2 was drained within the budgets, never deleted with its pods in one go: m1 got 3 new pods.
    expect(report.podsSeen[`${name}/m1`]?.length).toBe(6);
    expect(report.violations).toEqual([]);

    // A new rollout afterwards gets a number never given before.
    await applyEndpoint(ns, withEntries(m1, rollingEntry("m3", "m1", V3, SURGE_1)));
    await eventually("m3 seen", async () => (await endpoints.model(name, "m3")) !== undefined);
    expect((await endpoints.model(name, "m3"))?.revisionNumber).toBe(3);
  });

  it("mid-rollout: m1 goes back to N while m2's Ready pods keep serving until they are retired", async () => {
    const name = "gr-mid";
    const chain = { models: ["m1", "m2"], n: 4, maxSurge: 1, maxUnavailable: 0 };
    const { manifest: m1, watcher } = await deployWatched(endpoints, kc, name, chain, V1);
    // m2's pods are held not Ready; two are let go, so the rollout pauses at m1 2 + m2 2 ready.
    const gate = await PodGate.start(kc, ns, name, "m2");
    await applyEndpoint(
      ns,
      withEntries(m1, rollingEntry("m2", "m1", V2, { ...SURGE_1, progressDeadlineSeconds: 600 })),
    );
    await waitHeldAt(gate, watcher, name, '{"m1":4}');
    await gate.release(1);
    await waitHeldAt(gate, watcher, name, '{"m1":3,"m2":1}');
    await gate.release(1);
    await waitHeldAt(gate, watcher, name, '{"m1":2,"m2":2}');
    await waitServed(kc, ns, name, '{"m1":2,"m2":2}');

    // The revert while m2's third pod is still held: m1 is intended again.
    await applyEndpoint(ns, m1);
    await waitRolledBack(name, "m1", 4);
    await waitGone(name, "m2");
    await gate.stop();
    expect((await endpoints.model(name, "m1"))?.revisionNumber).toBe(1);

    const report = printFigures("revert (mid-rollout)", await watcher.stop());
    expect(report.servedModels[name]).toEqual(["m1", "m2"]);
    expect(report.violations).toEqual([]);
  });

  it("a chain of three: removing m3, then m2, rolls back one revision at a time", async () => {
    const name = "gr-three";
    const chain = { models: ["m1", "m2", "m3"], n: 2, maxSurge: 1, maxUnavailable: 0 };
    const { manifest: m1, watcher } = await deployWatched(endpoints, kc, name, chain, V1);
    const m2 = rollingEntry("m2", "m1", V2, SURGE_1);
    await applyEndpoint(ns, withEntries(m1, m2));
    await waitCompleted(endpoints, kc, name, "m2", ["m1"], 2);
    await applyEndpoint(ns, withEntries(m1, m2, rollingEntry("m3", "m2", V3, SURGE_1)));
    await waitCompleted(endpoints, kc, name, "m3", ["m1", "m2"], 2);

    await applyEndpoint(ns, withEntries(m1, m2));
    await waitRolledBack(name, "m2", 2);
    await waitGone(name, "m3");
    expect((await endpoints.model(name, "m1"))?.state).toBe("REPLACED");

    await applyEndpoint(ns, m1);
    await waitRolledBack(name, "m1", 2);
    await waitGone(name, "m2");

    const report = printFigures("revert (three)", await watcher.stop());
    expect(report.servedModels[name]).toEqual(["m1", "m2", "m3"]);
    expect(report.violations).toEqual([]);
  });
});
