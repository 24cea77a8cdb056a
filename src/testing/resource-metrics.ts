/**
 * Resource metrics on the local control plane: `metrics.k8s.io/v1beta1` (PodMetrics, NodeMetrics)
 * served by a real metrics-server from the resource usage kwok simulates.
 *
 * How a reading comes about:
 *
 * 1. kwok, the kubelet of the fake nodes, evaluates the ClusterResourceUsage below for every
 *    container of every pod it manages: the CPU in the pod's annotation `kwok.x-k8s.io/usage-cpu`
 *    (a quantity such as "800m"; every container of the pod uses that much), else
 *    DEFAULT_CPU_USAGE; the same for memory with `kwok.x-k8s.io/usage-memory`.
 * 2. kwok serves that as kubelet's resource metrics (cumulative CPU seconds, working-set bytes) at
 *    /metrics/nodes/<node>/metrics/resource on its HTTPS port (the `Metric` below).
 * 3. metrics-server scrapes each node every METRICS_RESOLUTION_SECONDS, at the path the node's
 *    annotation `metrics.k8s.io/resource-metrics-path` names, and turns two cumulative readings
 *    into a rate: a pod has metrics from its third scrape on (kwok's first reading of a new pod is
 *    0 CPU seconds, which metrics-server drops), 20-30 s after it started, and a changed annotation shows in
 *    the first scrape after the change (kwok integrates the usage it reads at scrape time over the
 *    whole interval).
 * 4. The API server's aggregation layer proxies /apis/metrics.k8s.io/v1beta1 to metrics-server
 *    (the APIService and Service from `metricsApiObjects`).
 *
 * Tests drive load by annotation and await the reading:
 *
 *     await setPodCpuUsage(kube, ns, "web-0", 800);
 *     await waitForPodMetrics(kube, ns, "web-0", (cpu) => cpu === 800);
 */
import { podCpuMillis, PODMETRICS as POD_METRICS, type PodMetrics } from "../controller/usage.ts";
import { type KubeClient } from "../kube/index.ts";
import { waitFor } from "./harness.ts";

/** The pod annotation kwok reads the CPU usage of each of the pod's containers from ("800m"). */
export const USAGE_CPU_ANNOTATION = "kwok.x-k8s.io/usage-cpu";
/** The pod annotation kwok reads the memory usage of each container from ("256Mi"). */
export const USAGE_MEMORY_ANNOTATION = "kwok.x-k8s.io/usage-memory";
/** The CPU a container uses when its pod has no usage annotation. */
export const DEFAULT_CPU_USAGE = "1m";
/** The memory a container uses when its pod has no usage annotation. */
export const DEFAULT_MEMORY_USAGE = "1Mi";
/** How often metrics-server scrapes kwok: the smallest `--metric-resolution` it accepts. */
export const METRICS_RESOLUTION_SECONDS = 10;
/** The node annotation metrics-server (>= 0.7) reads the resource-metrics path from. */
export const RESOURCE_METRICS_PATH_ANNOTATION = "metrics.k8s.io/resource-metrics-path";

/** Where kwok serves the resource metrics of `nodeName`. */
export function resourceMetricsPath(nodeName: string): string {
  return `/metrics/nodes/${nodeName}/metrics/resource`;
}

/** A CEL expression: the pod annotation's quantity, else the default. */
function usageFrom(annotation: string, fallback: string): string {
  return `'"${annotation}" in pod.metadata.annotations ? Quantity(pod.metadata.annotations["${annotation}"]) : Quantity("${fallback}")'`;
}

/** A metric of kubelet's /metrics/resource, labelled the way kubelet labels it. */
function metric(name: string, dimension: string, kind: string, value: string, help: string): string {
  const labels =
    dimension === "node"
      ? ""
      : `
    labels:${
      dimension === "container"
        ? `
    - name: container
      value: 'container.name'`
        : ""
    }
    - name: namespace
      value: 'pod.metadata.namespace'
    - name: pod
      value: 'pod.metadata.name'`;
  return `
  - name: ${name}
    dimension: ${dimension}
    help: '${help}'
    kind: ${kind}${labels}
    value: '${value}'`;
}

/**
 * The kwok configuration documents (appended to its Stages) that make it serve kubelet-style
 * resource metrics: the usage of every pod (ClusterResourceUsage, from the annotations) and the
 * metrics computed from it (Metric), at `resourceMetricsPath("{nodeName}")`.
 */
