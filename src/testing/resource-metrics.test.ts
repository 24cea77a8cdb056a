/**
 * The pure parts of resource-metrics.ts: quantities, the kwok documents, the aggregation objects
 * and the requests the helpers send. The whole chain (kwok -> metrics-server -> API server) runs in
 * test/integration/metrics.test.ts.
 */
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

import { KubeClient } from "../kube/index.ts";
import type { HttpRequest, StreamRequest, Transport } from "../kube/transport.ts";
import {
  cpuUsageAnnotation,
  DEFAULT_CPU_USAGE,
  kwokResourceUsageConfig,
  METRICS_RESOLUTION_SECONDS,
  metricsApiObjects,
  metricsServerArgs,
  parseCpuMillicores,
  podCpuMillicores,
  QuantityError,
  resourceMetricsPath,
  setPodCpuUsage,
  setPodsCpuUsage,
  USAGE_CPU_ANNOTATION,
  waitForPodMetrics,
} from "./resource-metrics.ts";

describe("parseCpuMillicores", () => {
  it.each([
    ["800m", 800],
    ["812345678n", 812],
    ["812500000n", 813],
    ["1500000u", 1500],
    ["1", 1000],
    ["1.5", 1500],
    ["0", 0],
    ["2k", 2_000_000],
  ])("%s is %i millicores", (quantity, millicores) => {
    expect(parseCpuMillicores(quantity)).toBe(millicores);
  });

  it.each(["", "m", "1Mi", "-1", "1e3", "abc", "1.5.2"])("refuses %j", (quantity) => {
    expect(() => parseCpuMillicores(quantity)).toThrow(QuantityError);
  });
});

describe("podCpuMillicores", () => {
  it("adds up the containers (a sidecar at the default usage adds 1 m)", () => {
    expect(
      podCpuMillicores({
        containers: [
          { name: "model", usage: { cpu: "799999999n", memory: "1Mi" } },
          { name: "sidecar", usage: { cpu: "1000000n" } },
        ],
      }),
    ).toBe(801);
  });

  it("is 0 without containers", () => {
    expect(podCpuMillicores({})).toBe(0);
  });
});

describe("cpuUsageAnnotation", () => {
  it("writes millicores", () => {
    expect(cpuUsageAnnotation(800)).toBe("800m");
    expect(cpuUsageAnnotation(0)).toBe("0m");
  });

  it.each([-1, 1.5, Number.NaN])("refuses %d", (millicores) => {
    expect(() => cpuUsageAnnotation(millicores)).toThrow(QuantityError);
  });
});

describe("kwokResourceUsageConfig", () => {
  const docs = parseAllDocuments(kwokResourceUsageConfig()).map((d) => d.toJS() as Record<string, unknown>);

  it("is a ClusterResourceUsage reading the annotation with the default, and a Metric at the node path", () => {
    expect(docs.map((d) => d["kind"])).toEqual(["ClusterResourceUsage", "Metric"]);
    const usage = JSON.stringify(docs[0]);
    expect(usage).toContain(`pod.metadata.annotations[\\"${USAGE_CPU_ANNOTATION}\\"]`);
    expect(usage).toContain(`Quantity(\\"${DEFAULT_CPU_USAGE}\\")`);
    expect((docs[1]?.["spec"] as { path: string }).path).toBe(resourceMetricsPath("{nodeName}"));
  });

  it("has the metrics metrics-server reads, labelled like kubelet's", () => {
    const metrics = (docs[1]?.["spec"] as { metrics: { name: string; labels?: { name: string }[] }[] })
      .metrics;
    const byName = new Map(metrics.map((m) => [m.name, (m.labels ?? []).map((l) => l.name)]));
    expect(byName.get("container_cpu_usage_seconds_total")).toEqual(["container", "namespace", "pod"]);
    expect(byName.get("container_memory_working_set_bytes")).toEqual(["container", "namespace", "pod"]);
    expect(byName.get("container_start_time_seconds")).toEqual(["container", "namespace", "pod"]);
    expect(byName.get("node_cpu_usage_seconds_total")).toEqual([]);
  });
});

describe("metricsApiObjects", () => {
  it("points the APIService at an ExternalName Service on 127.0.0.1 and metrics-server's port", () => {
    const [service, apiService] = metricsApiObjects({ port: 4443, caBundlePem: "PEM" }) as [
      { spec: { type: string; externalName: string } },
      { metadata: { name: string }; spec: { service: { port: number }; caBundle: string } },
    ];
    expect(service.spec).toEqual({ type: "ExternalName", externalName: "127.0.0.1" });
    expect(apiService.metadata.name).toBe("v1beta1.metrics.k8s.io");
    expect(apiService.spec.service.port).toBe(4443);
    expect(Buffer.from(apiService.spec.caBundle, "base64").toString()).toBe("PEM");
  });
});

