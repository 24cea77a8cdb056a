/**
 * Autoscaling end to end (docs/autoscaling.md): a model with minReplicaCount 2 and
 * maxReplicaCount 6 scales with the CPU its pods use, as metrics-server reads it from kwok's
 * simulated usage (the `kwok.x-k8s.io/usage-cpu` annotation), and back down after the stabilisation
 * window; a scale during a rolling deployment keeps the budgets of the N in force, which the
 * independent watcher checks.
 *
 * The operator decides every 5 s with a 30 s scale-down window here (flags), and metrics-server
 * scrapes every 10 s, so each step takes tens of seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { KubeClient } from "../../src/kube/index.ts";
import { setPodsCpuUsage } from "../../src/testing/resource-metrics.ts";
import { InvariantWatcher } from "../../src/testing/watcher.ts";
import { eventually, kubeConfig } from "./context.ts";
import { applyEndpoint, rollingEntry, type Endpoints } from "./endpoints.ts";
import type { OperatorProcess } from "./operator-process.ts";
import {
  eventReasons,
  LABEL_ENDPOINT,
  LABEL_MODEL,
  PodGate,
  printFigures,
  waitServed,
  withEntries,
} from "./scenario.ts";
import { startSuite, stopSuite } from "./suite.ts";

const CPU = "aiplatform.googleapis.com/prediction/online/cpu/utilization";
const kc = kubeConfig();
const kube = KubeClient.fromKubeConfig(kc, { timeoutMs: 10_000 });
/** Metrics lag by up to two scrapes, decisions by a sync period: allow minutes, not seconds. */
const SLOW = { timeoutMs: 180_000 };

let ns = "";
let endpoints: Endpoints;
let operator: OperatorProcess;

beforeAll(async () => {
  ({ ns, endpoints, operator } = await startSuite(
    "autoscale",
    [],
    ["--autoscaling-sync-period-seconds=5", "--autoscaling-downscale-stabilization-seconds=30"],
  ));
});

afterAll(async () => {
  await stopSuite(operator);
});

/** m1 of `name`: min 2, max 6, each pod requesting half a CPU, scaled on CPU at 60%. */
function autoscaled(name: string): object {
  return {
    metadata: { name },
    spec: {
      trafficSplit: { m1: 100 },
      deployedModels: [
        {
          id: "m1",
          model: "fraud-detector@1",
          containerSpec: {
            imageUri: "registry.example/fraud:1.0",
            healthRoute: "/health",
            predictRoute: "/predict",
            resources: { requests: { cpu: "500m", memory: "256Mi" } },
          },
          dedicatedResources: {
            minReplicaCount: 2,
            maxReplicaCount: 6,
            autoscalingMetricSpecs: [{ metricName: CPU, target: 60 }],
          },
        },
      ],
    },
  };
}

interface Autoscaling {
  readonly currentReplicaCount?: number;
  readonly desiredReplicaCount?: number;
  readonly metrics?: readonly { metricName: string; target: number; currentValue?: number }[];
  readonly message?: string;
}

async function autoscalingOf(name: string): Promise<Autoscaling | undefined> {
  const model = (await endpoints.model(name, "m1")) as { autoscaling?: Autoscaling } | undefined;
  return model?.autoscaling;
}

/** Awaits the chain's N (status) at `n`, with `n` Ready pods of `model` serving. */
async function waitScaled(name: string, n: number, model = "m1"): Promise<void> {
  await eventually(
    `${name} autoscaled to ${String(n)}`,
    async () => (await autoscalingOf(name))?.desiredReplicaCount === n,
    { ...SLOW, describe: async () => JSON.stringify(await autoscalingOf(name)) },
  );
  await waitServed(kc, ns, name, JSON.stringify({ [model]: n }));
}

/** Every pod of `name`'s `model` uses `millicores` of CPU from kwok's next scrape on. */
async function load(name: string, model: string, millicores: number | null): Promise<string[]> {
  return setPodsCpuUsage(kube, ns, `${LABEL_ENDPOINT}=${name},${LABEL_MODEL}=${model}`, millicores);
}

