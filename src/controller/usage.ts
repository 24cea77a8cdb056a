/**
 * The model pods' metric readings for the autoscaler, polled from the cluster's metrics APIs the
 * way the HorizontalPodAutoscaler reads them:
 *
 * - CPU from the resource metrics API (`metrics.k8s.io/v1beta1` PodMetrics, served by
 *   metrics-server), one list per poll over the pods the operator owns;
 * - accelerator duty cycle, when a metric name is configured, from the custom metrics API
 *   (`custom.metrics.k8s.io/v1beta1`, served by an adapter such as prometheus-adapter over NVIDIA's
 *   DCGM exporter), per namespace of an autoscaled endpoint.
 *
 * A poll happens only while some endpoint is autoscaled, every `intervalMs` (the HPA's 15 s sync
 * period by default). After each, the autoscaled endpoints whose pods were read are queued, so the
 * reconciler decides from the new readings; between polls the readings are served from memory.
 * A metrics API that is not served, or fails, leaves no reading and a problem the status says.
 */
import { quantityValue } from "../api/spec.ts";
import { isAutoscaled } from "../rollout/autoscale.ts";
import { sleep, type Clock } from "../kube/clock.ts";
import { KubeError, NotFoundError } from "../kube/errors.ts";
import type { Logger } from "../kube/logger.ts";
import type { ResourceType } from "../kube/client.ts";
import type { DeepReadonly, KubeObject } from "../kube/objects.ts";
import { totalCpuMillis, type PodUsage } from "./snapshot.ts";

/** PodMetrics of the resource metrics API (metrics-server). */
export const PODMETRICS: ResourceType<PodMetrics> = {
  group: "metrics.k8s.io",
  version: "v1beta1",
  plural: "pods",
  kind: "PodMetrics",
  namespaced: true,
};

/**
 * A per-pod metric of the custom metrics API: `namespaces/<ns>/pods/*\/<metric>` lists the metric
 * of every pod of the namespace the selector matches.
 */
export function customPodMetric(metric: string): ResourceType<MetricValue & KubeObject> {
  return {
    group: "custom.metrics.k8s.io",
    version: "v1beta1",
    plural: `pods/*/${encodeURIComponent(metric)}`,
    kind: "MetricValueList",
    namespaced: true,
  };
}

/**
 * An endpoint some chain of which scales between minReplicaCount and maxReplicaCount (the engine's
 * rule): a spec entry's compute, or the compute a status record keeps for a chain whose root left spec.
 */
export function isAutoscaledEndpoint(endpoint: DeepReadonly<KubeObject> | undefined): boolean {
  type Entry = { dedicatedResources?: { minReplicaCount?: number; maxReplicaCount?: number } };
  const o = endpoint as
    { spec?: { deployedModels?: Entry[] }; status?: { deployedModels?: Entry[] } } | undefined;
  return [...(o?.spec?.deployedModels ?? []), ...(o?.status?.deployedModels ?? [])].some((d) =>
    isAutoscaled(d.dedicatedResources),
  );
}

/** A PodMetrics object (metrics.k8s.io/v1beta1), as far as it is read. */
export interface PodMetrics extends KubeObject {
  /** When the reading was taken. */
  readonly timestamp?: string;
  /** The interval the rate was measured over, "10.123s". */
  readonly window?: string;
  readonly containers?: readonly {
    readonly name?: string;
    readonly usage?: Readonly<Record<string, string>>;
  }[];
}

/** A MetricValue of the custom metrics API (custom.metrics.k8s.io/v1beta1), as far as it is read. */
export interface MetricValue {
  readonly describedObject?: { readonly kind?: string; readonly name?: string; readonly namespace?: string };
  readonly value?: string;
}

