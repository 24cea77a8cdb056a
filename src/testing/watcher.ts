/**
 * An independent invariant watcher for rollout scenarios. It shares no code with the operator: it
 * watches Pods, ReplicaSets and EndpointSlices of one namespace through client-node's own informer
 * and, at every event it observes, checks the rules a user relies on:
 *
 * - R4: the non-terminating pods of a chain never exceed N + maxSurge, and its Ready pods never
 *   drop below N - maxUnavailable (or below what was available when the check began, when that
 *   was lower: a rollout never makes availability worse than it found it).
 *   A pod that someone else takes out of service (deletes it, makes it unready, scales its
 *   ReplicaSet down) lowers that floor by one from the moment the watcher sees it go until the
 *   chain is back at its floor and the ReplicaSet controller has caught up, for a bounded time
 *   (`excusePod`, `excuseScaleDown`): its loss is not the operator's doing. The pod-count ceiling holds always, counting a ReplicaSet's pods up
 *   to the largest replica count it was ever given (pods beyond it are the ReplicaSet
 *   controller's own, e.g. a create it repeated when an API server died before answering).
 * - R6: the endpoint Service's ready endpoints never list a pod that the watcher does not see Ready
 *   (by the time of the report: the pod's own update may arrive after the slice's).
 *   (The EndpointSlice controller lags a pod that turns not Ready by a moment; that lag is
 *   Kubernetes' own, so the check is that no pod is served before it was ever Ready, and that a
 *   never-Ready revision is never served.)
 *
 * Terminating pods (deletionTimestamp set) are not counted, as Kubernetes' Deployment controller
 * does not count them either.
 */
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
  type V1EndpointSlice,
  type V1Pod,
  type V1ReplicaSet,
} from "@kubernetes/client-node";

const LABEL_ENDPOINT = "serving.modelendpoint.io/endpoint";
const LABEL_MODEL = "serving.modelendpoint.io/deployed-model";

export interface ChainCheck {
  readonly endpoint: string;
  /** The deployed-model ids of the chain. */
  readonly models: readonly string[];
  readonly n: number;
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  /**
   * The largest N the chain may reach meanwhile (an autoscaled chain growing); the pod ceiling is
   * maxN + maxSurge. Default n.
   */
  readonly maxN?: number;
}

export interface ChainReport {
  readonly endpoint: string;
  readonly models: readonly string[];
  readonly n: number;
  /** The largest N the pod ceiling allowed for (ChainCheck.maxN, else n). */
  readonly maxN: number;
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  /** The largest number of non-terminating pods of the chain seen at once. */
  readonly maxPods: number;
  /** The lowest number of Ready pods of the chain seen at once. */
  readonly minAvailable: number;
  /** The floor the check held availability to: min(N - maxUnavailable, available at start). */
  readonly floor: number;
  /** Observations below the floor that a disruption by someone else excused (see `excusePod`). */
  readonly excusedLow: number;
  /** The most pods seen at once beyond what their ReplicaSets were ever given (not counted). */
  readonly overCreated: number;
}

export interface WatchReport {
  readonly events: number;
  readonly violations: readonly string[];
  readonly chains: readonly ChainReport[];
  /** Pods seen as ready endpoints of each endpoint Service, by deployed model. */
  readonly servedModels: Readonly<Record<string, readonly string[]>>;
  /** Every uid seen under each ReplicaSet name: more than one means it was created again. */
  readonly replicaSetUids: Readonly<Record<string, readonly string[]>>;
  /** Every pod name seen, by "endpoint/deployed-model": how many pods each model ever got. */
  readonly podsSeen: Readonly<Record<string, readonly string[]>>;
}

/**
 * An outside disruption whose effect the watcher has seen keeps lowering the floor at least this
 * long, even once the chain is back at its floor: decisions the operator made from a view that
 * still held the lost pod are still landing.
 */
const EXCUSE_SETTLE_MS = 5_000;