export function kwokResourceUsageConfig(): string {
  return `apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterResourceUsage
metadata:
  name: usage-from-annotation
spec:
  usages:
  - usage:
      cpu:
        expression: ${usageFrom(USAGE_CPU_ANNOTATION, DEFAULT_CPU_USAGE)}
      memory:
        expression: ${usageFrom(USAGE_MEMORY_ANNOTATION, DEFAULT_MEMORY_USAGE)}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Metric
metadata:
  name: metrics-resource
spec:
  path: '${resourceMetricsPath("{nodeName}")}'
  metrics:${[
    metric(
      "scrape_error",
      "node",
      "gauge",
      "0",
      "1 if there was an error while getting metrics from the node",
    ),
    metric(
      "container_start_time_seconds",
      "container",
      "gauge",
      "pod.SinceSecond()",
      "Start time of the container since unix epoch in seconds",
    ),
    metric(
      "container_cpu_usage_seconds_total",
      "container",
      "counter",
      'pod.CumulativeUsage("cpu", container.name)',
      "Cumulative cpu time consumed by the container in core-seconds",
    ),
    metric(
      "container_memory_working_set_bytes",
      "container",
      "gauge",
      'pod.Usage("memory", container.name)',
      "Current working set of the container in bytes",
    ),
    metric(
      "pod_cpu_usage_seconds_total",
      "pod",
      "counter",
      'pod.CumulativeUsage("cpu")',
      "Cumulative cpu time consumed by the pod in core-seconds",
    ),
    metric(
      "pod_memory_working_set_bytes",
      "pod",
      "gauge",
      'pod.Usage("memory")',
      "Current working set of the pod in bytes",
    ),
    metric(
      "node_cpu_usage_seconds_total",
      "node",
      "counter",
      'node.CumulativeUsage("cpu")',
      "Cumulative cpu time consumed by the node in core-seconds",
    ),
    metric(
      "node_memory_working_set_bytes",
      "node",
      "gauge",
      'node.Usage("memory")',
      "Current working set of the node in bytes",
    ),
  ].join("")}
`;
}

/** The namespace and name of the Service the APIService points at. */
export const METRICS_SERVICE = { namespace: "kube-system", name: "metrics-server" } as const;

/**
 * The Service and APIService that register metrics-server, listening on 127.0.0.1:`port`, with
 * the API server's aggregation layer.
 *
 * Why an ExternalName Service: there is no kube-proxy, so a ClusterIP routes nowhere. The
 * aggregator resolves an ExternalName Service to `<externalName>:<APIService port>` and dials it
 * directly, so 127.0.0.1 and metrics-server's own port need neither an address added to `lo`
 * (root or CAP_NET_ADMIN, and a fixed service IP that two control planes on one machine would
 * share) nor --enable-aggregator-routing with an EndpointSlice (whose validation refuses loopback
 * addresses). The aggregator verifies metrics-server's certificate against `caBundlePem` for the
 * name metrics-server.kube-system.svc, which the certificate carries.
 */
export function metricsApiObjects(options: {
  readonly port: number;
  readonly caBundlePem: string;
}): object[] {
  return [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { ...METRICS_SERVICE, labels: { "k8s-app": "metrics-server" } },
      spec: { type: "ExternalName", externalName: "127.0.0.1" },
    },
    {
      apiVersion: "apiregistration.k8s.io/v1",
      kind: "APIService",
      metadata: { name: "v1beta1.metrics.k8s.io", labels: { "k8s-app": "metrics-server" } },
      spec: {
        group: "metrics.k8s.io",
        version: "v1beta1",
        groupPriorityMinimum: 100,
        versionPriority: 100,
        service: { ...METRICS_SERVICE, port: options.port },
        caBundle: Buffer.from(options.caBundlePem).toString("base64"),
      },
    },
  ];
}

/** The subjectAltNames metrics-server's serving certificate needs (the aggregator checks the .svc name). */
export const METRICS_SERVER_ALT_NAMES = [
  "IP:127.0.0.1",
  `DNS:${METRICS_SERVICE.name}.${METRICS_SERVICE.namespace}.svc`,
  "DNS:localhost",
] as const;

/** metrics-server's flags on the local control plane. */
export function metricsServerArgs(options: {
  /** metrics-server's HTTPS port on 127.0.0.1. */
  readonly port: number;
  /** kwok's HTTPS port (every node's "kubelet" port). */
  readonly kubeletPort: number;
  /** Admin kubeconfig: for reading nodes and pods, and for delegated authentication and authorization. */
  readonly kubeconfig: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  /** The CA that signed kwok's serving certificate. */
  readonly kubeletCa: string;
}): string[] {
  return [
    "--bind-address=127.0.0.1",
    `--secure-port=${options.port}`,
    `--tls-cert-file=${options.tlsCert}`,
    `--tls-private-key-file=${options.tlsKey}`,
    `--kubeconfig=${options.kubeconfig}`,
    `--authentication-kubeconfig=${options.kubeconfig}`,
    `--authorization-kubeconfig=${options.kubeconfig}`,
    // Every node's InternalIP is 127.0.0.1 (kwok --node-ip) and its kubelet is kwok's server.
    "--kubelet-preferred-address-types=InternalIP",
    `--kubelet-port=${options.kubeletPort}`,
    `--kubelet-certificate-authority=${options.kubeletCa}`,
    `--metric-resolution=${METRICS_RESOLUTION_SECONDS}s`,
    // It must stay below 90% of the resolution.
    "--kubelet-request-timeout=5s",
    "--v=0",
  ];
}

