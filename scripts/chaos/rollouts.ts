/**
 * One endpoint's life in the chaos run: a first deployment, then rolling deployments one after the
 * other until the run stops starting new ones, each judged against the rules:
 *
 * - rolling: a new version onto the intended model, within random budgets; it must complete (the
 *   default progress deadline of 600 s is far longer than any fault lasts): the new model DEPLOYED
 *   with N available replicas and revision + 1 (above every number given before), the previous REPLACED with 0, all traffic on it;
 * - broken: a version whose pods never become Ready, with a short progress deadline; it must fail
 *   (ProgressDeadlineExceeded, "readiness probe failed on /health") and revert: the previous model
 *   DEPLOYED with N available replicas and all traffic again, Degraded=True;
 * - rollback: a version that never becomes Ready with the default deadline, and once it has pods, a
 *   rolling deployment of the previous version onto it (the Vertex AI rollback recipe, R9): the
 *   rollback must complete, both others REPLACED.
 *
 * After each rollout the user's next apply removes the models that are not the intended one and
 * moves the traffic share onto it, as the docs tell users to; their ReplicaSets must go away.
 *
 * The spec is compared with the last applied one at every read: a field the user set and the
 * stored object lacks is a violation (the operator never writes spec; nothing else may lose it).
 */
import { setTimeout as delay } from "node:timers/promises";

import type { InvariantWatcher } from "../../src/testing/watcher.ts";
import {
  holdsEveryField,
  LABEL_ENDPOINT,
  type Cluster,
  type EndpointSpec,
  type EntrySpec,
  type ModelStatus,
  type StoredEndpoint,
} from "./cluster.ts";
import type { Rng } from "./rng.ts";

export type RolloutKind = "rolling" | "broken" | "rollback";
export type Outcome = "completed" | "failed";

export interface RolloutRecord {
  readonly endpoint: string;
  readonly kind: RolloutKind;
  /** The entries the rollout added, in order. */
  readonly ids: string[];
  readonly onto: string;
  readonly budgets: string;
  readonly expected: Outcome;
  outcome?: Outcome | "stuck";
  seconds?: number;
}

export interface DriverContext {
  readonly cluster: Cluster;
  readonly watcher: InvariantWatcher;
  readonly rng: Rng;
  readonly log: (line: string) => void;
  readonly violation: (text: string) => void;
  /** True once no new rollout may start. */
  readonly stopping: () => boolean;
  /** How long one rollout (or a cleanup) may take to settle. */
  readonly settleTimeoutMs: number;
}

interface Budgets {
  /** rolloutOptions fields. */
  readonly options: Readonly<Record<string, number>>;
  /** What they resolve to for N (R4), computed here independently of the engine. */
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  readonly label: string;
}

/**
 * Random budgets and what they mean for N (R4): percentages of N, surge rounded up and
 * unavailability down, 25 % each when omitted, and unavailability 1 when both come to 0.
 */
export function randomBudgets(rng: Rng, n: number): Budgets {
  const options: Record<string, number> = {};
  let surge = Math.ceil((n * 25) / 100);
  let unavailable = Math.floor((n * 25) / 100);
  const surgeKind = rng.pick(["default", "replicas", "percentage"] as const);
  if (surgeKind === "replicas") {
    surge = rng.int(0, 2);
    options["maxSurgeReplicas"] = surge;
  } else if (surgeKind === "percentage") {
    const p = rng.pick([0, 20, 34, 50, 100]);
    surge = Math.ceil((n * p) / 100);
    options["maxSurgePercentage"] = p;
  }
  const unavailableKind = rng.pick(["default", "replicas", "percentage"] as const);
  if (unavailableKind === "replicas") {
    unavailable = rng.int(0, 2);
    options["maxUnavailableReplicas"] = unavailable;
  } else if (unavailableKind === "percentage") {
    const p = rng.pick([0, 25, 50]);
    unavailable = Math.floor((n * p) / 100);
    options["maxUnavailablePercentage"] = p;
  }
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return {
    options,
    maxSurge: surge,
    maxUnavailable: unavailable,
    label: `surge ${surge}/unavailable ${unavailable}`,
  };
}