/** A pod (or `scaleDown` pods of a ReplicaSet) taken out of service by someone else. */
interface Excuse {
  readonly endpoint: string;
  /** The pod deleted or made unready, or the ReplicaSet scaled down and the pods it had then. */
  readonly pod?: string;
  readonly replicaSet?: {
    readonly name: string;
    readonly generation: number;
    readonly by: number;
    /** Its pods when the scale was made: one of them going arms the excuse too. */
    readonly pods: ReadonlySet<string>;
  };
  /** Until then it may wait for its effect, and then lower the floor. */
  readonly until: number;
  /** When the watcher saw its effect (the pod gone or unready); undefined until then. */
  armedAt?: number;
}

const isReady = (pod: V1Pod): boolean =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

function remember(into: Map<string, Set<string>>, key: string, value: string | undefined): void {
  if (value === undefined) return;
  const set = into.get(key) ?? new Set<string>();
  set.add(value);
  into.set(key, set);
}

function sortedRecord(from: ReadonlyMap<string, ReadonlySet<string>>): Record<string, string[]> {
  return Object.fromEntries([...from].map(([k, v]) => [k, [...v].sort()]));
}

interface ActiveChain extends ChainCheck {
  maxPods: number;
  minAvailable: number;
  floor: number;
  /** False once `unwatchChains` ended its check. */
  active: boolean;
  excusedLow: number;
  overCreated: number;
}

/** How long `stop` waits for the pod updates behind ready endpoints it has not confirmed. */
const UNCONFIRMED_GRACE_MS = 5_000;

export class InvariantWatcher {
  readonly #namespace: string;
  readonly #pods: Informer<V1Pod> & ObjectCache<V1Pod>;
  readonly #slices: Informer<V1EndpointSlice> & ObjectCache<V1EndpointSlice>;
  readonly #replicaSets: Informer<V1ReplicaSet> & ObjectCache<V1ReplicaSet>;
  readonly #chains: ActiveChain[] = [];
  readonly #everReady = new Set<string>();
  /**
   * Ready endpoints whose pod the watcher has not seen Ready yet. Pods and EndpointSlices come on
   * separate watches, so a slice may arrive before the pod update it was computed from; such an
   * endpoint is a violation only if its pod is still not seen Ready when the report is made.
   */
  readonly #unconfirmed = new Map<string, string>();
  readonly #violations: string[] = [];
  readonly #served = new Map<string, Set<string>>();
  /** The largest spec.replicas seen of each ReplicaSet (see `#countChain`). */
  readonly #maxSpec = new Map<string, number>();
  /** Outside disruptions that lower an endpoint's availability floor (see `excusePod`). */
  #excuses: Excuse[] = [];
  readonly #replicaSetUids = new Map<string, Set<string>>();
  readonly #podsSeen = new Map<string, Set<string>>();
  #events = 0;
  /** Set while `stop` waits for the unconfirmed endpoints' pods. */
  #onConfirmed: (() => void) | undefined;
  #synced = false;
  #stopped = false;

