/**
 * The running operator: informers for ModelEndpoints and the objects they own, a work queue keyed
 * by "namespace/name", workers that reconcile, leader election, and the metrics/health port.
 *
 * Informers run on every replica, leader or not, so a standby's caches are warm when it takes over.
 * Only the leader reconciles, and every write checks the lease first (GuardedWriter): the moment a
 * renew deadline passes, writing stops, even in the middle of a pass.
 */
import {
  ENDPOINTSLICES,
  HTTPROUTES,
  KubeClient,
  modelEndpoints,
  PODDISRUPTIONBUDGETS,
  type ResourceClient,
} from "../kube/client.ts";
import { realClock, type Clock } from "../kube/clock.ts";
import { EventRecorder } from "../kube/events.ts";
import { Informer, type InformerEvent } from "../kube/informer.ts";
import { LeaderElector } from "../kube/leaderelection.ts";
import { ignoreNotFound } from "../kube/errors.ts";
import type { Logger } from "../kube/logger.ts";
import type { KubeObject } from "../kube/objects.ts";
import { unionStore, type IndexFunc, type ReadonlyStore } from "../kube/store.ts";
import { runWorkers, WorkQueue } from "../kube/workqueue.ts";
import type { Metrics } from "../metrics.ts";
import type { AutoscalingPolicy } from "../rollout/autoscale.ts";
import { plan } from "../rollout/index.ts";
import { ENDPOINT_INDEX, indexByEndpoint, OWNED_LABEL_SELECTOR } from "./ownership.ts";
import { Reconciler } from "./reconciler.ts";
import { DEFAULT_LOCATION, type DataPlaneSettings } from "./dataplane.ts";
import { checkPermissions, describePermission, requiredPermissions } from "./permissions.ts";
import { customPodMetric, isAutoscaledEndpoint, PodUsageSource, PODMETRICS } from "./usage.ts";
import { ApiWriter, GuardedWriter } from "./writer.ts";
import { slimMeta, slimPod, slimReplicaSet } from "./cache.ts";
import type { ModelPodSettings } from "./objects.ts";

export interface OperatorOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Watch only these namespaces; empty = all. */
  readonly namespaces: readonly string[];
  readonly workers: number;
  readonly identity: string;
  /** Leader election on this Lease; undefined = this replica always leads (one replica only). */
  readonly leaderElection?: {
    readonly namespace: string;
    readonly name: string;
    readonly leaseDurationMs: number;
    readonly renewDeadlineMs: number;
    readonly retryPeriodMs: number;
  };
  readonly clock?: Clock;
  /** Gateway and location of the endpoints' HTTPRoutes (default: no default Gateway). */
  readonly dataPlane?: DataPlaneSettings;
  /** How model pods run (default: hardened, as the image's user). */
  readonly modelPods?: ModelPodSettings;
  /**
   * Autoscaling between minReplicaCount and maxReplicaCount: how chains scale, and the custom
   * metric read for accelerator duty cycle (none: duty cycle is not read). Absent: chains hold N.
   */
  readonly autoscaling?: {
    readonly policy: AutoscalingPolicy;
    readonly dutyCycleMetric?: string | undefined;
  };
  /** The cluster serves Gateway API HTTPRoutes (see `servesHttpRoutes`): watch and own them. */
  readonly gatewayApi?: boolean;
  /** Informer tuning (tests shorten the stall watchdog). */
  readonly watchTimeoutSeconds?: number;
  readonly stallTimeoutMs?: number;
}

export class Operator {
  readonly #o: OperatorOptions;
  readonly #clock: Clock;
  readonly #queue: WorkQueue;
  readonly #informers: Informer<KubeObject>[] = [];
  /** Counts terms of leadership (and their ends), so a relist of an ended term vouches for none. */
  #term = 0;
  /** The term whose ReplicaSet relist has landed (see `#relistReplicaSets`). */
  #relistedTerm = 0;
  readonly #elector: LeaderElector | undefined;
  readonly #events: EventRecorder;
  readonly #reconciler: Reconciler;
  readonly #endpoints: ReadonlyStore<KubeObject>;
  #abort = new AbortController();
  #running: Promise<void> | undefined;
  #workersDone: Promise<void> | undefined;
  #permissionsChecked: Promise<void> | undefined;
  readonly #usage: PodUsageSource | undefined;
  #polling: Promise<void> | undefined;