export interface UsageSourceOptions {
  /** Lists PodMetrics of the operator's pods in a namespace (undefined: every namespace). */
  readonly listPodMetrics: (namespace: string | undefined) => Promise<readonly PodMetrics[]>;
  /** Lists the duty-cycle metric of every pod of a namespace; absent: duty cycle is not read. */
  readonly listDutyCycle?: ((namespace: string) => Promise<readonly MetricValue[]>) | undefined;
  /** The namespaces the operator watches (empty: all). */
  readonly namespaces: readonly string[];
  /** The autoscaled endpoints now, as "namespace/name" keys. */
  readonly autoscaled: () => Iterable<string>;
  /** Queues an endpoint for a pass. */
  readonly enqueue: (key: string) => void;
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

export class PodUsageSource {
  readonly #o: UsageSourceOptions;
  #readings = new Map<string, PodUsage>();
  #problem: string | undefined;

  constructor(options: UsageSourceOptions) {
    this.#o = options;
  }

  /** A pod's readings from the last poll. */
  lookup(namespace: string, pod: string): PodUsage | undefined {
    return this.#readings.get(`${namespace}/${pod}`);
  }

  /** Why the last poll has no reading of some metric (an API not served, an error), if so. */
  problem(): string | undefined {
    return this.#problem;
  }

  /** Polls until `signal` aborts; one poll at a time. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.poll();
      if (!(await sleep(this.#o.clock, this.#o.intervalMs, signal))) return;
    }
  }

  /** One poll: reads the metrics of the autoscaled endpoints' namespaces and queues those endpoints. */
  async poll(): Promise<void> {
    const keys = [...this.#o.autoscaled()];
    if (keys.length === 0) {
      this.#readings = new Map();
      return;
    }
    const namespaces = [...new Set(keys.map((k) => k.split("/")[0] ?? ""))];
    const scopes: (string | undefined)[] =
      this.#o.namespaces.length === 0 ? [undefined] : [...this.#o.namespaces];
    const readings = new Map<string, { cpuMillis?: number; dutyCyclePercent?: number }>();
    const problems: string[] = [];
    for (const scope of scopes) {
      try {
        for (const m of await this.#o.listPodMetrics(scope)) {
          const cpu = podCpuMillis(m);
          if (cpu === undefined) continue;
          readings.set(`${m.metadata?.namespace ?? ""}/${m.metadata?.name ?? ""}`, { cpuMillis: cpu });
        }
      } catch (err) {
        problems.push(describe("metrics.k8s.io", "metrics-server", err));
      }
    }
    const listDutyCycle = this.#o.listDutyCycle;
    if (listDutyCycle !== undefined) {
      for (const namespace of namespaces) {
        try {
          for (const v of await listDutyCycle(namespace)) {
            const name = v.describedObject?.name;
            const value = v.value === undefined ? Number.NaN : quantityValue(v.value);
            if (name === undefined || !Number.isFinite(value)) continue;
            const key = `${namespace}/${name}`;
            readings.set(key, { ...readings.get(key), dutyCyclePercent: value });
          }
        } catch (err) {
          problems.push(describe("custom.metrics.k8s.io", "a custom metrics adapter", err));
          break;
        }
      }
    }
    const problem = problems.length === 0 ? undefined : [...new Set(problems)].join("; ");
    if (problem !== this.#problem) {
      if (problem === undefined) this.#o.logger.info({}, "the metrics APIs answer again");
      else this.#o.logger.warn({ problem }, "autoscaled endpoints have no metric readings");
    }
    this.#problem = problem;
    this.#readings = readings;
    for (const key of keys) this.#o.enqueue(key);
  }
}

/** The CPU a PodMetrics reports over its containers, in millicores. */
export function podCpuMillis(metrics: PodMetrics): number | undefined {
  return totalCpuMillis((metrics.containers ?? []).map((c) => c.usage?.["cpu"]));
}

function describe(api: string, server: string, err: unknown): string {
  if (err instanceof NotFoundError || (err instanceof KubeError && err.code === 503)) {
    return `the cluster does not serve ${api} (install ${server})`;
  }
  return `${api} failed: ${err instanceof Error ? err.message : String(err)}`;
}