/** 25 % each: surge rounds up (at least 1 for N >= 1), unavailability down. */
const DEFAULT_BUDGETS = (n: number): Budgets => ({
  options: {},
  maxSurge: Math.ceil(n / 4),
  maxUnavailable: Math.floor(n / 4),
  label: "default",
});

function entry(
  id: string,
  version: number,
  unready: boolean,
  rolloutOptions?: Record<string, string | number>,
): EntrySpec {
  return {
    id,
    model: `chaos-model@${version}`,
    containerSpec: {
      imageUri: `registry.example/chaos:${version}.0${unready ? "-unready" : ""}`,
      healthRoute: "/health",
      predictRoute: "/predict",
    },
    ...(rolloutOptions === undefined ? {} : { rolloutOptions }),
  };
}

const condition = (obj: StoredEndpoint, type: string): string | undefined =>
  obj.status?.conditions?.find((c) => c.type === type)?.status;

const current = (obj: StoredEndpoint): boolean => obj.status?.observedGeneration === obj.metadata.generation;

const sameSplit = (
  a: Readonly<Record<string, number>> | undefined,
  b: Readonly<Record<string, number>>,
): boolean =>
  JSON.stringify(
    Object.entries(a ?? {})
      .filter(([, v]) => v > 0)
      .sort(),
  ) === JSON.stringify(Object.entries(b).sort());

export class EndpointDriver {
  readonly name: string;
  readonly n: number;
  readonly records: RolloutRecord[] = [];
  readonly #ctx: DriverContext;
  #applied: EndpointSpec | undefined;
  #intended: EntrySpec | undefined;
  #intendedRevision = 0;
  /** The highest revision number the endpoint has given: a new rollout's number is above it (R1). */
  #latestRevision = 0;
  #version = 0;
  #broken = false;

  constructor(ctx: DriverContext, name: string, n: number) {
    this.#ctx = ctx;
    this.name = name;
    this.n = n;
  }

  /** The spec last applied (what the stored object must hold). */
  get applied(): EndpointSpec | undefined {
    return this.#applied;
  }

  /** False once a rollout got stuck or ended against the rules (the driver stopped there). */
  get healthy(): boolean {
    return !this.#broken;
  }

  async run(): Promise<void> {
    await this.#deployFirst();
    while (!this.#broken && !this.#ctx.stopping()) {
      const kind = this.#ctx.rng.weighted({ rolling: 6, broken: 2, rollback: 2 });
      await this.#rollout(kind);
    }
  }

