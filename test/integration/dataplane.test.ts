/**
 * Predictions that really flow: the model pods run the reference model server (the process
 * kubelet), the endpoint serves through its HTTPRoute on the suite's Gateway (Traefik), and a
 * steady stream of predictions, half of them on kept-alive connections, runs through every step of
 * a rollout. Each scenario ends with 0 failed requests; the splits are checked over >= 1000
 * requests where they hold still.
 */
import { setTimeout as delay } from "node:timers/promises";

import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DEFAULT_LOCATION, predictPaths } from "../../src/controller/dataplane.ts";
import { startLoad, type Load, type LoadSummary } from "../../src/testing/load.ts";
import { MODEL_SERVER_IMAGE } from "../../src/testing/process-kubelet.ts";
import {
  describeStep,
  SETTLE_MS,
  SplitFollower,
  STEP_REQUESTS,
  STEP_TOLERANCE,
} from "../../src/testing/split.ts";
import { eventually, gateway, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, firstDeployment, kubectl, rollingEntry } from "./endpoints.ts";
import type { OperatorProcess } from "./operator-process.ts";
import { waitCompleted, withEntries } from "./scenario.ts";
import { startSuite, stopSuite } from "./suite.ts";

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);

/** An image the process kubelet runs as the reference model server. */
const V1 = `${MODEL_SERVER_IMAGE}:1.0`;
const V2 = `${MODEL_SERVER_IMAGE}:2.0`;
const SURGE_1 = { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 };

let ns = "";
let endpoints: Endpoints;
let operator: OperatorProcess;

beforeAll(async () => {
  ({ ns, endpoints, operator } = await startSuite("dataplane"));
});

afterAll(async () => {
  await stopSuite(operator);
});

/** The first deployment of `name` on the reference server, routed through the suite's Gateway. */
function routed(
  name: string,
  n: number,
  image = V1,
): Record<string, unknown> & { spec: Record<string, unknown> } {
  const manifest = firstDeployment(name, "m1", n, image) as {
    metadata: object;
    spec: Record<string, unknown>;
  };
  return { ...manifest, spec: { ...manifest.spec, gateway: { parentRefs: [gateway().parentRef] } } };
}

function predictUrl(name: string): string {
  return `${gateway().url}${predictPaths(ns, name, DEFAULT_LOCATION)[0] ?? ""}`;
}

/** Deploys `manifest` and awaits a prediction through the gateway answered by `id`. */
async function deployServed(name: string, manifest: object, id = "m1"): Promise<void> {
  await applyEndpoint(ns, manifest);
  await endpoints.waitForState(name, id, "DEPLOYED");
  await waitAnsweredOnlyBy(name, [id]);
}

/** Awaits predictions through the gateway answered by exactly the models `ids` (one request each way). */
async function waitAnsweredOnlyBy(name: string, ids: readonly string[]): Promise<void> {
  await eventually(
    `predictions of ${name} answered only by ${ids.join(",")}`,
    async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const res = await fetch(predictUrl(name), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ instances: [[i]] }),
        });
        if (res.status !== 200) return false;
        seen.add(((await res.json()) as { deployedModelId: string }).deployedModelId);
      }
      return [...seen].sort().join(",") === [...ids].sort().join(",");
    },
    {
      timeoutMs: 60_000,
      describe: async () => {
        const route = await kubectl(["get", "httproute", name, "-n", ns, "-o", "jsonpath={.spec.rules[0]}"]);
        const status = (await endpoints.get(name)).status;
        return `route rule ${route}; trafficSplit ${JSON.stringify(status?.trafficSplit)}`;
      },
    },
  );
}

/** A prediction load on `name` and the status split it is judged against, step by step. */
interface Traffic {
  readonly load: Load;
  readonly follower: SplitFollower;
  /** Stops reading the endpoint's status. */
  readonly unfollow: () => Promise<void>;
}

function load(name: string): Traffic {
  const traffic = startLoad({
    url: predictUrl(name),
    concurrency: 6,
    keepAliveShare: 0.5,
    requestTimeoutMs: 15_000,
  });
  const follower = new SplitFollower(traffic, { settleMs: SETTLE_MS });
  const unfollowed = new AbortController();
  // Reads the status split every 100 ms: each change starts a step (src/testing/split.ts).
  const reading = (async (): Promise<void> => {
    while (!unfollowed.signal.aborted) {
      follower.observe((await endpoints.get(name)).status?.trafficSplit);
      await delay(100);
    }
  })();
  return {
    load: traffic,
    follower,
    unfollow: async () => {
      unfollowed.abort();
      await reading;
    },
  };
}

/**
 * Stops the load and checks what every scenario must: requests on both kinds of connection, none
 * failed, and every step with enough answers within ±5 points of status.trafficSplit.
 */
