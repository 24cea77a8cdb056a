/**
 * A workaround for the local kube-controller-manager, not for the operator: after an API server
 * restart on a loaded machine, v1.37's ReplicaSet controller refuses to act while its informer
 * lags its own writes ("read version ... is not as new as written version ..."), and puts the
 * ReplicaSet on an exponential backoff that soon reaches minutes. A ReplicaSet whose pods stay
 * short of (or above) its spec for 20 s then gets an annotation touched, which queues it again at
 * once. When three nudges in a row do not help (the controller's informer itself has stopped
 * following), kube-controller-manager is restarted, as a liveness probe would in a cluster. Every
 * nudge and restart is counted and journaled; the operator's own writes are never touched.
 */
import { setTimeout as delay } from "node:timers/promises";

import type { Cluster } from "./cluster.ts";

const LAG_MS = 20_000;
/** Nudges of one lagging ReplicaSet before kube-controller-manager is restarted instead. */
const NUDGES_BEFORE_RESTART = 3;
export const NUDGE_ANNOTATION = "chaos.modelendpoint.io/nudged";

export class ReplicaSetNudger {
  readonly #cluster: Cluster;
  readonly #log: (line: string) => void;
  readonly #since = new Map<string, number>();
  readonly #nudged = new Map<string, number>();
  readonly #restart: () => Promise<void>;
  nudges = 0;
  restarts = 0;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(cluster: Cluster, log: (line: string) => void, restartControllerManager: () => Promise<void>) {
    this.#cluster = cluster;
    this.#log = log;
    this.#restart = restartControllerManager;
  }

  start(): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        await delay(5000);
        try {
          await this.#pass();
        } catch {
          // the API server is down now and then
        }
      }
    })();
  }

  async #pass(): Promise<void> {
    const list = await this.#cluster.apps.listNamespacedReplicaSet({ namespace: this.#cluster.namespace });
    const now = Date.now();
    const lagging = new Set<string>();
    for (const rs of list.items) {
      const name = rs.metadata?.name ?? "";
      const behind =
        (rs.status?.observedGeneration ?? 0) < (rs.metadata?.generation ?? 0) ||
        (rs.status?.replicas ?? 0) !== (rs.spec?.replicas ?? 0);
      if (!behind || rs.metadata?.deletionTimestamp !== undefined) continue;
      lagging.add(name);
      const since = this.#since.get(name) ?? now;
      this.#since.set(name, since);
      if (now - since < LAG_MS) continue;
      this.#since.set(name, now);
      if ((this.#nudged.get(name) ?? 0) >= NUDGES_BEFORE_RESTART) {
        this.restarts++;
        this.#nudged.clear();
        this.#log(
          `restarting kube-controller-manager: ReplicaSet ${name} still lags after ${NUDGES_BEFORE_RESTART} nudges`,
        );
        await this.#restart();
        return;
      }
      this.#nudged.set(name, (this.#nudged.get(name) ?? 0) + 1);
      this.nudges++;
      await this.#cluster.annotateReplicaSet(name, { [NUDGE_ANNOTATION]: String(this.nudges) });
      this.#log(
        `nudged ReplicaSet ${name}: ${String(rs.status?.replicas ?? 0)} pods for spec ${String(rs.spec?.replicas ?? 0)} since ${String(Math.round((now - since) / 1000))}s (kube-controller-manager backoff)`,
      );
    }
    for (const name of this.#since.keys()) {
      if (lagging.has(name)) continue;
      this.#since.delete(name);
      this.#nudged.delete(name);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}
