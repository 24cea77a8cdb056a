import { DEFAULT_AUTOSCALING_POLICY, type Proposal } from "../autoscale.ts";
import type { ActionError, EndpointSpec, EndpointStatus, Plan, RolloutSettings, Snapshot } from "../types.ts";

/**
 * A fake of what the engine's actions set in motion, for scenario tests and the simulator: the
 * ReplicaSets of one ModelEndpoint, the ReplicaSet controller that creates and deletes their pods,
 * the pods' readiness, and the controller's way of applying a plan. Time is whole epoch seconds and
 * moves only when told; nothing here is random (the simulator brings its own randomness through
 * `readyAfter` and `terminationSeconds`).
 */

export interface FakePod {
  readonly name: string;
  readonly modelId: string;
  readonly createdAt: number;
  /** When it becomes Ready; undefined: never (a broken revision). */
  readyAt: number | undefined;
  ready: boolean;
  deleting: boolean;
  goneAt: number;
  serving: boolean;
  unreadyReason: string | undefined;
}

export interface FakeReplicaSet {
  readonly id: string;
  readonly revision: number;
  readonly poolSize: number;
  readonly lineage: readonly string[];
  readonly rolloutSettings: RolloutSettings | undefined;
  spec: number;
  generation: number;
  observedGeneration: number;
  /**
   * status.replicas as the ReplicaSet controller writes it: the pods it saw before it acted, so a
   * scale-down's first status still counts the pods it has just deleted; the next sync corrects it.
   */
  statusReplicas: number;
  deleting: boolean;
  /** The message of a ReplicaFailure condition: pods are not created while it is set. */
  replicaFailure: string | undefined;
  /** The pod template's `serving` label: new pods carry it. */
  readonly serving: boolean;
}

export interface FakeClusterOptions {
  readonly spec: EndpointSpec;
  /** Epoch seconds; default 2026-11-27T10:00:00Z. */
  readonly now?: number;
  /**
   * Seconds after creation at which a new pod of this deployed model becomes Ready, or undefined for
   * never (with the reason its pods give). Default: never, "readiness probe failed on /health".
   */
  readonly readyAfter?: (modelId: string) => number | undefined;
  /** Seconds a deleted pod stays terminating; default 0 (gone at the next time step). */
  readonly terminationSeconds?: () => number;
}

/** 2026-11-27T10:00:00Z, the epoch second scenario tests start at. */
export const T0 = Date.parse("2026-11-27T10:00:00Z") / 1000;

/** The reason pods of a revision that never becomes ready give. */
export const UNREADY_REASON = "readiness probe failed on /health";

export class FakeCluster {
  spec: EndpointSpec;
  generation = 1;
  status: EndpointStatus | undefined;
  now: number;
  actionErrors: ActionError[] = [];
  /** Each deployed model's predict route, when a test wants traffic rule 5 checked. */
  routes: Record<string, string> | undefined;
  /** The endpoint is routed by a gateway that weights each request (snapshot.exactWeights). */
  exactWeights = false;
  /**
   * CPU each Running pod of a deployed model uses, in millicores of its 1-CPU request, as the
   * metrics API would read it; set, the snapshot carries readings and the autoscaler's memory.
   */
  cpuUsage: ((modelId: string) => number | undefined) | undefined;
  /** The autoscaler's proposals the last applied plan returned. */
  proposals: Readonly<Record<string, readonly Proposal[]>> = {};
  readonly replicaSets = new Map<string, FakeReplicaSet>();
  readonly pods = new Map<string, FakePod>();
  readonly #readyAfter: (modelId: string) => number | undefined;
  readonly #terminationSeconds: () => number;
  #podCounter = 0;

  constructor(options: FakeClusterOptions) {
    this.spec = options.spec;
    this.now = options.now ?? T0;
    this.#readyAfter = options.readyAfter ?? (() => undefined);
    this.#terminationSeconds = options.terminationSeconds ?? (() => 0);
  }

  /** What the controller would gather now. */
  snapshot(): Snapshot {
    return {
      endpoint: { namespace: "ml", name: "ep", generation: this.generation },
      spec: this.spec,
      status: this.status,
      replicaSets: [...this.replicaSets.values()].map((rs) => {
        const ready = this.livePods(rs.id).filter((p) => p.ready).length;
        return {
          deployedModelId: rs.id,
          name: `ep-${rs.id}`,
          revision: rs.revision,
          poolSize: rs.poolSize,
          lineage: rs.lineage,
          rolloutSettings: rs.rolloutSettings,
          specReplicas: rs.spec,
          statusReplicas: rs.statusReplicas,
          readyReplicas: ready,
          availableReplicas: ready,
          generation: rs.generation,
          observedGeneration: rs.observedGeneration,
          deleting: rs.deleting,
          replicaFailure: rs.replicaFailure,
        };
      }),
      pods: [...this.pods.values()].map((p) => ({
        name: p.name,
        deployedModelId: p.modelId,
        ready: p.ready,
        phase: p.ready ? "Running" : "Pending",
        deleting: p.deleting,
        createdAt: p.createdAt * 1000,
        serving: p.serving,
        unreadyReason: p.ready ? undefined : p.unreadyReason,
        ...this.#readings(p),
      })),
      actionErrors: this.actionErrors,
      ...(this.routes === undefined ? {} : { routes: this.routes }),
      ...(this.exactWeights ? { exactWeights: true } : {}),
      ...(this.cpuUsage === undefined
        ? {}
        : { autoscaling: { policy: DEFAULT_AUTOSCALING_POLICY, proposals: this.proposals } }),
    };
  }

