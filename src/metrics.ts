/**
 * The operator's Prometheus metrics (prom-client), on an injected registry so tests and several
 * operators in one process never share counters.
 *
 * Per-endpoint series (replicas, traffic) are removed when an endpoint or a deployed model goes
 * away, so a fleet that churns endpoints does not grow the registry forever.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

const PREFIX = "modelendpoint_";

export interface DeployedModelGauge {
  readonly id: string;
  readonly state: string;
  readonly replicas: number;
  readonly readyReplicas: number;
  readonly availableReplicas: number;
  readonly trafficPercent: number;
}

export class Metrics {
  readonly registry: Registry;
  readonly rolloutsStarted: Counter<"namespace" | "endpoint">;
  readonly rolloutsCompleted: Counter<"namespace" | "endpoint">;
  readonly rolloutsFailed: Counter<"namespace" | "endpoint" | "reason">;
  readonly rolloutDuration: Histogram<"outcome">;
  readonly replicas: Gauge<"namespace" | "endpoint" | "deployed_model" | "state">;
  readonly readyReplicas: Gauge<"namespace" | "endpoint" | "deployed_model">;
  readonly availableReplicas: Gauge<"namespace" | "endpoint" | "deployed_model">;
  readonly trafficPercent: Gauge<"namespace" | "endpoint" | "deployed_model">;
  readonly reconcileDuration: Histogram<"result">;
  readonly decideDuration: Histogram;
  readonly reconcileErrors: Counter<"reason">;
  readonly queueDepth: Gauge;
  readonly watchRestarts: Counter<"resource" | "reason">;
  readonly lists: Counter<"resource" | "reason">;
  readonly statusWrites: Counter;
  readonly apiWrites: Counter<"verb" | "resource">;
  readonly isLeader: Gauge;
  /** The series set per endpoint key, to remove them when they go away. */
  readonly #series = new Map<string, Map<string, string>>();

  constructor(options: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    const registers = [registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: PREFIX });
    this.rolloutsStarted = new Counter({
      name: `${PREFIX}rollouts_started_total`,
      help: "Rolling deployments started (a deployed model with rolloutOptions first seen).",
      labelNames: ["namespace", "endpoint"],
      registers,
    });
    this.rolloutsCompleted = new Counter({
      name: `${PREFIX}rollouts_completed_total`,
      help: "Rolling deployments that completed (the new model DEPLOYED, the previous REPLACED).",
      labelNames: ["namespace", "endpoint"],
      registers,
    });
    this.rolloutsFailed = new Counter({
      name: `${PREFIX}rollouts_failed_total`,
      help: "Deployments that failed (progress deadline, refused at reconcile, pods not creatable) and were reverted.",
      labelNames: ["namespace", "endpoint", "reason"],
      registers,
    });
    this.rolloutDuration = new Histogram({
      name: `${PREFIX}rollout_duration_seconds`,
      help: "Time from a rolling deployment's first sight to its completion or failure.",
      labelNames: ["outcome"],
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600],
      registers,
    });
    this.replicas = new Gauge({
      name: `${PREFIX}replicas`,
      help: "Replicas (pods) of each deployed model, by state.",
      labelNames: ["namespace", "endpoint", "deployed_model", "state"],
      registers,
    });
    this.readyReplicas = new Gauge({
      name: `${PREFIX}ready_replicas`,
      help: "Ready replicas of each deployed model.",
      labelNames: ["namespace", "endpoint", "deployed_model"],
      registers,
    });
    this.availableReplicas = new Gauge({
      name: `${PREFIX}available_replicas`,
      help: "Available replicas of each deployed model.",
      labelNames: ["namespace", "endpoint", "deployed_model"],
      registers,
    });
    this.trafficPercent = new Gauge({
      name: `${PREFIX}traffic_percent`,
      help: "Effective share of the endpoint's traffic each deployed model receives now (status.trafficSplit).",
      labelNames: ["namespace", "endpoint", "deployed_model"],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: `${PREFIX}reconcile_duration_seconds`,
      help: "Time one reconcile of one ModelEndpoint takes, from snapshot to status write.",
      labelNames: ["result"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.decideDuration = new Histogram({
      name: `${PREFIX}reconcile_decide_duration_seconds`,
      help: "The part of a reconcile spent in the operator alone, before any API call: reading the caches, validating the spec and planning.",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: `${PREFIX}reconcile_errors_total`,
      help: "Reconciles that ended in an error, by error class.",
      labelNames: ["reason"],
      registers,
    });
    this.queueDepth = new Gauge({
      name: `${PREFIX}workqueue_depth`,
      help: "ModelEndpoint keys waiting in the work queue.",
      registers,
    });
    this.watchRestarts = new Counter({
      name: `${PREFIX}watch_restarts_total`,
      help: "Watches restarted, by resource and reason (closed, error, stalled, expired, relist).",
      labelNames: ["resource", "reason"],
      registers,
    });
    this.lists = new Counter({
      name: `${PREFIX}lists_total`,
      help: "Full lists of a watched resource, by resource and reason (initial, expired, retry; requested: a new leader lists its ReplicaSets again).",
      labelNames: ["resource", "reason"],
      registers,
    });
    this.statusWrites = new Counter({
      name: `${PREFIX}status_writes_total`,
      help: "ModelEndpoint status writes (written only when the status changed).",
      registers,
    });
    this.apiWrites = new Counter({
      name: `${PREFIX}api_writes_total`,
      help: "Writes the operator sent to the API server, by verb and resource.",
      labelNames: ["verb", "resource"],
      registers,
    });
    this.isLeader = new Gauge({
      name: `${PREFIX}leader`,
      help: "1 while this replica holds the leader lease (or runs without leader election).",
      registers,
    });
  }

  /** Sets the per-model gauges of one endpoint and removes the series of models no longer listed. */
  observeEndpoint(namespace: string, endpoint: string, models: readonly DeployedModelGauge[]): void {
    const key = `${namespace}/${endpoint}`;
    const previous = this.#series.get(key) ?? new Map<string, string>();
    const next = new Map<string, string>();
    for (const m of models) {
      const labels = { namespace, endpoint, deployed_model: m.id };
      const oldState = previous.get(m.id);
      if (oldState !== undefined && oldState !== m.state)
        this.replicas.remove({ ...labels, state: oldState });
      this.replicas.set({ ...labels, state: m.state }, m.replicas);
      this.readyReplicas.set(labels, m.readyReplicas);
      this.availableReplicas.set(labels, m.availableReplicas);
      this.trafficPercent.set(labels, m.trafficPercent);
      next.set(m.id, m.state);
    }
    for (const [id, state] of previous) {
      if (!next.has(id)) this.#removeModel(namespace, endpoint, id, state);
    }
    if (next.size === 0) this.#series.delete(key);
    else this.#series.set(key, next);
  }

  /** Removes every series of an endpoint (it was deleted). */
  forgetEndpoint(namespace: string, endpoint: string): void {
    this.observeEndpoint(namespace, endpoint, []);
  }

  #removeModel(namespace: string, endpoint: string, id: string, state: string): void {
    const labels = { namespace, endpoint, deployed_model: id };
    this.replicas.remove({ ...labels, state });
    this.readyReplicas.remove(labels);
    this.availableReplicas.remove(labels);
    this.trafficPercent.remove(labels);
  }
}
