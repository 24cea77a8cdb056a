import { calculateBudgets, DEFAULT_PROGRESS_DEADLINE_SECONDS } from "../budgets.ts";
import type { Budgets } from "../budgets.ts";
import { plan } from "../plan.ts";
import { sameJson } from "../json.ts";
import { distributeProportionally } from "../traffic.ts";
import { REFUSAL_REASONS } from "../types.ts";
import type {
  DeployedModelSpec,
  DeployedModelStatus,
  EndpointStatus,
  Plan,
  RolloutOptions,
  Snapshot,
} from "../types.ts";
import { FakeCluster, T0 } from "./cluster.ts";

/**
 * A deterministic simulator of one ModelEndpoint in a cluster, for property tests of the engine.
 *
 * On a {@link FakeCluster} (ReplicaSets whose controller creates and deletes pods when it gets to
 * it, so the operator may pass in between and see spec ahead of status; pods that become Ready after a
 * random delay or never; pods that terminate for a while), it plays a user who adds rolling
 * deployments (onto whatever is newest, finished or not: roll-overs and rollbacks, R9), removes
 * FAILED and REPLACED entries, and removes any entry at a random moment (a git revert: the chain rolls
 * back onto the revision below, R3), pods that die, and operator passes: a few seconds after anything it
 * watches changes, when its requeue is due (to the second), and at random moments besides.
 *
 * After every transition it checks the engine's invariants and throws a {@link SimViolation} with a
 * trace of the run on the first one broken. All randomness comes from one seed: a failing run replays
 * exactly.
 */

/** How a revision's pods behave. */
export type Behaviour = "good" | "never";

/** A user action, applied at a random moment of the run. */
export type UserOp =
  /** Add a rolling deployment onto the chain's newest entry, whatever its state. */
  | { readonly kind: "rollout"; readonly behaviour: Behaviour }
  /** Remove the chain's FAILED and REPLACED entries from spec (keeping at least one entry). */
  | { readonly kind: "cleanup" }
  /**
   * Remove one entry of the chain, whatever its state (a git revert of its rolling deployment, or
   * a member removed mid-rollout), keeping at least one entry that has not FAILED; its traffic key
   * moves to the newest entry left.
   */
  | { readonly kind: "remove"; readonly pick: number };

/** Budget options shared by every rollout of a chain. */
export interface BudgetChoice {
  readonly maxSurgeReplicas?: number;
  readonly maxSurgePercentage?: number;
  readonly maxUnavailableReplicas?: number;
  readonly maxUnavailablePercentage?: number;
}

export interface ChainScenario {
  readonly replicas: number;
  readonly budget: BudgetChoice;
  readonly deadlineSeconds: number;
  readonly rootBehaviour: Behaviour;
  /** Relative traffic weight of the chain. */
  readonly weight: number;
  readonly ops: readonly UserOp[];
}

export interface Scenario {
  readonly seed: number;
  readonly chains: readonly ChainScenario[];
  /**
   * Disruptions at random moments: pods die (evictions, node loss), someone deletes a ReplicaSet, the
   * status is lost (an object restored from a backup without it). Availability is then not checked
   * (R4's exception: the rollout did not make it worse, the world did).
   */
  readonly disruptions: boolean;
  /** Random steps before the run settles. */
  readonly steps: number;
}

/** What a run did, for counting and for the test's report. */
export interface RunStats {
  readonly passes: number;
  readonly actions: number;
  readonly rollouts: number;
  readonly completed: number;
  readonly failed: number;
  readonly refused: number;
  readonly seconds: number;
}

/** An invariant the engine broke; `trace` is the tail of the run. */
export class SimViolation extends Error {
  readonly trace: readonly string[];
  constructor(message: string, trace: readonly string[]) {
    super(`${message}\n--- trace (last ${trace.length} lines) ---\n${trace.join("\n")}`);
    this.name = "SimViolation";
    this.trace = trace;
  }
}