async function stopClean(
  { load: traffic, follower, unfollow }: Traffic,
  scenario: string,
): Promise<LoadSummary> {
  await unfollow();
  const summary = await traffic.stop();
  const steps = follower.steps(STEP_REQUESTS);
  console.log(
    `[dataplane] ${scenario}: ${summary.sent} sent, ${summary.failed} failed ${JSON.stringify(summary.failures)}, by model ${JSON.stringify(summary.byModel)}, ` +
      `keep-alive ${summary.byConnection.keepAlive} / per-request ${summary.byConnection.perRequest}\n` +
      steps
        .map((s) => `    step ${s.judged ? "" : "(too short) "}${describeStep(s)}: ${s.deviation} points`)
        .join("\n"),
  );
  expect(summary.failures).toEqual({});
  expect(summary.failed).toBe(0);
  expect(summary.byConnection.keepAlive).toBeGreaterThan(0);
  expect(summary.byConnection.perRequest).toBeGreaterThan(0);
  const judged = steps.filter((s) => s.judged);
  expect(judged.length).toBeGreaterThan(0);
  expect(judged.filter((s) => s.deviation > STEP_TOLERANCE).map(describeStep)).toEqual([]);
  return summary;
}

/** Runs load until a step of at least `count` answers has been judged, then returns its summary. */
async function measure(name: string, count: number): Promise<LoadSummary> {
  const traffic = load(name);
  await eventually(
    `${count} predictions of ${name} answered`,
    () => Promise.resolve(traffic.follower.steps(count).some((s) => s.judged)),
    {
      timeoutMs: 120_000,
      intervalMs: 100,
    },
  );
  return stopClean(traffic, `${name}: split`);
}

const share = (summary: LoadSummary, id: string): number => ((summary.byModel[id] ?? 0) / summary.ok) * 100;

describe("predictions through the gateway during rollouts", () => {
  it("a rolling deployment with surge 1 / unavailable 0: 0 failed, then only the new model answers", async () => {
    const name = "roll-s1";
    const m1 = routed(name, 3);
    await deployServed(name, m1);
    const traffic = load(name);
    await applyEndpoint(ns, withEntries(m1, rollingEntry("m2", "m1", V2, SURGE_1)));
    await waitCompleted(endpoints, kc, name, "m2", ["m1"], 3);
    await waitAnsweredOnlyBy(name, ["m2"]);
    const summary = await stopClean(traffic, "surge 1 / unavailable 0");
    expect(summary.byModel["m1"]).toBeGreaterThan(0);
    expect(summary.byModel["m2"]).toBeGreaterThan(0);
  });

  it("a git revert of a completed rolling deployment: 0 failed", async () => {
    const name = "revert";
    const m1 = routed(name, 3);
    await deployServed(name, m1);
    await applyEndpoint(ns, withEntries(m1, rollingEntry("m2", "m1", V2, SURGE_1)));
    await waitCompleted(endpoints, kc, name, "m2", ["m1"], 3);
    const back = load(name);
    await applyEndpoint(ns, m1);
    await waitAnsweredOnlyBy(name, ["m1"]);
    await stopClean(back, "git revert");
  });

  it("a rolling deployment with surge 0 / unavailable 2, and one by percentages: 0 failed", async () => {
    const name = "roll-u2";
    const m1 = routed(name, 4);
    await deployServed(name, m1);
    const traffic = load(name);
    const m2 = withEntries(
      m1,
      rollingEntry("m2", "m1", V2, { maxSurgeReplicas: 0, maxUnavailableReplicas: 2 }),
    );
    await applyEndpoint(ns, m2);
    await waitCompleted(endpoints, kc, name, "m2", ["m1"], 4);
    await waitAnsweredOnlyBy(name, ["m2"]);
    await stopClean(traffic, "surge 0 / unavailable 2");

    const percent = load(name);
    const manifest = withEntries(
      m2,
      rollingEntry("m3", "m2", V1, { maxSurgePercentage: 25, maxUnavailablePercentage: 25 }),
    ) as { spec: { trafficSplit: Record<string, number> } };
    await applyEndpoint(ns, manifest);
    await waitCompleted(endpoints, kc, name, "m3", ["m2"], 4);
    await waitAnsweredOnlyBy(name, ["m3"]);
    await stopClean(percent, "25% / 25%");
  });

  it("a revision that never becomes Ready reverts while the previous one serves: 0 failed", async () => {
    const name = "never";
    const m1 = routed(name, 2);
    await deployServed(name, m1);
    const traffic = load(name);
    const bad = rollingEntry("m2", "m1", V2, { ...SURGE_1, progressDeadlineSeconds: 8 }) as {
      containerSpec: Record<string, unknown>;
    };
    bad.containerSpec = { ...bad.containerSpec, env: [{ name: "MODEL_SERVER_UNHEALTHY", value: "true" }] };
    await applyEndpoint(ns, withEntries(m1, bad));
    await endpoints.waitForState(name, "m2", "FAILED", 60_000);
    await endpoints.waitForCondition(name, "Ready", "True");
    const summary = await stopClean(traffic, "never Ready");
    expect(summary.byModel["m2"]).toBeUndefined();
  });

  it("a rollback onto an in-progress rolling deployment, with a pod deleted mid-rollout: 0 failed", async () => {
    const name = "rollback";
    const m1 = routed(name, 3);
    await deployServed(name, m1);
    const traffic = load(name);
    const m2 = withEntries(m1, rollingEntry("m2", "m1", V2, SURGE_1));
    await applyEndpoint(ns, m2);
    await endpoints.waitForState(name, "m2", "BEING_DEPLOYED");
    // A pod of m1 is deleted (drained: preStop, SIGTERM) while the rollout runs.
    const pods = await core.listNamespacedPod({
      namespace: ns,
      labelSelector: `serving.modelendpoint.io/endpoint=${name},serving.modelendpoint.io/deployed-model=m1`,
    });
    const victim = pods.items.find((p) => p.metadata?.deletionTimestamp === undefined)?.metadata?.name;
    expect(victim).toBeDefined();
    await core.deleteNamespacedPod({ namespace: ns, name: victim ?? "" });
    // m3 rolls back onto m2 (m1's image again) before m2 is done.
    await applyEndpoint(ns, withEntries(m2, rollingEntry("m3", "m2", V1, SURGE_1)));
    await waitCompleted(endpoints, kc, name, "m3", ["m2"], 3);
    await waitAnsweredOnlyBy(name, ["m3"]);
    await stopClean(traffic, "rollback onto an in-progress rollout, a pod deleted");
  });
});

