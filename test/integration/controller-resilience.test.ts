/**
 * The controller end to end, under faults: the operator SIGKILLed again and again mid-rollout
 * (scenario 8), two replicas with leader election and the leader killed (9), and the API server
 * restarted mid-rollout. Each scenario has its own invariant watcher; the rollout must complete, the
 * budgets hold throughout, and nothing is created twice.
 */
import { CoordinationV1Api, type V1Lease } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { controlPlaneClient, createNamespace, eventually, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, installCrd, rollingEntry } from "./endpoints.ts";
import { OperatorProcess } from "./operator-process.ts";
import { deployWatched, printFigures, waitCompleted, withEntries, writesOf } from "./scenario.ts";
import type { InvariantWatcher } from "../../src/testing/watcher.ts";

const kc = kubeConfig();
const coordination = kc.makeApiClient(CoordinationV1Api);

const V2 = "registry.example/fraud:2.0";
const SURGE_1 = { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 };
const LEASE = "model-endpoint-operator";

let ns = "";
let endpoints: Endpoints;
let operator: OperatorProcess;
const operators: OperatorProcess[] = [];

beforeAll(async () => {
  await installCrd();
  ns = await createNamespace("resilience");
  endpoints = new Endpoints(kc, ns);
  operator = new OperatorProcess({ namespaces: [ns] });
  operators.push(operator);
  await operator.start();
});

afterAll(async () => {
  for (const op of operators) await op.stop();
  for (const op of operators) expect(op.problems(), op.identity).toEqual([]);
});

/** The non-terminating pods of a deployed model in the watcher's cache. */
function podCount(watcher: InvariantWatcher, endpoint: string, model: string): number {
  return watcher.pods(endpoint, model).filter((p) => p.metadata?.deletionTimestamp === undefined).length;
}

/** Awaits `model` of `endpoint` having at least `pods` pods while its rollout still runs. */
async function rolloutAt(
  watcher: InvariantWatcher,
  endpoint: string,
  model: string,
  pods: number,
): Promise<void> {
  await eventually(
    `${endpoint} ${model} at ${pods} pods`,
    () => Promise.resolve(podCount(watcher, endpoint, model) >= pods),
    {
      intervalMs: 20,
    },
  );
  const state = (await endpoints.model(endpoint, model))?.state;
  if (state !== "BEING_DEPLOYED")
    throw new Error(`${endpoint} ${model} is ${String(state)}, no longer mid-rollout`);
}

/** Nothing was created twice: one ReplicaSet uid per model, and exactly `pods` pods each ever. */
function expectCreatedOnce(
  report: ReturnType<InvariantWatcher["report"]>,
  endpoint: string,
  pods: Readonly<Record<string, number>>,
): void {
  for (const [model, count] of Object.entries(pods)) {
    expect(report.replicaSetUids[`${endpoint}-${model}`], `${endpoint}-${model} uids`).toHaveLength(1);
    expect(report.podsSeen[`${endpoint}/${model}`], `${endpoint}/${model} pods`).toHaveLength(count);
  }
}

