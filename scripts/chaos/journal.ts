/**
 * What happened in the chaos namespace, from watches of its own (they outlive API server restarts):
 *
 * - every uid seen under each ReplicaSet and Service name (more than one: created again);
 * - a journal file, one line per change with the wall-clock time, for the post-mortem of a
 *   violation: ReplicaSet scales (and who wrote them, from managedFields), pod readiness and
 *   deletions, and the Events of the namespace (the operator's scale steps, the ReplicaSet
 *   controller's failures). The run's own lines (faults, rollouts) go to the same file.
 */
import { appendFileSync } from "node:fs";

import {
  AppsV1Api,
  CoreV1Api,
  EventsV1Api,
  makeInformer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Pod,
  type V1ReplicaSet,
  type EventsV1Event,
} from "@kubernetes/client-node";

export class Journal {
  readonly file: string;
  /** Kind -> name -> uids. */
  readonly uids = new Map<string, Map<string, Set<string>>>();
  readonly #stops: (() => void)[] = [];

  constructor(file: string) {
    this.file = file;
  }

  write(line: string): void {
    appendFileSync(this.file, `${new Date().toISOString()} ${line}\n`);
  }

  /** Starts the watches of `namespace`. */
  start(kc: KubeConfig, namespace: string): void {
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const events = kc.makeApiClient(EventsV1Api);
    const ready = new Map<string, string>();
    this.#watch<V1ReplicaSet>(
      kc,
      `/apis/apps/v1/namespaces/${namespace}/replicasets`,
      () => apps.listNamespacedReplicaSet({ namespace }),
      "ReplicaSet",
      (verb, rs) => {
        const writers = [...(rs.metadata?.managedFields ?? [])]
          .sort((a, b) => String(a.time ?? "").localeCompare(String(b.time ?? "")))
          .at(-1);
        this.write(
          `rs ${verb} ${rs.metadata?.name ?? ""} spec=${String(rs.spec?.replicas)} ready=${String(rs.status?.readyReplicas ?? 0)} rv=${rs.metadata?.resourceVersion ?? ""} last-writer=${writers?.manager ?? "?"}`,
        );
      },
    );
    this.#watch<V1Pod>(
      kc,
      `/api/v1/namespaces/${namespace}/pods`,
      () => core.listNamespacedPod({ namespace }),
      "Pod",
      (verb, pod) => {
        const name = pod.metadata?.name ?? "";
        const isReady =
          pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
        const state = `${verb === "delete" ? "gone" : pod.metadata?.deletionTimestamp ? "terminating" : isReady ? "ready" : "unready"}${pod.metadata?.labels?.["serving.modelendpoint.io/serving"] === "true" ? " serving" : ""}`;
        if (ready.get(name) === state) return;
        ready.set(name, state);
        this.write(`pod ${name} ${state}`);
      },
    );
    this.#watch<EventsV1Event>(
      kc,
      `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
      () => events.listNamespacedEvent({ namespace }),
      "Event",
      (verb, e) => {
        if (verb === "delete") return;
        this.write(
          `event ${e.regarding?.kind ?? ""}/${e.regarding?.name ?? ""} ${e.reason ?? ""}: ${e.note ?? ""}`,
        );
      },
    );
    this.#watch(
      kc,
      `/api/v1/namespaces/${namespace}/services`,
      () => core.listNamespacedService({ namespace }),
      "Service",
    );
  }

  #watch<T extends KubernetesObject>(
    kc: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    kind: string,
    onChange?: (verb: "add" | "update" | "delete", obj: T) => void,
  ): void {
    let stopped = false;
    const informer = makeInformer(kc, path, list);
    const byName = this.uids.get(kind) ?? new Map<string, Set<string>>();
    this.uids.set(kind, byName);
    for (const verb of ["add", "update", "delete"] as const) {
      informer.on(verb, (obj: T) => {
        const name = obj.metadata?.name ?? "";
        const uids = byName.get(name) ?? new Set<string>();
        if (obj.metadata?.uid !== undefined) uids.add(obj.metadata.uid);
        byName.set(name, uids);
        onChange?.(verb, obj);
      });
    }
    informer.on("error", () => {
      if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 500);
    });
    void informer.start();
    this.#stops.push(() => {
      stopped = true;
      void informer.stop();
    });
  }

  stop(): void {
    for (const stop of this.#stops) stop();
  }
}