/**
 * Two chains of one replica each behind one route: m1 (V1) and x1 (V2, with `x1Spec` over m1's
 * containerSpec), split `split`; awaits x1 DEPLOYED.
 */
async function deployTwoRoots(
  name: string,
  split: Record<string, number>,
  x1Spec: Record<string, unknown> = {},
): Promise<void> {
  const manifest = routed(name, 1);
  const [m1 = {}] = manifest.spec["deployedModels"] as Record<string, unknown>[];
  const containerSpec = { ...(m1["containerSpec"] as object), imageUri: V2, ...x1Spec };
  manifest.spec["deployedModels"] = [m1, { ...m1, id: "x1", model: "ranker@1", containerSpec }];
  manifest.spec["trafficSplit"] = split;
  await applyEndpoint(ns, manifest);
  await endpoints.waitForState(name, "x1", "DEPLOYED");
}

/** The ClusterIP of Service `name`: "None" when headless. */
async function clusterIpOf(name: string): Promise<string | undefined> {
  return (await core.readNamespacedService({ namespace: ns, name })).spec?.clusterIP;
}

describe("a model's Service", () => {
  it("is headless until a Gateway routes to the endpoint, then has a ClusterIP and serves through the route", async () => {
    const name = "later";
    const plain = firstDeployment(name, "m1", 2, V1);
    await applyEndpoint(ns, plain);
    await endpoints.waitForState(name, "m1", "DEPLOYED");
    expect(await clusterIpOf(`${name}-m1`)).toBe("None");
    const endpointIp = await clusterIpOf(name);
    expect(endpointIp).not.toBe("None");
    expect(endpointIp).toBeDefined();
    const before = (await core.readNamespacedService({ namespace: ns, name: `${name}-m1` })).metadata?.uid;

    await applyEndpoint(ns, routed(name, 2));
    await waitAnsweredOnlyBy(name, ["m1"]);
    const after = await core.readNamespacedService({ namespace: ns, name: `${name}-m1` });
    expect(after.metadata?.uid).not.toBe(before);
    expect(after.spec?.clusterIP).not.toBe("None");
    expect(after.metadata?.ownerReferences?.[0]?.kind).toBe("ModelEndpoint");
    // The endpoint's own Service was left as it was.
    expect(await clusterIpOf(name)).toBe(endpointIp);
  });
});

describe("splits through the gateway", () => {
  it("90/10 over one replica each is 90/10 (±5) at the request level", async () => {
    const name = "split";
    await deployTwoRoots(name, { m1: 90, x1: 10 });
    await waitAnsweredOnlyBy(name, ["m1", "x1"]);
    const summary = await measure(name, 1000);
    expect(share(summary, "m1")).toBeGreaterThanOrEqual(85);
    expect(share(summary, "m1")).toBeLessThanOrEqual(95);
  });

  it("two chains with different predict routes: every request is answered by the model on the route served", async () => {
    const name = "routes";
    await deployTwoRoots(name, { m1: 70, x1: 30 }, { predictRoute: "/v2/predict" });
    const degraded = await endpoints.waitForCondition(name, "Degraded", "True");
    expect(degraded.reason).toBe("RouteConflict");
    await waitAnsweredOnlyBy(name, ["m1"]);
    const summary = await measure(name, 1000);
    expect(summary.byModel).toEqual({ m1: summary.ok });
  });
});