describe("the controller under faults", () => {
  it("8. SIGKILLed three times mid-rollout, it resumes, keeps the budgets, completes, creates nothing twice", async () => {
    const name = "crash";
    const chain = { models: ["m1", "m2"], n: 8, maxSurge: 1, maxUnavailable: 0 };
    const { manifest, watcher } = await deployWatched(endpoints, kc, name, chain);
    await applyEndpoint(ns, withEntries(manifest, rollingEntry("m2", "m1", V2, SURGE_1)));
    // Killed just after a scale step (the new pod is seen), and started again each time.
    for (const pods of [2, 4, 6]) {
      await rolloutAt(watcher, name, "m2", pods);
      await operator.kill();
      await operator.start();
    }
    await waitCompleted(endpoints, kc, name, "m2", ["m1"], 8);
    expect(await endpoints.model(name, "m2")).toMatchObject({ revisionNumber: 2, availableReplicaCount: 8 });
    const report = printFigures("8", await watcher.stop());
    // With surge 1 / unavailable 0, m2 only ever grows and m1 only shrinks: 8 pods each, ever.
    expectCreatedOnce(report, name, { m1: 8, m2: 8 });
    expect(report.violations).toEqual([]);
  });

  it("control plane restarted mid-rollout (API server, then controller manager): the rollout completes", async () => {
    const name = "restart";
    const chain = { models: ["m1", "m2"], n: 6, maxSurge: 1, maxUnavailable: 0 };
    const { manifest, watcher } = await deployWatched(endpoints, kc, name, chain);
    await applyEndpoint(ns, withEntries(manifest, rollingEntry("m2", "m1", V2, SURGE_1)));
    await rolloutAt(watcher, name, "m2", 2);
    await controlPlaneClient().restartApiServer();
    // kube-controller-manager's informers on this harness sometimes stop following after the API
    // server comes back (make chaos restarts it when its ReplicaSet informer lags; once here its
    // EndpointSlices still listed 5 deleted pods a minute after the rollout completed). That is
    // Kubernetes' component, not the operator, so it is restarted too, as a control-plane restart does.
    await controlPlaneClient().restartControllerManager();
    await waitCompleted(endpoints, kc, name, "m2", ["m1"], 6);
    const report = printFigures("control-plane restart", await watcher.stop());
    expectCreatedOnce(report, name, { m1: 6, m2: 6 });
    expect(report.violations).toEqual([]);
    console.log(
      `[operator] watch restarts after the API server restart: ${(await operator.metric("modelendpoint_watch_restarts_total")) ?? 0} (first series)`,
    );
  });

  it("9. two replicas: only the leader writes; killing it hands over and the rollout completes", async () => {
    const leNs = await createNamespace("leader");
    const le = new Endpoints(kc, leNs);
    const a = new OperatorProcess({ namespaces: [leNs], identity: "replica-a", leaderElection: true });
    const b = new OperatorProcess({ namespaces: [leNs], identity: "replica-b", leaderElection: true });
    operators.push(a, b);
    const holder = async (): Promise<V1Lease["spec"]> =>
      (await coordination.readNamespacedLease({ namespace: leNs, name: LEASE })).spec;
    await a.start();
    await eventually(
      "replica-a holds the Lease",
      async () => (await holder())?.holderIdentity === "replica-a",
    );
    await b.start();

    const name = "le";
    const chain = { models: ["m1", "m2"], n: 6, maxSurge: 1, maxUnavailable: 0 };
    const { manifest, watcher } = await deployWatched(le, kc, name, chain);
    expect(await a.metric("modelendpoint_leader")).toBe(1);
    expect(await b.metric("modelendpoint_leader")).toBe(0);
    expect(await writesOf(a)).toBeGreaterThan(0);
    expect(await writesOf(b)).toBe(0);

    await applyEndpoint(leNs, withEntries(manifest, rollingEntry("m2", "m1", V2, SURGE_1)));
    await eventually(`${name} m2 at 2 pods`, () => Promise.resolve(podCount(watcher, name, "m2") >= 2), {
      intervalMs: 20,
    });
    expect(await writesOf(b)).toBe(0);
    const before = await holder();
    const killedAt = Date.now();
    await a.kill();
    const after = await eventually(
      "replica-b takes the Lease over",
      async () => {
        const spec = await holder();
        return spec?.holderIdentity === "replica-b" && spec;
      },
      { intervalMs: 50 },
    );
    console.log(
      `[lease] handed over ${Date.now() - killedAt} ms after the leader was killed (lease ${String(before?.leaseDurationSeconds)} s); transitions ${String(before?.leaseTransitions)} -> ${String(after.leaseTransitions)}`,
    );
    expect(after.leaseTransitions).toBe((before?.leaseTransitions ?? 0) + 1);

    await waitCompleted(le, kc, name, "m2", ["m1"], 6);
    expect(await b.metric("modelendpoint_leader")).toBe(1);
    // The new leader listed its ReplicaSets again before its first step that cannot be undone.
    expect(await b.metric("modelendpoint_lists_total", 'resource="replicasets",reason="requested"')).toBe(1);
    expect(await writesOf(b)).toBeGreaterThan(0);
    const report = printFigures("9", await watcher.stop());
    expectCreatedOnce(report, name, { m1: 6, m2: 6 });
    expect(report.violations).toEqual([]);
  });
});