/** Good pods become Ready this many seconds after creation, at most; deadlines are well above. */
export const MAX_READY_DELAY_SECONDS = 30;
/** The operator passes at most this many seconds after a change it watches (watch latency, queueing). */
export const MAX_REACTION_SECONDS = 5;
/** The engine is given this many seconds of quiet at the end of a run to converge. */
const SETTLE_LIMIT_SECONDS = 20_000;

interface SimChain {
  readonly name: string;
  readonly scenario: ChainScenario;
  readonly budgets: Budgets;
  /** Every id ever added to this chain, in order. */
  readonly ids: string[];
  readonly ops: UserOp[];
  /** The chain held N available pods once: from then on availability must stay >= N - maxUnavailable. */
  baseline: boolean;
}

/** Runs a scenario to the end, checking invariants at every step; returns what happened. */
export function runScenario(scenario: Scenario): RunStats {
  return new Simulation(scenario).run();
}

class Simulation {
  readonly #random: () => number;
  readonly #scenario: Scenario;
  readonly #chains: SimChain[];
  readonly #behaviour = new Map<string, Behaviour>();
  readonly #trace: string[] = [];
  readonly #cluster: FakeCluster;
  /** Sim-side progress clock of each rollout (R8, measured independently of the engine's record). */
  readonly #lastProgress = new Map<string, number>();
  readonly #revisions = new Map<string, number>();
  /** Which id each revision number of a rolling deployment was given to (R1: never given twice). */
  readonly #given = new Map<number, string>();
  #requeueAt: number | undefined;
  /** When the operator will have reacted to the earliest change it has not seen yet. */
  #dueAt: number | undefined;
  /**
   * The status was lost and no pass has rewritten it yet, or the user edited spec and no pass has seen
   * it yet. An edit and a status loss both in that window are a double fault the engine does not
   * claim to survive (chain links of removed entries live in status), so one waits for a pass.
   */
  #statusLost = false;
  #unseenEdit = false;
  #passes = 0;
  #actions = 0;
  #rollouts = 0;