// PodMetrics and where they are listed: the operator's own definitions (its autoscaler reads them).
export { PODMETRICS as POD_METRICS, type PodMetrics } from "../controller/usage.ts";

export class QuantityError extends Error {
  override readonly name = "QuantityError";
}

const CPU_SUFFIX: Readonly<Record<string, number>> = { n: 1e-6, u: 1e-3, m: 1, "": 1000, k: 1e6 };

/**
 * A CPU quantity in millicores, rounded to the nearest one: "800m" -> 800, "812345678n" -> 812,
 * "1.5" -> 1500, "2" -> 2000. metrics-server reports CPU in nanocores ("812345678n").
 */
export function parseCpuMillicores(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(n|u|m|k|)$/.exec(quantity.trim());
  const [, number, suffix] = match ?? [];
  const scale = suffix === undefined ? undefined : CPU_SUFFIX[suffix];
  if (number === undefined || scale === undefined)
    throw new QuantityError(`not a CPU quantity: ${JSON.stringify(quantity)}`);
  return Math.round(Number(number) * scale);
}

/** The CPU of every container of a PodMetrics added up, in millicores. */
export function podCpuMillicores(metrics: PodMetrics): number {
  return podCpuMillis(metrics) ?? 0;
}

/** The annotation value for `millicores` ("800m"). */
export function cpuUsageAnnotation(millicores: number): string {
  if (!Number.isInteger(millicores) || millicores < 0)
    throw new QuantityError(
      `CPU usage must be a whole, non-negative number of millicores, got ${millicores}`,
    );
  return `${millicores}m`;
}

/**
 * Makes every container of a pod use `millicores` of CPU from now on (kwok's next scrape); `null`
 * goes back to DEFAULT_CPU_USAGE. Works for pods kwok simulates and for pods run as processes
 * alike: kwok reports the usage of every pod on its nodes.
 */
export async function setPodCpuUsage(
  kube: KubeClient,
  namespace: string,
  pod: string,
  millicores: number | null,
): Promise<void> {
  const value = millicores === null ? null : cpuUsageAnnotation(millicores);
  await kube.pods.mergePatch(namespace, pod, {
    metadata: { annotations: { [USAGE_CPU_ANNOTATION]: value } },
  });
}

/** setPodCpuUsage for every pod that `labelSelector` ("app=web") selects; returns their names. */
export async function setPodsCpuUsage(
  kube: KubeClient,
  namespace: string,
  labelSelector: string,
  millicores: number | null,
): Promise<string[]> {
  const { items } = await kube.pods.list(namespace, { labelSelector });
  const names = items.flatMap((p) => (p.metadata?.name === undefined ? [] : [p.metadata.name]));
  for (const name of names) await setPodCpuUsage(kube, namespace, name, millicores);
  return names;
}

/**
 * Awaits a PodMetrics of the pod whose CPU (all containers, millicores) satisfies `accept`, and
 * returns it. A pod has no metrics until metrics-server's third scrape after it started, so allow
 * at least 3 * METRICS_RESOLUTION_SECONDS after a pod starts (the default timeout is 60 s).
 */
export async function waitForPodMetrics(
  kube: KubeClient,
  namespace: string,
  pod: string,
  accept: (cpuMillicores: number, metrics: PodMetrics) => boolean,
  options: { readonly timeoutMs?: number } = {},
): Promise<PodMetrics> {
  const client = kube.resource(POD_METRICS);
  let found: PodMetrics | undefined;
  await waitFor(
    `PodMetrics of ${namespace}/${pod} to be accepted`,
    async () => {
      const metrics = await client.get(namespace, pod);
      const cpu = podCpuMillicores(metrics);
      if (accept(cpu, metrics)) found = metrics;
      // Not accepted: what was seen becomes the "last error" of a timeout.
      else throw new Error(`saw ${cpu}m CPU at ${metrics.timestamp ?? "?"}`);
      return true;
    },
    { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 500 },
  );
  if (found === undefined) throw new Error(`PodMetrics of ${namespace}/${pod}: awaited but not kept`);
  return found;
}