describe("autoscaling between minReplicaCount and maxReplicaCount", () => {
  it("scales 2 -> 4 when the pods run at 1.75 x the target, and back to 2 after the window", async () => {
    const name = "cpu";
    await applyEndpoint(ns, autoscaled(name));
    await endpoints.waitForState(name, "m1", "DEPLOYED");
    // Idle pods (kwok's default 1m of 500m): a reading of 0%, N stays at min.
    await eventually(
      "a CPU reading in status",
      async () => (await autoscalingOf(name))?.metrics?.[0]?.currentValue !== undefined,
      { ...SLOW, describe: async () => JSON.stringify(await autoscalingOf(name)) },
    );
    expect(await autoscalingOf(name)).toMatchObject({
      desiredReplicaCount: 2,
      metrics: [{ metricName: CPU, target: 60, currentValue: 0 }],
    });

    // 525m of 500m each: 105% against 60% -> ceil(2 x 1.75) = 4 replicas. The new pods idle, so the
    // average is then (2 x 525 + 2 x 1) / (4 x 500) = 53%: ceil(4 x 0.88) = 4, N stays at 4. The
    // load sits mid-way between the steps, not on one: metrics-server's rate over kwok's counter is
    // a little off the annotation, and 600m (exactly 2 x the target) gave 5 replicas in one run.
    expect(await load(name, "m1", 525)).toHaveLength(2);
    await waitScaled(name, 4);
    expect(await eventReasons(ns, name)).toContain("Autoscaled");

    // Idle again: proposals of 2, held for the 30 s window, then 2.
    await load(name, "m1", null);
    await waitScaled(name, 2);
    const after = await autoscalingOf(name);
    expect(after?.metrics?.[0]?.currentValue).toBeLessThan(10);
    expect((await endpoints.model(name, "m1"))?.state).toBe("DEPLOYED");
  });

  it("grows N during a rolling deployment within the budgets of the N in force", async () => {
    const name = "roll";
    const manifest = autoscaled(name);
    await applyEndpoint(ns, manifest);
    await endpoints.waitForState(name, "m1", "DEPLOYED");
    await waitServed(kc, ns, name, JSON.stringify({ m1: 2 }));
    const watcher = await InvariantWatcher.start(kc, ns);
    // N may grow to 4 meanwhile: the ceiling is 4 + 1, the floor 2 - 0.
    watcher.watchChain({
      endpoint: name,
      models: ["m1", "m2"],
      n: 2,
      maxN: 4,
      maxSurge: 1,
      maxUnavailable: 0,
    });

    // The rollout pauses with one m2 pod held unready; then m1's pods get busy.
    const gate = await PodGate.start(kc, ns, name, "m2");
    // The new revision requests CPU too: utilization is unknown while any pod of the chain has none.
    const rollout = {
      ...rollingEntry("m2", "m1", "registry.example/fraud:2.0", {
        maxSurgeReplicas: 1,
        maxUnavailableReplicas: 0,
      }),
      containerSpec: {
        imageUri: "registry.example/fraud:2.0",
        healthRoute: "/health",
        predictRoute: "/predict",
        resources: { requests: { cpu: "500m", memory: "256Mi" } },
      },
    };
    await applyEndpoint(ns, withEntries(manifest, rollout));
    await eventually("one m2 pod held", () => Promise.resolve(gate.held.length === 1));
    // 525m of 500m on the two m1 pods; the held m2 pod counts as idle (unready) on a scale-up:
    // 2 x 525 / (3 x 500) = 70% -> ceil(3 x 1.17) = 4 (mid-way between the steps, as above), then
    // 2 x 525 / (5 x 500) = 42%, below the target on a scale-up: no change.
    await load(name, "m1", 525);
    await eventually(
      `${name} N 4 while m2 is BEING_DEPLOYED`,
      async () => (await autoscalingOf(name))?.desiredReplicaCount === 4,
      { ...SLOW, describe: async () => JSON.stringify(await autoscalingOf(name)) },
    );
    expect((await endpoints.model(name, "m2"))?.state).toBe("BEING_DEPLOYED");

    // Let the rollout finish (onto N 4, or lower again once m1's busy pods are gone and the
    // window passed: either way within the budgets the watcher checks).
    await gate.open();
    await endpoints.waitForState(name, "m2", "DEPLOYED");
    expect((await endpoints.model(name, "m1"))?.state).toBe("REPLACED");

    const report = printFigures("autoscale-rollout", await watcher.stop());
    expect(report.violations).toEqual([]);
    expect(report.chains[0]?.maxPods).toBeLessThanOrEqual(5);
    expect(report.chains[0]?.minAvailable).toBeGreaterThanOrEqual(2);
    await gate.stop();
  });

  it("holds N and says why when a chain's pods request no CPU", async () => {
    const name = "norequest";
    const manifest = autoscaled(name) as {
      spec: { deployedModels: { containerSpec: Record<string, unknown> }[] };
    };
    const entry = manifest.spec.deployedModels[0];
    if (entry !== undefined) delete entry.containerSpec["resources"];
    await applyEndpoint(ns, manifest);
    await endpoints.waitForState(name, "m1", "DEPLOYED");
    await eventually(
      "the reason in status",
      async () => (await autoscalingOf(name))?.message?.includes("request no CPU") === true,
      { ...SLOW, describe: async () => JSON.stringify(await autoscalingOf(name)) },
    );
    expect((await autoscalingOf(name))?.desiredReplicaCount).toBe(2);
  });
});
