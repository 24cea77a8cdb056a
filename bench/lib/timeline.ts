/**
 * What happened in one namespace, and when, as a watcher outside the operator sees it: every pod's
 * Ready transition and disappearance, every ReplicaSet spec.replicas change (a scale action of the
 * controller under test), and every ModelEndpoint status change. Times are this process'
 * monotonic clock (performance.now()) at the moment the watch event arrived, so a pod turning Ready
 * and the scale action that follows are measured on one clock through the same watch path.
 *
 * Condition timestamps on the objects cannot be used: the API server keeps them to the second.
 */
import { performance } from "node:perf_hooks";

import type { KubeClient, ResourceType } from "../../src/kube/client.ts";
import { Informer, type InformerEvent } from "../../src/kube/informer.ts";
import type { DeepReadonly, KubeObject, Pod, ReplicaSet } from "../../src/kube/objects.ts";
import {
  ARGO_ROLLOUTS,
  DEPLOYMENTS,
  LABEL_APP,
  LABEL_DEPLOYED_MODEL,
  LABEL_ENDPOINT,
  type ArgoRolloutObject,
  type Deployment,
  type ModelEndpointObject,
} from "./objects.ts";
import { modelEndpoints } from "../../src/kube/client.ts";

export const now = (): number => performance.now();

export interface PodRecord {
  readonly name: string;
  /** The Deployment's or the ModelEndpoint's name. */
  readonly group: string;
  readonly replicaSet: string;
  /** The ModelEndpoint's deployed model, or the Deployment's template version label. */
  readonly version: string;
  readonly seenAt: number;
  readyAt?: number;
  goneAt?: number;
}

export interface ScaleRecord {
  readonly t: number;
  readonly group: string;
  readonly replicaSet: string;
  /** undefined: the ReplicaSet was created with `to` replicas. */
  readonly from: number | undefined;
  readonly to: number;
}

/** A ReplicaSet controller's status write, as the watch delivered it (for --trace). */
export interface ReplicaSetStatusRecord {
  readonly t: number;
  readonly group: string;
  readonly replicaSet: string;
  /** "observed 3/3 replicas 10 ready 10": the generation observed of the current one, and the counters. */
  readonly what: string;
}

export interface StatusRecord {
  readonly t: number;
  readonly endpoint: string;
  /** The status differs from the previous version's. */
  readonly changed: boolean;
  /** It differs only in timestamps (lastUpdateTime, lastTransitionTime, progress times). */
  readonly timesOnly: boolean;
}

type Slim = KubeObject & { spec?: unknown; status?: unknown };

const groupOf = (obj: DeepReadonly<KubeObject>): string =>
  obj.metadata?.labels?.[LABEL_ENDPOINT] ?? obj.metadata?.labels?.[LABEL_APP] ?? "";

const isReady = (pod: DeepReadonly<Pod>): boolean =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** The status without its timestamps, to tell a real change from a clock tick. */
function withoutTimes(status: unknown): string {
  return JSON.stringify(status, (key, value: unknown) =>
    /Time$|^progressTime$/.test(key) ? undefined : value,
  );
}

/** Keeps what the bench reads: a watcher of thousands of pods stays small. */
function slim<T extends Slim>(keepSpec: boolean, keepStatus: (status: unknown) => unknown) {
  return (obj: T): T => {
    const m = obj.metadata ?? {};
    return {
      metadata: {
        name: m.name,
        namespace: m.namespace,
        labels: m.labels,
        resourceVersion: m.resourceVersion,
        generation: m.generation,
        deletionTimestamp: m.deletionTimestamp,
        ownerReferences: m.ownerReferences,
      },
      ...(keepSpec ? { spec: obj.spec } : {}),
      status: keepStatus(obj.status),
    } as T;
  };
}

export interface Tracker {
  /** When each tracked object was first seen done. */
  readonly doneAt: ReadonlyMap<string, number>;
  /** Resolves with the time the last one was seen done. */
  readonly all: Promise<number>;
  /** Stops waiting (the promise rejects). */
  cancel(reason: string): void;
}

/** A tracker's objects were not all done in time (its `doneAt` holds those that were). */
export class TrackerTimedOut extends Error {
  constructor(timeoutMs: number, done: number, of: number) {
    super(`timed out after ${String(timeoutMs)} ms: ${String(of - done)} of ${String(of)} not done`);
    this.name = "TrackerTimedOut";
  }
}

interface TrackerState<T> {
  readonly names: ReadonlySet<string>;
  readonly isDone: (obj: DeepReadonly<T>) => boolean;
  readonly doneAt: Map<string, number>;
  readonly resolve: (t: number) => void;
  readonly reject: (err: Error) => void;
}

export interface TimelineOptions {
  /** Also watch Argo Rollouts' Rollouts (their CRD must be installed). */
  readonly rollouts?: boolean;
}

