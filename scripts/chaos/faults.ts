/**
 * The faults of the chaos run, injected at random moments (seeded) while rollouts run:
 *
 * | kind             | what happens                                                                 |
 * | ---------------- | ---------------------------------------------------------------------------- |
 * | kill-leader      | SIGKILL of the replica holding the Lease; restarted after a random delay      |
 * | kill-standby     | SIGKILL of the other replica; restarted after a random delay                  |
 * | kill-both        | SIGKILL of both; each restarted after its own random delay                    |
 * | apiserver-stop   | kube-apiserver stopped (SIGTERM), started again 1-6 s later                   |
 * | apiserver-kill   | kube-apiserver killed (SIGKILL), started again 1-6 s later                    |
 * | watch-cut        | every connection of the operators to the API server reset at the proxy        |
 * | watch-stall      | every open connection silently stalled at the proxy (the watchdog must act)   |
 * | pod-delete       | a pod of an endpoint deleted by someone else                                  |
 * | replicaset-scale | a ReplicaSet scaled down by one by hand (the operator repairs the drift)      |
 * | replicaset-label | a label added to a ReplicaSet by hand                                         |
 * | readiness-flap   | a Ready pod made unready for 1-5 s (`sim.modelendpoint.io/unready`)           |
 *
 * Kinds are drawn from a shuffled deck with weights, so a short run still sees every kind. Faults
 * that need the API server are put back in the deck while it is down. Restarts happen in the
 * background: the next fault may come while an operator or the API server is still down.
 */
import { setTimeout as delay } from "node:timers/promises";

import type { V1Pod } from "@kubernetes/client-node";

import type { ControlPlane } from "../../src/testing/controlplane.ts";
import type { TcpProxy } from "../../src/testing/tcp-proxy.ts";
import type { InvariantWatcher } from "../../src/testing/watcher.ts";
import { LABEL_ENDPOINT, LABEL_UNREADY, retrying, type Cluster } from "./cluster.ts";
import type { OperatorReplica } from "./operators.ts";
import type { Rng } from "./rng.ts";

export const FAULT_WEIGHTS = {
  "kill-leader": 5,
  "kill-standby": 1,
  "kill-both": 1,
  "apiserver-stop": 1,
  "apiserver-kill": 1,
  "watch-cut": 2,
  "watch-stall": 1,
  "pod-delete": 3,
  "replicaset-scale": 2,
  "replicaset-label": 1,
  "readiness-flap": 3,
} as const;
export type FaultKind = keyof typeof FAULT_WEIGHTS;
const NEEDS_API: ReadonlySet<FaultKind> = new Set([
  "pod-delete",
  "replicaset-scale",
  "replicaset-label",
  "readiness-flap",
]);

/**
 * How long an outside disruption may lower the availability floor at most: the ReplicaSet
 * controller that replaces a deleted pod lags by tens of seconds after an API server restart.
 */
const EXCUSE_MS = 120_000;

export interface FaultContext {
  readonly cp: ControlPlane;
  readonly proxy: TcpProxy;
  readonly replicas: readonly OperatorReplica[];
  readonly cluster: Cluster;
  readonly watcher: InvariantWatcher;
  readonly rng: Rng;
  readonly log: (line: string) => void;
  readonly problem: (text: string) => void;
  /** Endpoints whose first deployment is up (faults aim at their objects). */
  readonly endpoints: () => readonly string[];
  readonly stallTimeoutSeconds: number;
}

export class FaultInjector {
  readonly counts = Object.fromEntries(Object.keys(FAULT_WEIGHTS).map((k) => [k, 0])) as Record<
    FaultKind,
    number
  >;
  kills = 0;
  readonly #ctx: FaultContext;
  readonly #background = new Set<Promise<void>>();
  readonly #flapped = new Set<string>();
  #deck: FaultKind[] = [];
  #apiDown = false;
  #touched = 0;