  constructor(scenario: Scenario) {
    this.#scenario = scenario;
    this.#random = mulberry32(scenario.seed);
    this.#chains = scenario.chains.map((c, i) => ({
      name: `c${i}`,
      scenario: c,
      budgets: calculateBudgets(c.budget, c.replicas),
      ids: [`c${i}-m1`],
      ops: [...c.ops],
      baseline: false,
    }));
    const weights = scenario.chains.every((c) => c.weight <= 0)
      ? scenario.chains.map((_, i) => (i === 0 ? 100 : 0))
      : distributeProportionally(
          100,
          scenario.chains.map((c) => c.weight),
        );
    const trafficSplit: Record<string, number> = {};
    this.#chains.forEach((chain, i) => {
      const weight = weights[i] ?? 0;
      if (weight > 0) trafficSplit[`${chain.name}-m1`] = weight;
      this.#behaviour.set(`${chain.name}-m1`, chain.scenario.rootBehaviour);
    });
    this.#cluster = new FakeCluster({
      spec: {
        trafficSplit,
        deployedModels: this.#chains.map((chain) => ({
          id: `${chain.name}-m1`,
          model: `${chain.name}@1`,
          containerSpec: { imageUri: `registry.example/${chain.name}:1`, healthRoute: "/health" },
          dedicatedResources: {
            minReplicaCount: chain.scenario.replicas,
            maxReplicaCount: chain.scenario.replicas,
          },
        })),
      },
      readyAfter: (id) =>
        this.#behaviour.get(id) === "never"
          ? undefined
          : 1 + Math.floor(this.#random() * MAX_READY_DELAY_SECONDS),
      terminationSeconds: () => Math.floor(this.#random() * 10),
    });
    this.#log(`start: ${JSON.stringify(scenario)}`);
  }

  run(): RunStats {
    const cluster = this.#cluster;
    for (let step = 0; step < this.#scenario.steps; step++) {
      const roll = this.#random();
      if (roll < 0.2) this.#pass();
      else if (roll < 0.4) {
        if (cluster.syncReplicaSets(this.#pick([...cluster.replicaSets.keys()]) ?? "")) this.#changed();
      } else if (roll < 0.75) this.#advance(1 + Math.floor(this.#random() * 30));
      else if (roll < 0.83) {
        if (this.#scenario.disruptions) this.#disrupt();
      } else this.#userOp();
      this.#checkInvariants();
    }
    // Whatever the user meant to do still happens, then the engine gets quiet time to converge.
    for (;;) {
      const chain = this.#chains.find((c) => c.ops.length > 0);
      if (chain === undefined) break;
      this.#applyOp(chain);
      this.#pass();
      this.#checkInvariants();
    }
    this.#settle();
    this.#checkFinal();
    const states = cluster.status?.deployedModels ?? [];
    return {
      passes: this.#passes,
      actions: this.#actions,
      rollouts: this.#rollouts,
      completed: states.filter((s) => s.state === "DEPLOYED" && s.revisionNumber > 1).length,
      failed: states.filter((s) => s.state === "FAILED" && !REFUSAL_REASONS.has(s.reason ?? "")).length,
      refused: states.filter((s) => s.reason !== undefined && REFUSAL_REASONS.has(s.reason)).length,
      seconds: cluster.now - T0,
    };
  }

  // ------------------------------------------------------------------ the world

  /** A pod dies (most of the time), someone deletes a ReplicaSet, or the status is lost. */
  #disrupt(): void {
    const cluster = this.#cluster;
    const roll = this.#random();
    if (roll < 0.7) {
      const pod = this.#pick([...cluster.pods.values()].filter((p) => !p.deleting));
      if (pod === undefined) return;
      this.#log(`pod ${pod.name} dies`);
      cluster.deletePod(pod);
    } else if (roll < 0.85) {
      // Not while the status is lost: with neither, nothing remembers the model (a double fault).
      if (this.#statusLost) return;
      const rs = this.#pick([...cluster.replicaSets.values()].filter((r) => !r.deleting));
      if (rs === undefined) return;
      this.#log(`someone deletes the ReplicaSet of ${rs.id}`);
      rs.deleting = true;
      for (const pod of cluster.livePods(rs.id)) cluster.deletePod(pod);
    } else {
      // Not while a live model has no ReplicaSet (for the same reason), nor before the operator saw
      // the user's last edit.
      const live = (cluster.status?.deployedModels ?? []).filter(
        (m) => m.state === "BEING_DEPLOYED" || m.state === "DEPLOYED",
      );
      if (live.some((m) => cluster.replicaSets.get(m.id)?.deleting !== false)) return;
      if (this.#unseenEdit) this.#pass();
      this.#log("the status is lost");
      cluster.status = undefined;
      this.#statusLost = true;
      // Revisions survive on the ReplicaSets' labels; an entry without one (refused) is judged anew.
      for (const id of [...this.#revisions.keys()]) {
        if (cluster.replicaSets.get(id)?.deleting !== false) this.#revisions.delete(id);
      }
      // So are the numbers given to entries that left with their ReplicaSets (status.latestRevisionNumber).
      for (const [revision, id] of [...this.#given]) {
        if (cluster.replicaSets.get(id)?.deleting !== false) this.#given.delete(revision);
      }
    }
    this.#changed();
  }

  /**
   * Time passes, event by event: controllers keep up, pods become Ready, terminating pods go. The
   * operator passes when a requeue is due and, like a controller watching its objects, a few seconds
   * (0 to {@link MAX_REACTION_SECONDS}) after anything changed.
   */
  #advance(seconds: number): void {
    const cluster = this.#cluster;
    const target = cluster.now + seconds;
    for (let guard = 0; ; guard++) {
      if (guard > 10_000) this.#fail("the world does not come to rest");
      let stop = Math.min(target, cluster.nextPodEvent());
      if (this.#requeueAt !== undefined) stop = Math.min(stop, this.#requeueAt);
      if (this.#dueAt !== undefined) stop = Math.min(stop, this.#dueAt);
      if (cluster.syncReplicaSets()) this.#changed();
      if (cluster.advanceTo(stop)) this.#changed();
      const requeued = this.#requeueAt !== undefined && this.#requeueAt <= cluster.now;
      const due = this.#dueAt !== undefined && this.#dueAt <= cluster.now;
      if (requeued || due) {
        this.#pass();
        this.#checkInvariants();
      }
      if (cluster.now >= target) return;
    }
  }

  /** Something the operator watches changed: it will pass within a few seconds. */
  #changed(): void {
    this.#dueAt ??= this.#cluster.now + Math.floor(this.#random() * (MAX_REACTION_SECONDS + 1));
  }

  // ------------------------------------------------------------------ the user

  #userOp(): void {
    const chain = this.#pick(this.#chains.filter((c) => c.ops.length > 0));
    if (chain !== undefined) this.#applyOp(chain);
  }

  #applyOp(chain: SimChain): void {
    // A removal comes after the operator saw the edit before it, as a revert in git follows an
    // applied commit: a rolling deployment whose previous model left spec before anyone saw it is
    // refused (R10), which is a different story.
    if (this.#statusLost || (chain.ops[0]?.kind === "remove" && this.#unseenEdit)) this.#pass();
    const cluster = this.#cluster;
    const op = chain.ops.shift();
    if (op === undefined) return;
    const spec = cluster.spec;
    const inSpec = chain.ids.filter((id) => spec.deployedModels.some((d) => d.id === id));
    if (op.kind === "rollout") {
      const previous = inSpec.at(-1);
      if (previous === undefined) return;
      const id = `${chain.name}-m${chain.ids.length + 1}`;
      chain.ids.push(id);
      this.#behaviour.set(id, op.behaviour);
      const rolloutOptions: RolloutOptions = {
        previousDeployedModel: previous,
        ...chain.scenario.budget,
        progressDeadlineSeconds: chain.scenario.deadlineSeconds,
      };
      const entry: DeployedModelSpec = {
        id,
        model: `${chain.name}@${chain.ids.length}`,
        containerSpec: {
          imageUri: `registry.example/${chain.name}:${chain.ids.length}`,
          healthRoute: "/health",
        },
        rolloutOptions,
      };
      cluster.setSpec({ ...spec, deployedModels: [...spec.deployedModels, entry] });
      this.#rollouts++;
      this.#log(`user: ${id} (${op.behaviour}) rolls onto ${previous}`);
    } else {
      const states = new Map((cluster.status?.deployedModels ?? []).map((s) => [s.id, s.state]));
      let remove: Set<string>;
      if (op.kind === "remove") {
        const id = inSpec[op.pick % Math.max(1, inSpec.length)];
        const left = inSpec.filter((other) => other !== id);
        // Never the chain's last entry that has not FAILED: that is an undeploy, not a revert.
        if (id === undefined || !left.some((other) => states.get(other) !== "FAILED")) return;
        remove = new Set([id]);
      } else {
        remove = new Set(inSpec.filter((id) => states.get(id) === "FAILED" || states.get(id) === "REPLACED"));
        if (remove.size === inSpec.length) remove.delete(inSpec.at(-1) ?? "");
      }
      if (remove.size === 0) return;
      const keep = inSpec.filter((id) => !remove.has(id));
      const trafficSplit: Record<string, number> = {};
      for (const [key, value] of Object.entries(spec.trafficSplit)) {
        const target = remove.has(key) ? (keep.at(-1) ?? key) : key;
        trafficSplit[target] = (trafficSplit[target] ?? 0) + value;
      }
      cluster.setSpec({ trafficSplit, deployedModels: spec.deployedModels.filter((d) => !remove.has(d.id)) });
      this.#log(`user: removes ${[...remove].join(", ")}`);
    }
    this.#unseenEdit = true;
    this.#changed();
  }

  // ------------------------------------------------------------------ the operator

  #pass(): void {
    const cluster = this.#cluster;
    this.#dueAt = undefined;
    this.#statusLost = false;
    this.#unseenEdit = false;
    const snapshot = cluster.snapshot();
    const before = new Map((cluster.status?.deployedModels ?? []).map((s) => [s.id, s]));
    const result = plan(snapshot, cluster.now * 1000);
    this.#passes++;
    this.#actions += result.actions.length;
    for (const action of result.actions) this.#log(`  ${JSON.stringify(action).slice(0, 160)}`);
    for (const event of result.events) this.#log(`  event ${event.reason}: ${event.message}`);
    try {
      cluster.apply(result);
    } catch (error) {
      this.#fail(`plan does not apply: ${String(error)}`);
    }
    if (result.requeueAfterMs !== undefined && result.requeueAfterMs <= 0)
      this.#fail("requeue not in the future");
    this.#requeueAt =
      result.requeueAfterMs === undefined ? undefined : cluster.now + Math.ceil(result.requeueAfterMs / 1000);
    this.#trackProgress(snapshot, result, before);
    this.#checkIdempotent(result);
    this.#checkPlan(result, before);
    this.#checkLabels();
  }

  /**
   * The sim's own R8 clock: a rollout progresses when it is first seen, when a pass sees more of its
   * replicas available or fewer pods of the other members of its chain than the last status said,
   * when a pass retires old replicas, or when the revision above it fails or leaves spec (it becomes
   * the target again).
   */
  #trackProgress(snapshot: Snapshot, result: Plan, before: ReadonlyMap<string, DeployedModelStatus>): void {
    for (const chain of this.#chains) {
      const rolling = this.#rollingMember(chain, result.status);
      if (rolling === undefined) continue;
      const previous = before.get(rolling.id);
      // A ReplicaSet's pods: its counter, less the pods the snapshot already shows terminating.
      const podsOf = (id: string): number =>
        Math.min(
          snapshot.replicaSets.find((rs) => rs.deployedModelId === id)?.statusReplicas ?? 0,
          snapshot.pods.filter((p) => p.deployedModelId === id && !p.deleting).length,
        );
      const others = chain.ids.filter((id) => id !== rolling.id && before.has(id));
      const retired =
        others.reduce((sum, id) => sum + podsOf(id), 0) <
        others.reduce((sum, id) => sum + (before.get(id)?.replicas ?? 0), 0);
      const failedAbove = chain.ids.some((id) => {
        const now = result.status.deployedModels.find((s) => s.id === id);
        return (
          before.get(id)?.state !== "FAILED" &&
          now?.state === "FAILED" &&
          !REFUSAL_REASONS.has(now.reason ?? "")
        );
      });
      // The pass itself retired old replicas of the chain (a member that left spec has no status
      // record to compare with later, so the step is what counts).
      const retiring = result.actions.some(
        (a) =>
          a.kind === "scaleReplicaSet" &&
          a.deployedModelId !== rolling.id &&
          chain.ids.includes(a.deployedModelId) &&
          a.to < a.from,
      );
      // The member the chain was converging on left spec: it rolls back onto this one, afresh.
      const topBefore = [...before.values()]
        .filter((s) => chain.ids.includes(s.id) && s.state !== "FAILED")
        .sort((a, b) => b.revisionNumber - a.revisionNumber)[0];
      const targetLeft =
        topBefore !== undefined &&
        topBefore.id !== rolling.id &&
        !this.#cluster.spec.deployedModels.some((d) => d.id === topBefore.id);
      const available =
        snapshot.replicaSets.find((rs) => rs.deployedModelId === rolling.id)?.availableReplicas ?? 0;
      if (
        previous === undefined ||
        previous.state !== "BEING_DEPLOYED" ||
        available > previous.availableReplicaCount ||
        retired ||
        retiring ||
        failedAbove ||
        targetLeft ||
        this.#lastProgress.get(rolling.id) === undefined
      ) {
        this.#lastProgress.set(rolling.id, this.#cluster.now);
      }
    }
  }

  /** The chain's intended member when it is BEING_DEPLOYED. */
  #rollingMember(chain: SimChain, status: EndpointStatus): DeployedModelStatus | undefined {
    const live = status.deployedModels
      .filter((s) => chain.ids.includes(s.id) && (s.state === "BEING_DEPLOYED" || s.state === "DEPLOYED"))
      .sort((a, b) => b.revisionNumber - a.revisionNumber);
    const top = live[0];
    return top?.state === "BEING_DEPLOYED" ? top : undefined;
  }

  /** Planning the applied plan's world again (same `now`) changes nothing. */
  #checkIdempotent(first: Plan): void {
    const again = plan(this.#cluster.snapshot(), this.#cluster.now * 1000);
    if (again.actions.length > 0) this.#fail(`not idempotent: actions ${JSON.stringify(again.actions)}`);
    if (again.events.length > 0) this.#fail(`not idempotent: events ${JSON.stringify(again.events)}`);
    if (!sameJson(again.status, first.status)) {
      this.#fail(
        `not idempotent: status ${JSON.stringify(first.status)} then ${JSON.stringify(again.status)}`,
      );
    }
  }

  /** Checks on the plan itself: R1, R8's deadline, no early failure of good revisions. */
  #checkPlan(result: Plan, before: ReadonlyMap<string, DeployedModelStatus>): void {
    for (const status of result.status.deployedModels) {
      const known = this.#revisions.get(status.id);
      if (known === undefined) this.#revisions.set(status.id, status.revisionNumber);
      else if (known !== status.revisionNumber) this.#fail(`R1: revision of ${status.id} changed`);
      if (status.previousDeployedModel !== undefined) {
        const holder = this.#given.get(status.revisionNumber);
        if (holder === undefined) this.#given.set(status.revisionNumber, status.id);
        else if (holder !== status.id) {
          this.#fail(`R1: revision ${status.revisionNumber} of ${status.id} was given to ${holder} before`);
        }
      }
      const failedNow = status.state === "FAILED" && before.get(status.id)?.state !== "FAILED";
      if (failedNow && status.reason !== undefined && !REFUSAL_REASONS.has(status.reason)) {
        if (this.#behaviour.get(status.id) === "good") this.#fail(`R8: good revision ${status.id} failed`);
        const since = this.#lastProgress.get(status.id);
        if (since !== undefined && this.#cluster.now < since + this.#deadlineOf(status.id)) {
          this.#fail(`R8: ${status.id} failed before its deadline (progress at ${since})`);
        }
      }
    }
    for (const chain of this.#chains) {
      const rolling = this.#rollingMember(chain, result.status);
      if (rolling === undefined || this.#behaviour.get(rolling.id) !== "never") continue;
      const since = this.#lastProgress.get(rolling.id);
      if (since !== undefined && this.#cluster.now >= since + this.#deadlineOf(rolling.id)) {
        this.#fail(`R8: ${rolling.id} still BEING_DEPLOYED after its deadline (progress at ${since})`);
      }
    }
  }

  /** A root has no rolloutOptions, so the default deadline; a rolling deployment the chain's. */
  #deadlineOf(id: string): number {
    const chain = this.#chains.find((c) => c.ids.includes(id));
    if (chain === undefined || chain.ids[0] === id) return DEFAULT_PROGRESS_DEADLINE_SECONDS;
    return chain.scenario.deadlineSeconds;
  }

  // ------------------------------------------------------------------ invariants

  #checkInvariants(): void {
    for (const chain of this.#chains) {
      const n = chain.scenario.replicas;
      const pods = [...this.#cluster.pods.values()].filter(
        (p) => !p.deleting && chain.ids.includes(p.modelId),
      );
      const available = pods.filter((p) => p.ready).length;
      if (pods.length > n + chain.budgets.maxSurge) {
        this.#fail(`R4: ${chain.name} has ${pods.length} pods > N ${n} + surge ${chain.budgets.maxSurge}`);
      }
      if (!this.#scenario.disruptions) {
        if (chain.baseline && available < n - chain.budgets.maxUnavailable) {
          this.#fail(
            `R4: ${chain.name} has ${available} available < N ${n} - unavailable ${chain.budgets.maxUnavailable}`,
          );
        }
        if (available >= n) chain.baseline = true;
      }
    }
  }

  /**
   * R6, as the engine labels pods: after a pass, a pod that is not Ready (so gets no traffic, whatever
   * its label) carries the `serving` label only in the endpoint's one chain with a traffic share, where
   * it should serve the moment it turns Ready. Anywhere else it would break the split when it did.
   */
  #checkLabels(): void {
    const split = this.#cluster.spec.trafficSplit;
    const withShare = this.#chains.filter((c) => c.ids.some((id) => (split[id] ?? 0) > 0));
    const sole = withShare.length === 1 ? withShare[0] : undefined;
    for (const pod of this.#cluster.pods.values()) {
      if (pod.serving && !pod.deleting && !pod.ready && !(sole?.ids.includes(pod.modelId) ?? false)) {
        this.#fail(`R6: ${pod.name} is not Ready and labelled to serve outside the only chain with a share`);
      }
    }
  }

  /**
   * Time passes quietly, straight to the next thing that happens (a pod becomes Ready, a terminating
   * pod goes, a requeue is due, at most a minute), with a pass after each, until nothing is left to do.
   */
  #settle(): void {
    const limit = this.#cluster.now + SETTLE_LIMIT_SECONDS;
    while (this.#cluster.now < limit) {
      this.#advance(60);
      this.#pass();
      this.#checkInvariants();
      const quiet =
        this.#requeueAt === undefined &&
        [...this.#cluster.replicaSets.values()].every(
          (rs) =>
            rs.observedGeneration === rs.generation &&
            rs.statusReplicas === this.#cluster.livePods(rs.id).length &&
            !rs.deleting,
        ) &&
        [...this.#cluster.pods.values()].every((p) => !p.deleting && (p.ready || p.readyAt === undefined));
      if (quiet) {
        const again = plan(this.#cluster.snapshot(), this.#cluster.now * 1000);
        if (again.actions.length === 0) return;
      }
    }
    this.#fail("did not settle");
  }

  /** Where every run must end: each chain on its newest revision that did not fail, N available. */
  #checkFinal(): void {
    const status = this.#cluster.status;
    if (status === undefined) return this.#fail("no status");
    const byId = new Map(status.deployedModels.map((s) => [s.id, s]));
    let allServing = true;
    for (const chain of this.#chains) {
      const members = chain.ids.flatMap((id) => byId.get(id) ?? []);
      for (const member of members) {
        const behaviour = this.#behaviour.get(member.id);
        const refused = member.reason !== undefined && REFUSAL_REASONS.has(member.reason);
        if (member.state === "FAILED" && !refused && behaviour !== "never")
          this.#fail(`${member.id} FAILED but is good`);
        // A broken revision fails, unless a later revision replaced it first (a rollback, R9).
        if (behaviour === "never" && !refused && member.state !== "FAILED" && member.state !== "REPLACED") {
          this.#fail(`${member.id} never becomes ready but is ${member.state}`);
        }
      }
      const live = members
        .filter((m) => m.state !== "FAILED")
        .sort((a, b) => b.revisionNumber - a.revisionNumber);
      const intended = live[0];
      const n = chain.scenario.replicas;
      for (const member of live.slice(1)) {
        if (member.state !== "REPLACED") this.#fail(`R3/R7: ${member.id} is ${member.state}, not REPLACED`);
      }
      if (intended === undefined) {
        allServing = false;
      } else if (intended.state !== "DEPLOYED") {
        this.#fail(`R3/R9: ${intended.id}, the newest live revision, is ${intended.state}`);
      } else if (intended.availableReplicaCount !== n) {
        this.#fail(`${intended.id} has ${intended.availableReplicaCount}/${n} available at the end`);
      }
      for (const id of chain.ids) {
        const pods = this.#cluster.livePods(id).length;
        // With no live revision left in spec, an entry that left spec keeps serving (it is all that
        // serves, and goes as soon as a revision can take over).
        if (intended === undefined && !byId.has(id)) continue;
        const expected = id === intended?.id ? n : 0;
        if (pods !== expected) this.#fail(`${id} ends with ${pods} pods, expected ${expected}`);
      }
    }
    // Ready needs every group of linked entries (a refused entry whose previous model is unknown is a
    // group of its own) to hold a DEPLOYED revision. Links as the status records them: a chain stays
    // whole when a middle revision leaves spec.
    const headOf = (id: string): string => {
      let current = id;
      for (let hops = 0; hops < 100; hops++) {
        const previous = byId.get(current)?.previousDeployedModel;
        if (previous === undefined || !byId.has(previous)) return current;
        current = previous;
      }
      return current;
    };
    const groups = new Set(status.deployedModels.map((s) => headOf(s.id)));
    for (const head of groups) {
      const deployed = status.deployedModels.some((s) => headOf(s.id) === head && s.state === "DEPLOYED");
      if (!deployed) allServing = false;
    }
    const ready = status.conditions.find((c) => c.type === "Ready");
    const degraded = status.conditions.find((c) => c.type === "Degraded");
    if ((ready?.status === "True") !== allServing)
      this.#fail(`Ready is ${ready?.status}, every chain serving: ${allServing}`);
    const anyFailed = status.deployedModels.some((s) => s.state === "FAILED");
    if ((degraded?.status === "True") !== anyFailed)
      this.#fail(`Degraded is ${degraded?.status}, FAILED entries: ${anyFailed}`);
    const total = Object.values(status.trafficSplit).reduce((a, b) => a + b, 0);
    if (total !== 0 && total !== 100) this.#fail(`traffic split sums to ${total}`);
    // Traffic is never stranded: a chain with a share and a DEPLOYED revision serves (a single chain
    // all of it), whichever of its entries holds the traffic key.
    for (const chain of this.#chains) {
      const share = chain.ids.reduce((sum, id) => sum + (this.#cluster.spec.trafficSplit[id] ?? 0), 0);
      const deployed = chain.ids.flatMap((id) => byId.get(id) ?? []).find((m) => m.state === "DEPLOYED");
      if (share === 0 || deployed === undefined) continue;
      if (total === 0)
        this.#fail(`traffic stranded: ${chain.name} has a ${share}% share and ${deployed.id} DEPLOYED`);
      if (this.#chains.length === 1 && status.trafficSplit[deployed.id] !== 100) {
        this.#fail(`${deployed.id} serves ${status.trafficSplit[deployed.id] ?? 0}%, not 100%`);
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  #pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.#random() * items.length)];
  }

  #log(line: string): void {
    this.#trace.push(`[${this.#cluster.now - T0}s] ${line}`);
    if (this.#trace.length > 400) this.#trace.splice(0, this.#trace.length - 300);
  }

  #fail(message: string): never {
    throw new SimViolation(message, this.#trace.slice(-120));
  }
}

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