describe("metricsServerArgs", () => {
  it("scrapes kwok's port at the smallest resolution, with a timeout below 90% of it", () => {
    const args = metricsServerArgs({
      port: 1,
      kubeletPort: 2,
      kubeconfig: "k",
      tlsCert: "c",
      tlsKey: "k",
      kubeletCa: "ca",
    });
    expect(args).toContain("--kubelet-port=2");
    expect(args).toContain(`--metric-resolution=${METRICS_RESOLUTION_SECONDS}s`);
    expect(METRICS_RESOLUTION_SECONDS).toBeGreaterThanOrEqual(10); // metrics-server refuses less
    const timeout = Number(
      /^--kubelet-request-timeout=(\d+)s$/.exec(
        args.find((a) => a.startsWith("--kubelet-request-timeout=")) ?? "",
      )?.[1],
    );
    expect(timeout).toBeLessThan(METRICS_RESOLUTION_SECONDS * 0.9);
  });
});

/** Records requests and answers them in order. */
class FakeTransport implements Transport {
  readonly requests: HttpRequest[] = [];
  readonly answers: unknown[];
  constructor(answers: unknown[] = []) {
    this.answers = answers;
  }

  request(req: HttpRequest): Promise<unknown> {
    this.requests.push(req);
    const answer = this.answers.shift();
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer ?? {});
  }

  stream(_req: StreamRequest): AsyncIterable<unknown> {
    throw new Error("no streams here");
  }
}

describe("setPodCpuUsage", () => {
  it("merge-patches the annotation, and removes it for null", async () => {
    const transport = new FakeTransport();
    const kube = new KubeClient(transport);
    await setPodCpuUsage(kube, "ns", "web-0", 800);
    await setPodCpuUsage(kube, "ns", "web-0", null);
    expect(transport.requests.map((r) => [r.method, r.path, r.contentType, r.body])).toEqual([
      [
        "PATCH",
        "/api/v1/namespaces/ns/pods/web-0",
        "application/merge-patch+json",
        { metadata: { annotations: { [USAGE_CPU_ANNOTATION]: "800m" } } },
      ],
      [
        "PATCH",
        "/api/v1/namespaces/ns/pods/web-0",
        "application/merge-patch+json",
        { metadata: { annotations: { [USAGE_CPU_ANNOTATION]: null } } },
      ],
    ]);
  });

  it("refuses a fraction of a millicore before sending anything", async () => {
    const transport = new FakeTransport();
    await expect(setPodCpuUsage(new KubeClient(transport), "ns", "web-0", 0.5)).rejects.toThrow(
      QuantityError,
    );
    expect(transport.requests).toEqual([]);
  });

  it("patches every pod a label selector selects", async () => {
    const transport = new FakeTransport([
      {
        metadata: { resourceVersion: "1" },
        items: [{ metadata: { name: "a" } }, { metadata: { name: "b" } }],
      },
    ]);
    const names = await setPodsCpuUsage(new KubeClient(transport), "ns", "app=web", 300);
    expect(names).toEqual(["a", "b"]);
    expect(transport.requests[0]?.query?.["labelSelector"]).toBe("app=web");
    expect(transport.requests.slice(1).map((r) => r.path)).toEqual([
      "/api/v1/namespaces/ns/pods/a",
      "/api/v1/namespaces/ns/pods/b",
    ]);
  });
});

describe("waitForPodMetrics", () => {
  const reading = (cpu: string): object => ({ timestamp: "t", containers: [{ name: "c", usage: { cpu } }] });

  it("reads PodMetrics of metrics.k8s.io until one is accepted, and returns it", async () => {
    const transport = new FakeTransport([reading("1000000n"), reading("800000000n")]);
    const metrics = await waitForPodMetrics(new KubeClient(transport), "ns", "web-0", (cpu) => cpu === 800);
    expect(podCpuMillicores(metrics)).toBe(800);
    expect(transport.requests.map((r) => r.path)).toEqual([
      "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/web-0",
      "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/web-0",
    ]);
  });

  it("says what it saw when it times out", async () => {
    const transport = new FakeTransport(Array.from({ length: 20 }, () => reading("1000000n")));
    await expect(
      waitForPodMetrics(new KubeClient(transport), "ns", "web-0", (cpu) => cpu === 800, { timeoutMs: 0 }),
    ).rejects.toThrow(/PodMetrics of ns\/web-0.*saw 1m CPU at t/);
  });
});