  private constructor(kc: KubeConfig, namespace: string) {
    this.#namespace = namespace;
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    this.#pods = makeInformer(kc, `/api/v1/namespaces/${namespace}/pods`, () =>
      core.listNamespacedPod({ namespace }),
    );
    this.#replicaSets = makeInformer(kc, `/apis/apps/v1/namespaces/${namespace}/replicasets`, () =>
      apps.listNamespacedReplicaSet({ namespace }),
    );
    this.#slices = makeInformer(kc, `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, () =>
      discovery.listNamespacedEndpointSlice({ namespace }),
    );
  }

  /** Starts watching `namespace` and resolves once the initial lists are in. */
  static async start(kc: KubeConfig, namespace: string): Promise<InvariantWatcher> {
    const w = new InvariantWatcher(kc, namespace);
    const informers: (Informer<KubernetesObject> & ObjectCache<KubernetesObject>)[] = [
      w.#pods,
      w.#replicaSets,
      w.#slices,
    ];
    for (const informer of informers) {
      for (const verb of ["add", "update", "delete"] as const) {
        informer.on(verb, () => {
          w.#check();
        });
      }
      // client-node's informer stops on error; a watcher that outlives API server restarts restarts it.
      informer.on("error", () => {
        if (!w.#stopped) setTimeout(() => void informer.start().catch(() => undefined), 500);
      });
    }
    await Promise.all(informers.map((i) => i.start()));
    // Check only once every initial list is in: a slice listed before the pods would name pods the
    // watcher has not seen yet.
    w.#synced = true;
    w.#check();
    return w;
  }

  /**
   * Checks R4 for a chain from now on. The availability floor is N - maxUnavailable, or what is
   * available now when that is lower.
   */
  watchChain(check: ChainCheck): void {
    const { pods, available } = this.#countChain(check);
    this.#chains.push({
      ...check,
      maxPods: pods,
      minAvailable: available,
      floor: Math.min(check.n - check.maxUnavailable, available),
      active: true,
      excusedLow: 0,
      overCreated: 0,
    });
  }

  /** Ends the checks of `endpoint`'s chains (e.g. before its next rollout); their figures stay in the report. */
  unwatchChains(endpoint: string): void {
    for (const chain of this.#chains) if (chain.endpoint === endpoint) chain.active = false;
  }

  /**
   * Someone other than the operator deleted `pod` of `endpoint`, or made it unready. From the moment
   * the watcher sees it gone or unready, the floor of the endpoint's chains is one lower, until they
   * are back at their floor (and EXCUSE_SETTLE_MS have passed), and at most until `withinMs` from
   * now. The operator must still not make it worse; the pod-count ceiling is never relaxed.
   */
  excusePod(endpoint: string, pod: string, withinMs: number): void {
    this.#excuses.push({ endpoint, pod, until: Date.now() + withinMs });
  }

  /**
   * Someone other than the operator scaled `replicaSet` of `endpoint` down by `by`, which made it
   * `generation`: as `excusePod` for `by` pods, from the moment the ReplicaSet controller has
   * observed that generation or one of the ReplicaSet's pods goes (which may come long after the
   * scale when that controller lags), and never ending before that controller observed it.
   */
  excuseScaleDown(
    endpoint: string,
    replicaSet: string,
    by: number,
    generation: number,
    withinMs: number,
  ): void {
    const pods = new Set(
      this.#pods
        .list(this.#namespace)
        .filter((p) => p.metadata?.ownerReferences?.some((r) => r.name === replicaSet) === true)
        .map((p) => p.metadata?.name ?? ""),
    );
    this.#excuses.push({
      endpoint,
      replicaSet: { name: replicaSet, generation, by, pods },
      until: Date.now() + withinMs,
    });
  }

  /** True once the ReplicaSet controller has observed `generation` of the ReplicaSet `name`. */
  #observed(name: string, generation: number): boolean {
    return (this.#replicaSets.get(name, this.#namespace)?.status?.observedGeneration ?? 0) >= generation;
  }

  /** Arms excuses whose effect shows now; returns the armed pods per endpoint. */
  #armExcuses(now: number): Map<string, number> {
    const gone = (name: string): boolean => {
      const pod = this.#pods.get(name, this.#namespace);
      return pod === undefined || pod.metadata?.deletionTimestamp !== undefined;
    };
    this.#excuses = this.#excuses.filter((e) => now < e.until);
    const armed = new Map<string, number>();
    for (const e of this.#excuses) {
      if (e.armedAt === undefined) {
        const pod = e.pod === undefined ? undefined : this.#pods.get(e.pod, this.#namespace);
        const shows =
          e.pod !== undefined
            ? pod === undefined || pod.metadata?.deletionTimestamp !== undefined || !isReady(pod)
            : e.replicaSet !== undefined &&
              (this.#observed(e.replicaSet.name, e.replicaSet.generation) ||
                [...e.replicaSet.pods].some(gone));
        if (shows) e.armedAt = now;
      }
      if (e.armedAt !== undefined)
        armed.set(e.endpoint, (armed.get(e.endpoint) ?? 0) + (e.replicaSet?.by ?? 1));
    }
    return armed;
  }

  /**
   * The chain's non-terminating pods and Ready pods. A ReplicaSet's pods beyond the largest replica
   * count it was ever given are not counted against the ceiling (`overCreated`): the ReplicaSet
   * controller made them (it does, when an API server dies between a pod's creation and its
   * answer), the operator never asked for them.
   */
  #countChain(check: ChainCheck): { pods: number; available: number; overCreated: number } {
    const members = new Set(check.models);
    let available = 0;
    const byOwner = new Map<string, number>();
    for (const pod of this.#pods.list(this.#namespace)) {
      const labels = pod.metadata?.labels ?? {};
      if (labels[LABEL_ENDPOINT] !== check.endpoint || !members.has(labels[LABEL_MODEL] ?? "")) continue;
      if (pod.metadata?.deletionTimestamp) continue;
      const owner = pod.metadata?.ownerReferences?.find((r) => r.kind === "ReplicaSet")?.name ?? "";
      byOwner.set(owner, (byOwner.get(owner) ?? 0) + 1);
      if (isReady(pod)) available++;
    }
    let pods = 0;
    let overCreated = 0;
    for (const [owner, count] of byOwner) {
      const given = this.#maxSpec.get(owner) ?? count;
      pods += Math.min(count, given);
      overCreated += Math.max(0, count - given);
    }
    return { pods, available, overCreated };
  }

  /** "m1 2/3 ready, rs 3; m2 0/1 ready, rs 2": what a violation message shows of the chain. */
  #describeChain(check: ChainCheck): string {
    return check.models
      .map((model) => {
        const pods = this.pods(check.endpoint, model).filter((p) => !p.metadata?.deletionTimestamp);
        const rs = this.#replicaSets.get(`${check.endpoint}-${model}`, this.#namespace);
        return `${model} ${String(pods.filter(isReady).length)}/${String(pods.length)} ready, rs ${String(rs?.spec?.replicas ?? "-")}`;
      })
      .join("; ");
  }

  #check(): void {
    if (!this.#synced) return;
    this.#events++;
    for (const pod of this.#pods.list(this.#namespace)) {
      if (isReady(pod)) {
        this.#everReady.add(pod.metadata?.name ?? "");
        this.#unconfirmed.delete(pod.metadata?.name ?? "");
        if (this.#unconfirmed.size === 0) this.#onConfirmed?.();
      }
      const labels = pod.metadata?.labels ?? {};
      const endpoint = labels[LABEL_ENDPOINT];
      if (endpoint !== undefined)
        remember(this.#podsSeen, `${endpoint}/${labels[LABEL_MODEL] ?? ""}`, pod.metadata?.name);
    }
    for (const rs of this.#replicaSets.list(this.#namespace)) {
      remember(this.#replicaSetUids, rs.metadata?.name ?? "", rs.metadata?.uid);
      const name = rs.metadata?.name ?? "";
      this.#maxSpec.set(name, Math.max(this.#maxSpec.get(name) ?? 0, rs.spec?.replicas ?? 1));
    }
    const at = new Date().toISOString();
    const now = Date.now();
    const belowFloor = new Set<string>();
    const excusedPods = this.#armExcuses(now);
    for (const chain of this.#chains) {
      if (!chain.active) continue;
      const { pods, available, overCreated } = this.#countChain(chain);
      chain.maxPods = Math.max(chain.maxPods, pods);
      chain.overCreated = Math.max(chain.overCreated, overCreated);
      chain.minAvailable = Math.min(chain.minAvailable, available);
      const ceilingN = chain.maxN ?? chain.n;
      if (pods > ceilingN + chain.maxSurge) {
        this.#violations.push(
          `${at} R4 ${chain.endpoint} [${chain.models.join(",")}]: ${pods} pods > N ${ceilingN} + maxSurge ${chain.maxSurge} (${this.#describeChain(chain)})`,
        );
      }
      const excused = excusedPods.get(chain.endpoint) ?? 0;
      if (available < chain.floor - excused) {
        this.#violations.push(
          `${at} R4 ${chain.endpoint} [${chain.models.join(",")}]: ${available} available < floor ${chain.floor}${excused > 0 ? ` - ${excused} taken out by someone else` : ""} (${this.#describeChain(chain)})`,
        );
      } else if (available < chain.floor) {
        chain.excusedLow++;
      }
      if (available < chain.floor) belowFloor.add(chain.endpoint);
    }
    // An armed disruption ends once its endpoint is back at the floor, 5 s have passed, and the
    // ReplicaSet controller has caught up with every ReplicaSet of the endpoint: while it lags, it
    // may still act on a view that holds the lost pod (delete one pod too many, apply a scale-down
    // late).
    const lagging = new Set(
      this.#replicaSets
        .list(this.#namespace)
        .filter(
          (rs) =>
            (rs.status?.observedGeneration ?? 0) < (rs.metadata?.generation ?? 0) ||
            (rs.status?.replicas ?? 0) !== (rs.spec?.replicas ?? 0),
        )
        .map((rs) => rs.metadata?.labels?.[LABEL_ENDPOINT] ?? ""),
    );
    this.#excuses = this.#excuses.filter(
      (e) =>
        e.armedAt === undefined ||
        belowFloor.has(e.endpoint) ||
        now - e.armedAt < EXCUSE_SETTLE_MS ||
        lagging.has(e.endpoint) ||
        (e.replicaSet !== undefined && !this.#observed(e.replicaSet.name, e.replicaSet.generation)),
    );
    for (const slice of this.#slices.list(this.#namespace)) {
      const service = slice.metadata?.labels?.["kubernetes.io/service-name"] ?? "";
      for (const ep of slice.endpoints ?? []) {
        if (ep.conditions?.ready !== true) continue;
        const podName = ep.targetRef?.name ?? "";
        const pod = this.#pods.get(podName, this.#namespace);
        const model = pod?.metadata?.labels?.[LABEL_MODEL];
        if (model !== undefined && pod?.metadata?.labels?.[LABEL_ENDPOINT] === service) {
          remember(this.#served, service, model);
        }
        if (!this.#everReady.has(podName) && !this.#unconfirmed.has(podName)) {
          this.#unconfirmed.set(
            podName,
            `${at} R6 service ${service}: ready endpoint ${podName} was never seen Ready`,
          );
        }
      }
    }
  }

  /** The pods of a deployed model right now (from the watcher's cache). */
  pods(endpoint: string, model?: string): V1Pod[] {
    return this.#pods
      .list(this.#namespace)
      .filter(
        (p) =>
          p.metadata?.labels?.[LABEL_ENDPOINT] === endpoint &&
          (model === undefined || p.metadata.labels[LABEL_MODEL] === model),
      );
  }

  /** The ReplicaSets of the namespace right now (from the watcher's cache). */
  replicaSets(): readonly V1ReplicaSet[] {
    return this.#replicaSets.list(this.#namespace);
  }

  report(): WatchReport {
    return {
      events: this.#events,
      violations: [...this.#violations, ...this.#unconfirmed.values()],
      chains: this.#chains.map((c) => ({
        endpoint: c.endpoint,
        models: c.models,
        n: c.n,
        maxN: c.maxN ?? c.n,
        maxSurge: c.maxSurge,
        maxUnavailable: c.maxUnavailable,
        maxPods: c.maxPods,
        minAvailable: c.minAvailable,
        floor: c.floor,
        excusedLow: c.excusedLow,
        overCreated: c.overCreated,
      })),
      servedModels: sortedRecord(this.#served),
      replicaSetUids: sortedRecord(this.#replicaSetUids),
      podsSeen: sortedRecord(this.#podsSeen),
    };
  }

  /**
   * Stops watching and reports. A ready endpoint whose pod has not been seen Ready yet is given up
   * to `UNCONFIRMED_GRACE_MS` for the pod watch to deliver the update the slice was computed from
   * (a test may stop the watcher the moment it sees the outcome through the API): only a pod still
   * unseen then is reported.
   */
  async stop(): Promise<WatchReport> {
    if (this.#unconfirmed.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, UNCONFIRMED_GRACE_MS);
        this.#onConfirmed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#onConfirmed = undefined;
    }
    this.#stopped = true;
    await Promise.all([this.#pods.stop(), this.#replicaSets.stop(), this.#slices.stop()]);
    return this.report();
  }
}