  #readings(pod: FakePod): { cpuRequestMillis?: number; cpuUsageMillis?: number } {
    if (this.cpuUsage === undefined) return {};
    const usage = pod.ready ? this.cpuUsage(pod.modelId) : undefined;
    return { cpuRequestMillis: 1000, ...(usage === undefined ? {} : { cpuUsageMillis: usage }) };
  }

  /** Applies a plan the way the controller does; throws on an action that could not apply. */
  apply(plan: Plan): void {
    this.proposals = plan.autoscalingProposals ?? {};
    for (const action of plan.actions) {
      switch (action.kind) {
        case "createReplicaSet":
          if (this.replicaSets.has(action.deployedModelId)) {
            throw new Error(`createReplicaSet: ${action.deployedModelId} exists`);
          }
          this.replicaSets.set(action.deployedModelId, {
            id: action.deployedModelId,
            revision: action.revision,
            poolSize: action.poolSize,
            lineage: action.lineage,
            rolloutSettings: action.rolloutSettings,
            spec: action.replicas,
            generation: 1,
            observedGeneration: 0,
            statusReplicas: 0,
            deleting: false,
            replicaFailure: undefined,
            serving: action.serving,
          });
          break;
        case "scaleReplicaSet": {
          const rs = this.replicaSets.get(action.deployedModelId);
          if (rs?.spec !== action.from)
            throw new Error(`scaleReplicaSet: ${action.deployedModelId} is not at ${action.from}`);
          rs.spec = action.to;
          rs.generation++;
          break;
        }
        case "deleteReplicaSet": {
          const rs = this.replicaSets.get(action.deployedModelId);
          if (rs === undefined) throw new Error(`deleteReplicaSet: ${action.deployedModelId} does not exist`);
          rs.deleting = true;
          for (const pod of this.livePods(action.deployedModelId)) this.deletePod(pod);
          break;
        }
        case "setPodServing": {
          const pod = this.pods.get(action.podName);
          if (pod === undefined) throw new Error(`setPodServing: ${action.podName} does not exist`);
          pod.serving = action.serving;
          break;
        }
      }
    }
    this.status = plan.status;
    this.actionErrors = [];
  }

  /**
   * The ReplicaSet controller, once for one ReplicaSet (or all): pods up or down to spec (the least
   * ready and newest go first), the new spec observed with the pods seen before acting (as
   * replica_set.go's calculateStatus does), a deleted ReplicaSet gone with its pods.
   * Returns whether anything changed.
   */
  syncReplicaSets(id?: string): boolean {
    let changed = false;
    for (const rs of id === undefined ? [...this.replicaSets.values()] : [this.replicaSets.get(id)]) {
      if (rs === undefined) continue;
      const pods = this.livePods(rs.id);
      if (rs.deleting) {
        for (const pod of pods) this.deletePod(pod);
        this.replicaSets.delete(rs.id);
        changed = true;
        continue;
      }
      if (rs.observedGeneration !== rs.generation || rs.statusReplicas !== pods.length) changed = true;
      rs.observedGeneration = rs.generation;
      rs.statusReplicas = pods.length;
      if (pods.length < rs.spec && rs.replicaFailure === undefined) {
        for (let i = pods.length; i < rs.spec; i++) this.createPod(rs.id, rs.serving);
        changed = true;
      } else if (pods.length > rs.spec) {
        const victims = [...pods].sort(
          (a, b) => Number(a.ready) - Number(b.ready) || b.createdAt - a.createdAt,
        );
        for (const pod of victims.slice(0, pods.length - rs.spec)) this.deletePod(pod);
        changed = true;
      }
    }
    return changed;
  }

  /** Moves the clock; pods become Ready and terminating pods go on the way. Returns whether anything changed. */
  advanceTo(time: number): boolean {
    let changed = false;
    this.now = Math.max(this.now, time);
    for (const pod of [...this.pods.values()]) {
      if (pod.deleting && pod.goneAt <= this.now) {
        this.pods.delete(pod.name);
        changed = true;
      } else if (!pod.deleting && !pod.ready && pod.readyAt !== undefined && pod.readyAt <= this.now) {
        pod.ready = true;
        changed = true;
      }
    }
    return changed;
  }

  /** The next moment a pod becomes Ready or a terminating pod goes (after now), or Infinity. */
  nextPodEvent(): number {
    let next = Infinity;
    for (const pod of this.pods.values()) {
      if (pod.deleting) next = Math.min(next, pod.goneAt);
      else if (!pod.ready && pod.readyAt !== undefined) next = Math.min(next, pod.readyAt);
    }
    return Math.max(next, this.now + 1);
  }

  /** A new spec, as `kubectl apply` would make it (a new generation). */
  setSpec(spec: EndpointSpec): void {
    this.spec = spec;
    this.generation++;
  }

  /** Pods of a deployed model that are not terminating. */
  livePods(id: string): FakePod[] {
    return [...this.pods.values()].filter((p) => p.modelId === id && !p.deleting);
  }

  createPod(modelId: string, serving = false): FakePod {
    const name = `${modelId}-p${++this.#podCounter}`;
    const after = this.#readyAfter(modelId);
    const pod: FakePod = {
      name,
      modelId,
      createdAt: this.now,
      readyAt: after === undefined ? undefined : this.now + after,
      ready: false,
      deleting: false,
      goneAt: Infinity,
      serving,
      unreadyReason: after === undefined ? UNREADY_REASON : undefined,
    };
    this.pods.set(name, pod);
    return pod;
  }

  /** Deletes a pod (an eviction, or the ReplicaSet controller): it terminates, then goes. */
  deletePod(pod: FakePod): void {
    pod.deleting = true;
    pod.ready = false;
    pod.goneAt = this.now + this.#terminationSeconds();
  }
}