export class Timeline {
  readonly namespace: string;
  readonly pods = new Map<string, PodRecord>();
  readonly scales: ScaleRecord[] = [];
  readonly replicaSetStatuses: ReplicaSetStatusRecord[] = [];
  readonly statuses: StatusRecord[] = [];
  readonly #informers: Informer<KubeObject>[] = [];
  readonly #deployments: Informer<Deployment>;
  readonly #endpoints: Informer<ModelEndpointObject>;
  /** Only when asked: without Argo Rollouts' CRD the list would fail. */
  readonly #rollouts: Informer<ArgoRolloutObject> | undefined;
  readonly #deploymentTrackers = new Set<TrackerState<Deployment>>();
  readonly #endpointTrackers = new Set<TrackerState<ModelEndpointObject>>();
  readonly #rolloutTrackers = new Set<TrackerState<ArgoRolloutObject>>();
  readonly #podWaiters = new Set<() => void>();

  private constructor(client: KubeClient, namespace: string, options: TimelineOptions) {
    this.namespace = namespace;
    const make = <T extends Slim>(
      type: ResourceType<T>,
      transform: (obj: T) => T,
      onEvent: (e: InformerEvent<T>) => void,
    ): Informer<T> => {
      const informer = new Informer<T>({
        name: type.plural,
        listWatch: client.resource(type).listWatch(namespace),
        transform,
      });
      informer.subscribe(onEvent);
      this.#informers.push(informer as unknown as Informer<KubeObject>);
      return informer;
    };
    make(
      client.pods.type,
      slim<Pod>(false, (s) => ({ conditions: (s as Pod["status"])?.conditions })),
      (e) => {
        this.#onPod(e);
      },
    );
    make(
      client.replicaSets.type,
      slim<ReplicaSet>(true, (s) => {
        const status = s as ReplicaSet["status"];
        return {
          observedGeneration: status?.observedGeneration,
          replicas: status?.replicas,
          readyReplicas: status?.readyReplicas,
        };
      }),
      (e) => {
        this.#onReplicaSet(e);
      },
    );
    this.#deployments = make(
      DEPLOYMENTS,
      slim<Deployment>(true, (s) => s),
      (e) => {
        this.#check(this.#deploymentTrackers, e);
      },
    );
    this.#endpoints = make(
      modelEndpoints<ModelEndpointObject>(),
      slim<ModelEndpointObject>(false, (s) => s),
      (e) => {
        this.#onEndpoint(e);
        this.#check(this.#endpointTrackers, e);
      },
    );
    this.#rollouts =
      options.rollouts === true
        ? make(
            ARGO_ROLLOUTS,
            slim<ArgoRolloutObject>(false, (s) => s),
            (e) => {
              this.#check(this.#rolloutTrackers, e);
            },
          )
        : undefined;
  }

  /** Watches `namespace`; resolves once every cache has its first list. */
  static async start(
    client: KubeClient,
    namespace: string,
    options: TimelineOptions = {},
  ): Promise<Timeline> {
    const t = new Timeline(client, namespace, options);
    for (const i of t.#informers) i.start();
    await Promise.all(t.#informers.map((i) => i.waitForSync()));
    return t;
  }

  async stop(): Promise<void> {
    for (const set of [this.#deploymentTrackers, this.#endpointTrackers, this.#rolloutTrackers] as Set<
      TrackerState<never>
    >[])
      for (const tr of set) tr.reject(new Error("timeline stopped"));
    await Promise.all(this.#informers.map((i) => i.stop()));
  }

  #onPod(e: InformerEvent<Pod>): void {
    const t = now();
    const pod = e.object;
    const name = pod.metadata?.name ?? "";
    let rec = this.pods.get(name);
    if (rec === undefined) {
      if (e.type === "delete") return;
      const owner = pod.metadata?.ownerReferences?.find((r) => r.controller === true)?.name ?? "";
      rec = {
        name,
        group: groupOf(pod),
        replicaSet: owner,
        version: pod.metadata?.labels?.[LABEL_DEPLOYED_MODEL] ?? pod.metadata?.labels?.["version"] ?? "",
        seenAt: t,
      };
      this.pods.set(name, rec);
    }
    if (rec.readyAt === undefined && e.type !== "delete" && isReady(pod)) rec.readyAt = t;
    if (rec.goneAt === undefined && (e.type === "delete" || pod.metadata?.deletionTimestamp !== undefined))
      rec.goneAt = t;
    for (const wake of this.#podWaiters) wake();
  }

  #onReplicaSet(e: InformerEvent<ReplicaSet>): void {
    if (e.type === "delete") return;
    const status = e.object.status;
    if (e.type === "update" && JSON.stringify(e.old.status) !== JSON.stringify(status)) {
      this.replicaSetStatuses.push({
        t: now(),
        group: groupOf(e.object),
        replicaSet: e.object.metadata?.name ?? "",
        what: `observed ${String(status?.observedGeneration ?? 0)}/${String(e.object.metadata?.generation ?? 0)} replicas ${String(status?.replicas ?? 0)} ready ${String(status?.readyReplicas ?? 0)}`,
      });
    }
    const to = e.object.spec?.replicas ?? 1;
    const from = e.type === "update" ? (e.old.spec?.replicas ?? 1) : undefined;
    if (from === to) return;
    this.scales.push({
      t: now(),
      group: groupOf(e.object),
      replicaSet: e.object.metadata?.name ?? "",
      from,
      to,
    });
  }

  #onEndpoint(e: InformerEvent<ModelEndpointObject>): void {
    if (e.type !== "update") return;
    const before = JSON.stringify(e.old.status ?? null);
    const after = JSON.stringify(e.object.status ?? null);
    const changed = before !== after;
    this.statuses.push({
      t: now(),
      endpoint: e.object.metadata?.name ?? "",
      changed,
      timesOnly: changed && withoutTimes(e.old.status ?? null) === withoutTimes(e.object.status ?? null),
    });
  }

  #check<T>(trackers: Set<TrackerState<T>>, e: InformerEvent<T>): void {
    if (e.type === "delete" || trackers.size === 0) return;
    const t = now();
    const name = (e.object as DeepReadonly<KubeObject>).metadata?.name ?? "";
    for (const tr of trackers) {
      if (!tr.names.has(name) || tr.doneAt.has(name) || !tr.isDone(e.object)) continue;
      tr.doneAt.set(name, t);
      if (tr.doneAt.size === tr.names.size) {
        trackers.delete(tr);
        tr.resolve(t);
      }
    }
  }

  #track<T extends KubeObject>(
    trackers: Set<TrackerState<T>>,
    informer: Informer<T>,
    names: Iterable<string>,
    isDone: (obj: DeepReadonly<T>) => boolean,
    timeoutMs: number,
  ): Tracker {
    const doneAt = new Map<string, number>();
    const set = new Set(names);
    let reject: (err: Error) => void = () => undefined;
    const all = new Promise<number>((resolve, fail) => {
      let timer: NodeJS.Timeout | undefined = undefined;
      const state: TrackerState<T> = {
        names: set,
        isDone,
        doneAt,
        resolve: (t) => {
          clearTimeout(timer);
          resolve(t);
        },
        reject: (err) => {
          clearTimeout(timer);
          trackers.delete(state);
          fail(err);
        },
      };
      reject = state.reject;
      timer = setTimeout(() => {
        state.reject(new TrackerTimedOut(timeoutMs, doneAt.size, set.size));
      }, timeoutMs);
      const t = now();
      for (const name of set) {
        const obj = informer.store.get(`${this.namespace}/${name}`);
        if (obj !== undefined && isDone(obj)) doneAt.set(name, t);
      }
      if (doneAt.size === set.size) state.resolve(t);
      else trackers.add(state);
    });
    all.catch(() => undefined);
    return {
      doneAt,
      all,
      cancel: (reason) => {
        reject(new Error(reason));
      },
    };
  }

  /** Tracks Deployments until `isDone` holds for each. */
  trackDeployments(
    names: Iterable<string>,
    isDone: (d: DeepReadonly<Deployment>) => boolean,
    timeoutMs: number,
  ): Tracker {
    return this.#track(this.#deploymentTrackers, this.#deployments, names, isDone, timeoutMs);
  }

  /** Tracks ModelEndpoints until `isDone` holds for each. */
  trackEndpoints(
    names: Iterable<string>,
    isDone: (e: DeepReadonly<ModelEndpointObject>) => boolean,
    timeoutMs: number,
  ): Tracker {
    return this.#track(this.#endpointTrackers, this.#endpoints, names, isDone, timeoutMs);
  }

  /** Tracks Argo Rollouts until `isDone` holds for each (a Timeline started with `rollouts`). */
  trackRollouts(
    names: Iterable<string>,
    isDone: (r: DeepReadonly<ArgoRolloutObject>) => boolean,
    timeoutMs: number,
  ): Tracker {
    if (this.#rollouts === undefined)
      throw new Error(
        `the timeline of ${this.namespace} does not watch Rollouts (start it with rollouts: true)`,
      );
    return this.#track(this.#rolloutTrackers, this.#rollouts, names, isDone, timeoutMs);
  }

  /** Resolves once no pod of `group` is left (deleted or being deleted), polling on pod events. */
  async podsGone(group: string, timeoutMs: number): Promise<void> {
    const left = (): boolean =>
      [...this.pods.values()].some((p) => p.group === group && p.goneAt === undefined);
    if (!left()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#podWaiters.delete(wake);
        reject(new Error(`pods of ${group} still there after ${String(timeoutMs)} ms`));
      }, timeoutMs);
      const wake = (): void => {
        if (left()) return;
        clearTimeout(timer);
        this.#podWaiters.delete(wake);
        resolve();
      };
      this.#podWaiters.add(wake);
    });
  }

  /** Forgets the records of `group` (after its run was measured), to keep lookups short. */
  forget(group: string): void {
    for (const [name, p] of this.pods)
      if (p.group === group && p.goneAt !== undefined) this.pods.delete(name);
  }
}
