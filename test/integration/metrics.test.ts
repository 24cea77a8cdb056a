/**
 * Resource metrics on the suite's control plane: metrics.k8s.io PodMetrics, served by
 * metrics-server through the API server's aggregation layer from the usage kwok simulates, follow
 * each pod's `kwok.x-k8s.io/usage-cpu` annotation (src/testing/resource-metrics.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";

import { KubeClient, type Pod } from "../../src/kube/index.ts";
import {
  DEFAULT_CPU_USAGE,
  METRICS_RESOLUTION_SECONDS,
  parseCpuMillicores,
  podCpuMillicores,
  POD_METRICS,
  setPodCpuUsage,
  setPodsCpuUsage,
  USAGE_CPU_ANNOTATION,
  waitForPodMetrics,
} from "../../src/testing/resource-metrics.ts";
import { createNamespace, kubeConfig } from "./context.ts";
import { kubectl } from "./endpoints.ts";

let ns = "";
const kube = KubeClient.fromKubeConfig(kubeConfig(), { timeoutMs: 10_000 });

/**
 * metrics-server computes CPU as the rate between two of kwok's cumulative readings, each stamped
 * with its own clock, so a reading of 800m may come out as 799m or 801m.
 */
const near =
  (millicores: number) =>
  (cpu: number): boolean =>
    Math.abs(cpu - millicores) <= Math.max(2, millicores * 0.01);

/** A new pod has metrics from metrics-server's third scrape on; a change shows at the next one. */
const WAIT = { timeoutMs: 6 * METRICS_RESOLUTION_SECONDS * 1000 };

/** A pod kwok simulates (not a model-server image, so no process runs it). */
function pod(
  name: string,
  meta: { annotations?: Record<string, string>; labels?: Record<string, string> } = {},
): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, ...meta },
    spec: { containers: [{ name: "model", image: "registry.example/model:1.0" }] },
  };
}

beforeAll(async () => {
  ns = await createNamespace("metrics");
  await kube.pods.create(pod("busy", { annotations: { [USAGE_CPU_ANNOTATION]: "800m" } }));
  await kube.pods.create(pod("idle"));
  // Created with the others so that their first scrapes are behind them when their test starts.
  for (const name of ["web-0", "web-1"]) await kube.pods.create(pod(name, { labels: { app: "web" } }));
});

describe("PodMetrics from kwok's simulated usage", () => {
  it("report the CPU a pod's annotation says, and the default without one", async () => {
    const busy = await waitForPodMetrics(kube, ns, "busy", near(800), WAIT);
    expect(busy.containers?.map((c) => c.name)).toEqual(["model"]);
    const idle = await waitForPodMetrics(kube, ns, "idle", () => true, WAIT);
    expect(podCpuMillicores(idle)).toBe(parseCpuMillicores(DEFAULT_CPU_USAGE));
    // kubectl reads the same through the aggregation layer.
    const raw = JSON.parse(
      await kubectl(["get", "--raw", `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods`]),
    ) as { items: { metadata: { name: string } }[] };
    expect(raw.items.map((i) => i.metadata.name)).toEqual(expect.arrayContaining(["busy", "idle"]));
  });

  it("follow a change of the annotation", async () => {
    await waitForPodMetrics(kube, ns, "busy", near(800), WAIT);
    await setPodCpuUsage(kube, ns, "busy", 200);
    await waitForPodMetrics(kube, ns, "busy", near(200), WAIT);
    await setPodCpuUsage(kube, ns, "busy", null);
    await waitForPodMetrics(kube, ns, "busy", near(parseCpuMillicores(DEFAULT_CPU_USAGE)), WAIT);
  });

  it("follow a label selector's pods", async () => {
    const names = await setPodsCpuUsage(kube, ns, "app=web", 450);
    expect(names.sort()).toEqual(["web-0", "web-1"]);
    for (const name of names) await waitForPodMetrics(kube, ns, name, near(450), WAIT);
    // The pods it did not select keep their own usage.
    const idle = await kube.resource(POD_METRICS).get(ns, "idle");
    expect(podCpuMillicores(idle)).toBe(parseCpuMillicores(DEFAULT_CPU_USAGE));
  });
});