  constructor(options: OperatorOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    const { client, logger, metrics } = options;
    this.#queue = new WorkQueue({
      name: "modelendpoints",
      clock: this.#clock,
      metrics: {
        depth: (_name, depth) => {
          metrics.queueDepth.set(depth);
        },
      },
    });
    const namespaces = options.namespaces.length === 0 ? [undefined] : options.namespaces;
    const endpointClient: ResourceClient<KubeObject> = client.resource(modelEndpoints());
    const owned = { labelSelector: OWNED_LABEL_SELECTOR };
    const indexers: Record<string, IndexFunc<KubeObject>> = { [ENDPOINT_INDEX]: indexByEndpoint };
    const make = <T extends KubeObject>(
      name: string,
      source: ResourceClient<T>,
      selector: { labelSelector?: string },
      transform: (obj: T) => T,
      keysOf: (event: InformerEvent<T>) => Iterable<string>,
    ): ReadonlyStore<T> => {
      const stores = namespaces.map((ns) => {
        const informer = new Informer<T>({
          name,
          listWatch: source.listWatch(ns, selector),
          indexers: indexers,
          transform,
          clock: this.#clock,
          logger,
          metrics: {
            watchRestarted: (resource, reason) => {
              metrics.watchRestarts.inc({ resource, reason });
            },
            listed: (resource, reason) => {
              metrics.lists.inc({ resource, reason });
            },
          },
          ...(options.watchTimeoutSeconds === undefined
            ? {}
            : { watchTimeoutSeconds: options.watchTimeoutSeconds }),
          ...(options.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: options.stallTimeoutMs }),
        });
        informer.subscribe((event) => {
          for (const key of new Set(keysOf(event))) {
            logger.debug({ key, informer: name, event: event.type }, "enqueued");
            this.#queue.add(key);
          }
        });
        this.#informers.push(informer as unknown as Informer<KubeObject>);
        return informer.store;
      });
      return unionStore(stores);
    };
    const enqueueSelf = (event: InformerEvent<KubeObject>): string[] => [event.key];
    const enqueueOwner = <T extends KubeObject>(event: InformerEvent<T>): string[] => [
      ...indexByEndpoint(event.object),
      ...(event.type === "update" ? indexByEndpoint(event.old) : []),
    ];
    this.#endpoints = make("modelendpoints", endpointClient, {}, slimMeta, enqueueSelf);
    const replicaSets = make("replicasets", client.replicaSets, owned, slimReplicaSet, enqueueOwner);
    const pods = make("pods", client.pods, owned, slimPod, enqueueOwner);
    const services = make("services", client.services, owned, slimMeta, enqueueOwner);
    const disruptionBudgets = make(
      "poddisruptionbudgets",
      client.resource(PODDISRUPTIONBUDGETS),
      owned,
      slimMeta,
      enqueueOwner,
    );
    // The EndpointSlices of the endpoint's Services carry the Services' labels: a route gives a
    // model weight only once the gateway can see a ready endpoint of it.
    const gatewayApi =
      options.gatewayApi === true
        ? {
            httpRoutes: make("httproutes", client.resource(HTTPROUTES), owned, slimMeta, enqueueOwner),
            endpointSlices: make(
              "endpointslices",
              client.resource(ENDPOINTSLICES),
              owned,
              slimMeta,
              enqueueOwner,
            ),
          }
        : undefined;

    const leaderElection = options.leaderElection;
    this.#elector =
      leaderElection === undefined
        ? undefined
        : new LeaderElector({
            identity: options.identity,
            leaseNamespace: leaderElection.namespace,
            leaseName: leaderElection.name,
            // A Lease request hung on a dead connection must not hold a candidate back for the
            // transport's 30 s default: none may take longer than the renew deadline.
            client: client.leaseClient(leaderElection.namespace, leaderElection.name, {
              timeoutMs: leaderElection.renewDeadlineMs,
            }),
            leaseDurationMs: leaderElection.leaseDurationMs,
            renewDeadlineMs: leaderElection.renewDeadlineMs,
            retryPeriodMs: leaderElection.retryPeriodMs,
            clock: this.#clock,
            logger,
            onStartedLeading: () => {
              metrics.isLeader.set(1);
              this.#relistReplicaSets();
              // A new leader looks at every endpoint once: the queue was empty while standing by.
              this.#enqueueAll();
            },
            onStoppedLeading: () => {
              metrics.isLeader.set(0);
              this.#term++;
            },
          });
    const isLeader = (): boolean => this.#elector?.isLeader() ?? true;
    const writer = new GuardedWriter(
      new ApiWriter(client, (verb, resource) => {
        metrics.apiWrites.inc({ verb, resource });
      }),
      isLeader,
    );
    this.#events = new EventRecorder({
      sink: client.eventSink(),
      reportingController: "serving.modelendpoint.io/model-endpoint-operator",
      reportingInstance: options.identity,
      clock: this.#clock,
      logger,
      // A rollout of N replicas makes about 3N events (scale up, scale down, traffic): allow a burst
      // of 100 per endpoint and 2 more a second, so completions and failures are never dropped in
      // an ordinary rollout while a hot loop still cannot flood the API server.
      burst: 100,
      refillIntervalMs: 500,
    });
    const autoscaling = options.autoscaling;
    const metricsApi = client.resource(PODMETRICS);
    const dutyCycleMetric = autoscaling?.dutyCycleMetric;
    this.#usage =
      autoscaling === undefined
        ? undefined
        : new PodUsageSource({
            listPodMetrics: async (ns) => (await metricsApi.list(ns, owned)).items,
            listDutyCycle:
              dutyCycleMetric === undefined
                ? undefined
                : async (ns) =>
                    (await client.resource(customPodMetric(dutyCycleMetric)).list(ns, owned)).items,
            namespaces: options.namespaces,
            autoscaled: () =>
              isLeader()
                ? this.#endpoints.keys().filter((k) => isAutoscaledEndpoint(this.#endpoints.get(k)))
                : [],
            enqueue: (key) => {
              this.#queue.add(key);
            },
            intervalMs: autoscaling.policy.syncPeriodMs,
            clock: this.#clock,
            logger,
          });
    const usage = this.#usage;
    this.#reconciler = new Reconciler({
      endpoints: this.#endpoints,
      replicaSets,
      pods,
      services,
      disruptionBudgets,
      gatewayApi,
      dataPlane: options.dataPlane ?? { location: DEFAULT_LOCATION },
      ...(options.modelPods === undefined ? {} : { modelPods: options.modelPods }),
      ...(autoscaling === undefined || usage === undefined
        ? {}
        : {
            autoscaling: {
              policy: autoscaling.policy,
              usage: { lookup: (ns, pod) => usage.lookup(ns, pod), problem: () => usage.problem() },
            },
          }),
      writer,
      events: {
        record: (regarding, input) => {
          if (isLeader()) this.#events.record(regarding, input);
        },
      },
      metrics,
      clock: this.#clock,
      logger,
      planner: plan,
      canWrite: isLeader,
      readLive: (namespace, name) => ignoreNotFound(endpointClient.get(namespace, name)),
      replicaSetsCurrent: () => this.#relistedTerm === this.#term,
    });
  }

  /**
   * A new leader's ReplicaSet cache may lack its predecessor's last creates and deletes (its watch
   * may lag or have stalled): it lists the ReplicaSets again, and steps that cannot be undone wait
   * until that list is in (the reconciler's `replicaSetsCurrent`). One list per term of leadership,
   * where a live list before each such step cost a label-filtered scan of the namespace.
   */
  #relistReplicaSets(): void {
    const term = ++this.#term;
    const relists = this.#informers.filter((i) => i.name === "replicasets").map((i) => i.relist());
    void Promise.all(relists).then((listed) => {
      if (term !== this.#term || !listed.every(Boolean)) return;
      this.#relistedTerm = term;
      this.#enqueueAll();
    });
  }

  #enqueueAll(): void {
    for (const key of this.#endpoints.keys()) this.#queue.add(key);
  }

  /** Why the operator is not ready (empty when it is): caches not synced yet. */
  notReadyReasons(): string[] {
    return this.#informers.filter((i) => !i.hasSynced()).map((i) => `${i.name} cache not synced`);
  }

  isLeader(): boolean {
    return this.#elector?.isLeader() ?? true;
  }

  /**
   * Starts the informers, waits for their first lists, then campaigns for the lease (or leads at
   * once without leader election) and runs the workers. Resolves once everything is started.
   */
  async start(): Promise<void> {
    const { logger, metrics } = this.#o;
    this.#permissionsChecked = this.#checkPermissions();
    for (const informer of this.#informers) informer.start();
    const synced = await Promise.all(this.#informers.map((i) => i.waitForSync(this.#abort.signal)));
    if (synced.some((s) => !s)) return;
    logger.info({ informers: this.#informers.length }, "caches synced");
    this.#polling = this.#usage?.run(this.#abort.signal);
    this.#workersDone = runWorkers(this.#queue, this.#o.workers, (key) => this.#reconciler.reconcile(key), {
      logger,
      clock: this.#clock,
      onTerminalError: (key, error) => {
        logger.error(
          { key, err: error.message },
          "reconcile failed for good; waiting for the object to change",
        );
      },
    });
    if (this.#elector === undefined) {
      metrics.isLeader.set(1);
      this.#enqueueAll();
      return;
    }
    const elector = this.#elector;
    // Campaign, lead, and campaign again after a lost lease, until stopped.
    this.#running = (async () => {
      while (!this.#abort.signal.aborted) {
        const end = await elector.run(this.#abort.signal);
        if (end === "lost") logger.warn({ identity: this.#o.identity }, "lost the leader lease; standing by");
      }
    })();
  }

  /** Logs each permission of docs/operator.md "Permissions" the API server says this identity lacks. */
  async #checkPermissions(): Promise<void> {
    const { client, logger, namespaces, leaderElection } = this.#o;
    const needed = requiredPermissions({
      namespaces,
      gatewayApi: this.#o.gatewayApi === true,
      ...(leaderElection === undefined
        ? {}
        : { lease: { namespace: leaderElection.namespace, name: leaderElection.name } }),
    });
    const result = await checkPermissions(client.transport, needed, this.#abort.signal);
    if (!result.checked) {
      if (!this.#abort.signal.aborted)
        logger.warn(
          { err: result.error },
          "cannot check the operator's permissions (SelfSubjectAccessReview)",
        );
      return;
    }
    for (const p of result.missing) {
      logger.error(
        { permission: describePermission(p) },
        `missing permission: ${describePermission(p)}; grant what docs/operator.md "Permissions" lists`,
      );
    }
    if (result.missing.length === 0)
      logger.info({ checked: needed.length }, "permissions checked: none missing");
  }

  /** Graceful stop: release the lease, drain in-flight reconciles, stop the watches, flush events. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#permissionsChecked;
    await this.#running;
    await this.#polling;
    await this.#queue.shutDown();
    await this.#workersDone;
    await Promise.all(this.#informers.map((i) => i.stop()));
    await this.#events.flush();
    this.#o.metrics.isLeader.set(0);
  }

  /** The ModelEndpoint cache (read-only), for tests and tooling. */
  get endpoints(): ReadonlyStore<KubeObject> {
    return this.#endpoints;
  }
}
