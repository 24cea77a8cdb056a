import { describe, expect, it } from "vitest";

import { NotFoundError } from "../kube/errors.ts";
import { FakeClock } from "../kube/fake-clock.ts";
import type { Logger } from "../kube/logger.ts";
import type { Pod } from "../kube/objects.ts";
import { slimPod } from "./cache.ts";
import { cpuRequestMillis } from "./snapshot.ts";
import {
  customPodMetric,
  isAutoscaledEndpoint,
  podCpuMillis,
  PodUsageSource,
  type PodMetrics,
} from "./usage.ts";

const metrics = (namespace: string, name: string, ...cpu: string[]): PodMetrics => ({
  metadata: { namespace, name },
  containers: cpu.map((c, i) => ({ name: `c${String(i)}`, usage: { cpu: c, memory: "10Mi" } })),
});

function recordingLogger(): Logger & { warnings: unknown[] } {
  const warnings: unknown[] = [];
  const ignore = (): void => undefined;
  return {
    debug: ignore,
    info: ignore,
    warn: (fields) => {
      warnings.push(fields);
    },
    error: ignore,
    warnings,
  };
}

function source(over: Partial<ConstructorParameters<typeof PodUsageSource>[0]> = {}) {
  const queued: string[] = [];
  const logger = recordingLogger();
  const usage = new PodUsageSource({
    listPodMetrics: () =>
      Promise.resolve([metrics("ml", "ep-m1-a", "250m", "250m"), metrics("ml", "ep-m1-b", "1")]),
    namespaces: [],
    autoscaled: () => ["ml/ep"],
    enqueue: (key) => queued.push(key),
    intervalMs: 15_000,
    clock: new FakeClock(),
    logger,
    ...over,
  });
  return { usage, queued, logger };
}

describe("PodUsageSource", () => {
  it("reads each pod's CPU over its containers and queues the autoscaled endpoints", async () => {
    const { usage, queued } = source();
    await usage.poll();
    expect(usage.lookup("ml", "ep-m1-a")).toEqual({ cpuMillis: 500 });
    expect(usage.lookup("ml", "ep-m1-b")).toEqual({ cpuMillis: 1000 });
    expect(usage.lookup("ml", "other")).toBeUndefined();
    expect(queued).toEqual(["ml/ep"]);
    expect(usage.problem()).toBeUndefined();
  });

  it("reads nothing and queues nothing while no endpoint is autoscaled", async () => {
    let listed = 0;
    const { usage, queued } = source({
      autoscaled: () => [],
      listPodMetrics: () => {
        listed++;
        return Promise.resolve([]);
      },
    });
    await usage.poll();
    expect([listed, queued.length]).toEqual([0, 0]);
  });

  it("lists once per watched namespace when the operator watches some", async () => {
    const scopes: (string | undefined)[] = [];
    const { usage } = source({
      namespaces: ["a", "b"],
      listPodMetrics: (ns) => {
        scopes.push(ns);
        return Promise.resolve([]);
      },
    });
    await usage.poll();
    expect(scopes).toEqual(["a", "b"]);
  });

  it("says the metrics API is not served, once in the log, and forgets old readings", async () => {
    let served = true;
    const { usage, queued, logger } = source({
      listPodMetrics: () =>
        served
          ? Promise.resolve([metrics("ml", "p", "100m")])
          : Promise.reject(new NotFoundError("the server could not find the requested resource")),
    });
    await usage.poll();
    served = false;
    await usage.poll();
    await usage.poll();
    expect(usage.lookup("ml", "p")).toBeUndefined();
    expect(usage.problem()).toBe("the cluster does not serve metrics.k8s.io (install metrics-server)");
    expect(logger.warnings).toHaveLength(1);
    // The endpoints are still queued, so their status says why they hold.
    expect(queued).toEqual(["ml/ep", "ml/ep", "ml/ep"]);
  });

  it("adds the duty cycle of the custom metrics API per autoscaled namespace", async () => {
    const namespaces: string[] = [];
    const { usage } = source({
      listDutyCycle: (ns) => {
        namespaces.push(ns);
        return Promise.resolve([
          { describedObject: { kind: "Pod", name: "ep-m1-a", namespace: ns }, value: "87" },
          { describedObject: { kind: "Pod", name: "ep-m1-c", namespace: ns }, value: "500m" },
          { describedObject: { kind: "Pod", name: "bad", namespace: ns }, value: "lots" },
        ]);
      },
      autoscaled: () => ["ml/ep", "ml/other"],
    });
    await usage.poll();
    expect(namespaces).toEqual(["ml"]);
    expect(usage.lookup("ml", "ep-m1-a")).toEqual({ cpuMillis: 500, dutyCyclePercent: 87 });
    expect(usage.lookup("ml", "ep-m1-c")).toEqual({ dutyCyclePercent: 0.5 });
    expect(usage.lookup("ml", "bad")).toBeUndefined();
  });

  it("polls every interval until stopped", async () => {
    const clock = new FakeClock();
    let listed = 0;
    const { usage } = source({
      clock,
      listPodMetrics: () => {
        listed++;
        return Promise.resolve([]);
      },
    });
    const stop = new AbortController();
    const running = usage.run(stop.signal);
    await clock.advance(15_000);
    await clock.advance(15_000);
    stop.abort();
    await running;
    expect(listed).toBe(3);
  });
});

describe("the autoscaler's inputs", () => {
  it("sums CPU quantities in millicores", () => {
    expect(podCpuMillis(metrics("ml", "p", "1500000n", "2m", "0.5"))).toBe(504);
    expect(podCpuMillis(metrics("ml", "p"))).toBeUndefined();
  });

  it("keeps the pods' CPU requests in the cache, and only them", () => {
    const pod: Pod = {
      metadata: { name: "p", namespace: "ml" },
      spec: {
        containers: [
          { name: "model", image: "x", resources: { requests: { cpu: "1500m", memory: "1Gi" } } },
          { name: "sidecar", image: "y" },
        ],
      },
    };
    const slim = slimPod(structuredClone(pod));
    expect(slim.spec).toEqual({ containers: [{ name: "model", resources: { requests: { cpu: "1500m" } } }] });
    expect(cpuRequestMillis(slim)).toBe(1500);
    expect(
      slimPod({ metadata: { name: "q" }, spec: { containers: [{ name: "c", image: "z" }] } }).spec,
    ).toBeUndefined();
  });

  it("knows an autoscaled endpoint by a spec entry's or a status record's replica bounds", () => {
    const entry = (min: number, max?: number) => ({
      dedicatedResources: { minReplicaCount: min, maxReplicaCount: max },
    });
    expect(isAutoscaledEndpoint({ spec: { deployedModels: [entry(2, 2)] } } as never)).toBe(false);
    expect(isAutoscaledEndpoint({ spec: { deployedModels: [entry(2)] } } as never)).toBe(false);
    expect(isAutoscaledEndpoint({ spec: { deployedModels: [{}, entry(2, 6)] } } as never)).toBe(true);
    expect(
      isAutoscaledEndpoint({
        spec: { deployedModels: [{}] },
        status: { deployedModels: [entry(1, 3)] },
      } as never),
    ).toBe(true);
    expect(isAutoscaledEndpoint(undefined)).toBe(false);
  });

  it("lists a custom per-pod metric under pods/*/<metric>", () => {
    expect(customPodMetric("DCGM_FI_DEV_GPU_UTIL")).toMatchObject({
      group: "custom.metrics.k8s.io",
      version: "v1beta1",
      plural: "pods/*/DCGM_FI_DEV_GPU_UTIL",
    });
  });
});