  constructor(ctx: FaultContext) {
    this.#ctx = ctx;
  }

  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  /** Injects faults every `gapMs` (a random value in the range) until `until` (epoch ms). */
  async run(until: number, gapMs: readonly [number, number]): Promise<void> {
    const { rng } = this.#ctx;
    while (Date.now() < until) {
      await delay(rng.int(gapMs[0], gapMs[1]));
      if (Date.now() >= until) break;
      const kind = this.#draw();
      try {
        if (await this.#inject(kind)) this.counts[kind]++;
      } catch (err) {
        // A fault that could not be injected (the pod went away meanwhile) is not counted.
        this.#ctx.log(`fault ${kind} not injected: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  #draw(): FaultKind {
    for (let i = 0; i < 2; i++) {
      if (this.#deck.length === 0) {
        const deck = Object.entries(FAULT_WEIGHTS).flatMap(([k, w]) =>
          Array<FaultKind>(w).fill(k as FaultKind),
        );
        this.#deck = this.#ctx.rng.shuffle(deck);
      }
      const index = this.#deck.findIndex((k) => !(this.#apiDown && NEEDS_API.has(k)));
      if (index >= 0) return this.#deck.splice(index, 1)[0] as FaultKind;
    }
    return "watch-cut";
  }

  #inBackground(work: () => Promise<void>): void {
    const p = work().catch((err: unknown) => {
      this.#ctx.problem(`background fault work failed: ${err instanceof Error ? err.message : String(err)}`);
    });
    this.#background.add(p);
    void p.finally(() => this.#background.delete(p));
  }

  async #inject(kind: FaultKind): Promise<boolean> {
    const { rng, log, proxy, cp } = this.#ctx;
    switch (kind) {
      case "kill-leader":
      case "kill-standby": {
        const running = this.#ctx.replicas.filter((r) => r.running);
        if (running.length === 0) return false;
        const leaders = await Promise.all(running.map((r) => r.isLeader()));
        const wanted = running.filter((_, i) => leaders[i] === (kind === "kill-leader"));
        const victim =
          wanted.length > 0 ? rng.pick(wanted) : kind === "kill-leader" ? undefined : rng.pick(running);
        if (victim === undefined) return false;
        await this.#kill(victim, kind);
        return true;
      }
      case "kill-both": {
        const running = this.#ctx.replicas.filter((r) => r.running);
        if (running.length === 0) return false;
        for (const r of running) await this.#kill(r, kind);
        return true;
      }
      case "apiserver-stop":
      case "apiserver-kill": {
        if (this.#apiDown) return false;
        this.#apiDown = true;
        const downMs = rng.int(1000, 6000);
        log(`fault ${kind}: down for ${(downMs / 1000).toFixed(1)}s`);
        if (kind === "apiserver-stop") await cp.stopApiServer();
        else await cp.killApiServer();
        this.#inBackground(async () => {
          await delay(downMs);
          await cp.startApiServer();
          this.#apiDown = false;
          log("kube-apiserver back");
        });
        return true;
      }
      case "watch-cut": {
        const n = proxy.cut();
        log(`fault watch-cut: ${n} connections reset`);
        return n > 0;
      }
      case "watch-stall": {
        const n = proxy.stall();
        log(`fault watch-stall: ${n} connections stalled`);
        this.#inBackground(async () => {
          await delay(this.#ctx.stallTimeoutSeconds * 3000);
          proxy.releaseStalled();
        });
        return n > 0;
      }
      case "pod-delete": {
        const [endpoint, pod] = await this.#pickPod(() => true);
        if (pod === undefined) return false;
        this.#ctx.watcher.excusePod(endpoint, pod, EXCUSE_MS);
        await this.#ctx.cluster.deletePod(pod);
        log(`fault pod-delete: ${pod}`);
        return true;
      }
      case "readiness-flap": {
        const [endpoint, pod] = await this.#pickPod(
          (p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
        );
        if (pod === undefined) return false;
        this.#ctx.watcher.excusePod(endpoint, pod, EXCUSE_MS);
        await this.#ctx.cluster.labelPod(pod, { [LABEL_UNREADY]: "true" });
        this.#flapped.add(pod);
        const forMs = rng.int(1000, 5000);
        log(`fault readiness-flap: ${pod} unready for ${(forMs / 1000).toFixed(1)}s`);
        this.#inBackground(async () => {
          await delay(forMs);
          await retrying(`make ${pod} ready again`, () => this.#unflap(pod), { timeoutMs: 180_000 });
        });
        return true;
      }
      case "replicaset-scale":
      case "replicaset-label": {
        const endpoints = this.#ctx.endpoints();
        if (endpoints.length === 0) return false;
        const endpoint = rng.pick(endpoints);
        const list = await this.#ctx.cluster.apps.listNamespacedReplicaSet({
          namespace: this.#ctx.cluster.namespace,
          labelSelector: `${LABEL_ENDPOINT}=${endpoint}`,
        });
        const candidates = list.items.filter(
          (rs) =>
            rs.metadata?.deletionTimestamp === undefined &&
            (kind === "replicaset-label" || (rs.spec?.replicas ?? 0) >= 1),
        );
        if (candidates.length === 0) return false;
        const rs = rng.pick(candidates);
        const name = rs.metadata?.name ?? "";
        if (kind === "replicaset-scale") {
          const to = (rs.spec?.replicas ?? 1) - 1;
          // Excused once the ReplicaSet controller has seen the generation the patch made.
          const generation = await this.#ctx.cluster.scaleReplicaSet(name, to);
          this.#ctx.watcher.excuseScaleDown(endpoint, name, 1, generation, EXCUSE_MS);
          log(`fault replicaset-scale: ${name} ${rs.spec?.replicas ?? 0} -> ${to} by hand`);
        } else {
          this.#touched++;
          await this.#ctx.cluster.labelReplicaSet(name, {
            "chaos.modelendpoint.io/touched": String(this.#touched),
          });
          log(`fault replicaset-label: ${name} labelled by hand`);
        }
        return true;
      }
    }
  }

  async #kill(replica: OperatorReplica, kind: FaultKind): Promise<void> {
    const { rng, log } = this.#ctx;
    await replica.kill();
    this.kills++;
    const restartMs = rng.int(200, 4000);
    log(
      `fault ${kind}: ${replica.identity} SIGKILLed (kill ${this.kills}), restart in ${(restartMs / 1000).toFixed(1)}s`,
    );
    this.#inBackground(async () => {
      await delay(restartMs);
      await replica.start();
    });
  }

  /** A random pod (matching `filter`) of a random endpoint: [endpoint, pod name]. */
  async #pickPod(filter: (pod: V1Pod) => boolean): Promise<[string, string | undefined]> {
    const endpoints = this.#ctx.endpoints();
    if (endpoints.length === 0) return ["", undefined];
    const endpoint = this.#ctx.rng.pick(endpoints);
    const pods = (await this.#ctx.cluster.pods(endpoint)).filter(filter);
    if (pods.length === 0) return [endpoint, undefined];
    return [endpoint, this.#ctx.rng.pick(pods).metadata?.name];
  }

  async #unflap(pod: string): Promise<void> {
    if (!this.#flapped.has(pod)) return;
    try {
      await this.#ctx.cluster.labelPod(pod, { [LABEL_UNREADY]: null });
      this.#flapped.delete(pod);
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === 404) this.#flapped.delete(pod);
      else throw err;
    }
  }

  /** Ends every fault: waits for restarts, starts what is down, releases stalls and flaps. */
  async settle(): Promise<void> {
    while (this.#background.size > 0) await Promise.all([...this.#background]);
    if (this.#apiDown) {
      await this.#ctx.cp.startApiServer();
      this.#apiDown = false;
    }
    for (const r of this.#ctx.replicas) if (!r.running) await r.start();
    this.#ctx.proxy.releaseStalled();
    for (const pod of [...this.#flapped]) {
      for (let attempt = 0; this.#flapped.has(pod); attempt++) {
        try {
          await this.#unflap(pod);
        } catch (err) {
          if (attempt > 20) throw err;
          await delay(500);
        }
      }
    }
  }
}