  async #apply(spec: EndpointSpec): Promise<void> {
    await this.#ctx.cluster.apply(this.name, spec);
    this.#applied = spec;
  }

  /** Reads the endpoint and checks that it holds every field last applied. */
  async read(): Promise<StoredEndpoint> {
    const obj = await this.#ctx.cluster.get(this.name);
    if (this.#applied !== undefined && !holdsEveryField(this.#applied, obj.spec)) {
      this.#ctx.violation(
        `${this.name}: the stored spec lost a field: applied ${JSON.stringify(this.#applied)}, stored ${JSON.stringify(obj.spec)}`,
      );
    }
    return obj;
  }

  async #deployFirst(): Promise<void> {
    const first: EntrySpec = {
      ...entry("m1", 1, false),
      dedicatedResources: {
        machineSpec: { machineType: "n1-standard-2" },
        minReplicaCount: this.n,
        maxReplicaCount: this.n,
      },
    };
    this.#version = 1;
    await this.#apply({
      displayName: `chaos ${this.name} — ünïcode ✓`,
      trafficSplit: { m1: 100 },
      deployedModels: [first],
    });
    const obj = await this.#until("m1 DEPLOYED", (o) => {
      const m1 = model(o, "m1");
      return (
        m1?.state === "DEPLOYED" &&
        m1.availableReplicaCount === this.n &&
        condition(o, "Ready") === "True" &&
        current(o)
      );
    });
    if (obj === undefined || obj === "wrong") {
      this.#broken = true;
      return;
    }
    this.#intended = first;
    this.#intendedRevision = model(obj, "m1")?.revisionNumber ?? 0;
    this.#latestRevision = this.#intendedRevision;
    if (this.#intendedRevision !== 1)
      this.#ctx.violation(`${this.name}: m1 has revision ${this.#intendedRevision}, not 1 (R1)`);
    const budgets = DEFAULT_BUDGETS(this.n);
    this.#ctx.watcher.watchChain({ endpoint: this.name, models: ["m1"], n: this.n, ...budgets });
    this.#ctx.log(`${this.name}: m1 deployed (N=${this.n})`);
  }

  async #rollout(kind: RolloutKind): Promise<void> {
    const { rng, watcher } = this.#ctx;
    const prev = this.#intended;
    const applied = this.#applied;
    if (prev === undefined || applied === undefined) return;
    const budgets = randomBudgets(rng, this.n);
    const started = Date.now();
    const added: EntrySpec[] = [];
    if (kind === "rolling") {
      this.#version++;
      added.push(
        entry(`m${this.#version}`, this.#version, false, {
          previousDeployedModel: prev.id,
          ...budgets.options,
        }),
      );
    } else if (kind === "broken") {
      this.#version++;
      const deadline = rng.int(8, 15);
      added.push(
        entry(`m${this.#version}`, this.#version, true, {
          previousDeployedModel: prev.id,
          ...budgets.options,
          progressDeadlineSeconds: deadline,
        }),
      );
    } else {
      this.#version++;
      added.push(
        entry(`m${this.#version}`, this.#version, true, {
          previousDeployedModel: prev.id,
          ...budgets.options,
        }),
      );
    }
    const record: RolloutRecord = {
      endpoint: this.name,
      kind,
      ids: added.map((e) => e.id),
      onto: prev.id,
      budgets: budgets.label,
      expected: kind === "broken" ? "failed" : "completed",
    };
    this.records.push(record);
    const first = added[0] as EntrySpec;
    watcher.unwatchChains(this.name);
    watcher.watchChain({
      endpoint: this.name,
      models: [
        ...applied.deployedModels.map((e) => e.id),
        first.id,
        ...(kind === "rollback" ? [`m${this.#version + 1}`] : []),
      ],
      n: this.n,
      maxSurge: budgets.maxSurge,
      maxUnavailable: budgets.maxUnavailable,
    });
    this.#ctx.log(`${this.name}: ${kind} ${first.id} onto ${prev.id} (${budgets.label})`);
    await this.#apply({ ...applied, deployedModels: [...applied.deployedModels, first] });

    if (kind === "rollback") {
      const inProgress = await this.#until(`${first.id} has pods (in progress)`, (o) => {
        const m = model(o, first.id);
        return m?.state === "BEING_DEPLOYED" && (m.replicas ?? 0) >= 1;
      });
      if (inProgress === undefined) {
        this.#stuck(record);
        return;
      }
      this.#version++;
      // The previous version again, rolled onto the in-progress one.
      const back: EntrySpec = {
        ...entry(`m${this.#version}`, this.#version, false, {
          previousDeployedModel: first.id,
          ...budgets.options,
        }),
        model: prev.model,
        containerSpec: prev.containerSpec,
      };
      added.push(back);
      record.ids.push(back.id);
      const now = this.#applied ?? applied;
      await this.#apply({ ...now, deployedModels: [...now.deployedModels, back] });
    }

    const target = added.at(-1) as EntrySpec;
    const others = [prev.id, ...added.slice(0, -1).map((e) => e.id)];
    const settled =
      record.expected === "completed"
        ? await this.#until(`${target.id} DEPLOYED`, (o) => {
            const t = model(o, target.id);
            if (t?.state === "FAILED") return "wrong";
            return (
              current(o) &&
              t?.state === "DEPLOYED" &&
              t.availableReplicaCount === this.n &&
              others.every((id) => model(o, id)?.state === "REPLACED" && model(o, id)?.replicas === 0) &&
              condition(o, "Ready") === "True" &&
              sameSplit(o.status?.trafficSplit, { [target.id]: 100 })
            );
          })
        : await this.#until(`${target.id} FAILED and reverted`, (o) => {
            const t = model(o, target.id);
            const p = model(o, prev.id);
            if (t?.state === "DEPLOYED") return "wrong";
            return (
              current(o) &&
              t?.state === "FAILED" &&
              t.replicas === 0 &&
              p?.state === "DEPLOYED" &&
              p.availableReplicaCount === this.n &&
              sameSplit(o.status?.trafficSplit, { [prev.id]: 100 })
            );
          });
    if (settled === undefined) {
      this.#stuck(record);
      return;
    }
    if (settled === "wrong") {
      this.#broken = true;
      record.outcome = record.expected === "completed" ? "failed" : "completed";
      this.#ctx.violation(
        `${this.name}: ${kind} ${record.ids.join("+")} onto ${prev.id} ended ${record.outcome}, expected ${record.expected}: ${JSON.stringify((await this.read()).status)}`,
      );
      return;
    }
    record.outcome = record.expected;
    record.seconds = (Date.now() - started) / 1000;
    this.#judge(settled, record, prev, added);

    const keep = record.expected === "completed" ? target : prev;
    this.#ctx.log(
      `${this.name}: ${kind} ${record.ids.join("+")} ${record.outcome} in ${record.seconds.toFixed(1)}s; ${keep.id} serves`,
    );
    const keepRevision = model(settled, keep.id)?.revisionNumber ?? 0;
    await this.#cleanUp(keep, applied.displayName);
    this.#intended = keep;
    this.#intendedRevision = keepRevision;
  }

  /** Checks the settled status against the rules beyond what settling waited for. */
  #judge(obj: StoredEndpoint, record: RolloutRecord, prev: EntrySpec, added: readonly EntrySpec[]): void {
    const fail = (what: string): void => {
      this.#ctx.violation(`${this.name}: ${record.kind} ${record.ids.join("+")}: ${what}`);
    };
    // previous + 1, and above every number given before (a failed revision's number is not reused).
    const base = Math.max(this.#intendedRevision, this.#latestRevision);
    added.forEach((e, i) => {
      const revision = model(obj, e.id)?.revisionNumber;
      if (revision !== base + i + 1)
        fail(`${e.id} has revision ${String(revision)}, expected ${base + i + 1} (R1)`);
    });
    this.#latestRevision = base + added.length;
    if (record.expected === "failed") {
      const t = model(obj, added[0]?.id ?? "");
      if (t?.reason !== "ProgressDeadlineExceeded")
        fail(`reason ${String(t?.reason)}, expected ProgressDeadlineExceeded (R8)`);
      // How far it got and, when its pods gave one, why: "0/5 new replicas became ready: readiness
      // probe failed on /health (no progress for 12s)". (When the ReplicaSet controller lags after
      // an API server restart the rollout may fail before any pod exists: then no pod says why.)
      const message = t?.message ?? "";
      const reason = /^\d+\/\d+ new replicas became ready(: (.*))? \(no progress for \d+s\)$/.exec(message);
      if (reason === null)
        fail(`message "${message}" is not "<available>/<N> new replicas became ready..." (R8)`);
      else if (
        reason[2] !== undefined &&
        !/readiness probe failed on \/health|not scheduled or not started yet/.test(reason[2])
      )
        fail(`message "${message}" gives a reason the pods did not (R8)`);
      if (condition(obj, "Degraded") !== "True") fail("Degraded is not True after the revert");
    } else if (model(obj, prev.id)?.state !== "REPLACED") {
      fail(`${prev.id} is ${String(model(obj, prev.id)?.state)}, expected REPLACED (R7)`);
    }
  }

  /** The user's follow-up: only the intended model stays, with all the traffic. */
  async #cleanUp(keep: EntrySpec, displayName: string): Promise<void> {
    const applied = this.#applied;
    if (applied === undefined) return;
    const removed = applied.deployedModels.map((e) => e.id).filter((id) => id !== keep.id);
    await this.#apply({ displayName, trafficSplit: { [keep.id]: 100 }, deployedModels: [keep] });
    const done = await this.#until(`only ${keep.id} left`, async (o) => {
      if (!current(o) || condition(o, "Ready") !== "True") return false;
      if ((o.status?.deployedModels ?? []).map((m) => m.id).join() !== keep.id) return false;
      const left = await this.#ctx.cluster.apps.listNamespacedReplicaSet({
        namespace: this.#ctx.cluster.namespace,
        labelSelector: `${LABEL_ENDPOINT}=${this.name}`,
      });
      return left.items.every((rs) => !removed.some((id) => rs.metadata?.name === `${this.name}-${id}`));
    });
    if (done === undefined || done === "wrong") {
      this.#broken = true;
      return;
    }
    const budgets =
      keep.rolloutOptions === undefined ? DEFAULT_BUDGETS(this.n) : this.#resolve(keep.rolloutOptions);
    this.#ctx.watcher.unwatchChains(this.name);
    this.#ctx.watcher.watchChain({ endpoint: this.name, models: [keep.id], n: this.n, ...budgets });
  }

  /** The budgets an entry's rolloutOptions resolve to (R4). */
  #resolve(options: Readonly<Record<string, string | number>>): Budgets {
    const num = (k: string): number | undefined => (typeof options[k] === "number" ? options[k] : undefined);
    const surgeP = num("maxSurgePercentage");
    const unavailableP = num("maxUnavailablePercentage");
    const surge = num("maxSurgeReplicas") ?? Math.ceil((this.n * (surgeP ?? 25)) / 100);
    let unavailable = num("maxUnavailableReplicas") ?? Math.floor((this.n * (unavailableP ?? 25)) / 100);
    if (surge === 0 && unavailable === 0) unavailable = 1;
    return {
      options: {},
      maxSurge: surge,
      maxUnavailable: unavailable,
      label: `surge ${surge}/unavailable ${unavailable}`,
    };
  }

  #stuck(record: RolloutRecord): void {
    record.outcome = "stuck";
    this.#broken = true;
  }

  /**
   * Polls the endpoint until `done` says so ("wrong" ends the wait too) or the settle timeout
   * passes (a violation: the rollout got stuck). Undefined on timeout.
   */
  async #until(
    what: string,
    done: (obj: StoredEndpoint) => boolean | "wrong" | Promise<boolean | "wrong">,
  ): Promise<StoredEndpoint | "wrong" | undefined> {
    const deadline = Date.now() + this.#ctx.settleTimeoutMs;
    let last: StoredEndpoint | undefined;
    for (;;) {
      try {
        last = await this.read();
        const verdict = await done(last);
        if (verdict === "wrong") return "wrong";
        if (verdict) return last;
      } catch {
        // the API server is down: keep polling
      }
      if (Date.now() > deadline) {
        this.#ctx.violation(
          `${this.name}: waited ${this.#ctx.settleTimeoutMs / 1000}s for ${what}; status: ${JSON.stringify(last?.status)}`,
        );
        return undefined;
      }
      await delay(500);
    }
  }
}

function model(obj: StoredEndpoint, id: string): ModelStatus | undefined {
  return obj.status?.deployedModels?.find((m) => m.id === id);
}
