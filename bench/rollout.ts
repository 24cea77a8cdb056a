/**
 * Rollout speed, side by side: the same rolling update of N pods done by a plain Deployment (the
 * real deployment controller), by a ModelEndpoint rolling deployment (the operator) and, when it is
 * built, by an Argo Rollouts Rollout (canary without steps: a rolling update within the same
 * budgets, by rollouts-controller), one run at a time on one control plane, with pods Ready exactly
 * D after they were scheduled.
 *
 * A run creates version 1 (N Ready pods), lets the control plane settle, then changes to version 2
 * and measures, from the change:
 *
 * - wall time: until the object's status says the rollout is complete (Deployment: observed, N
 *   updated, N available, no old replicas, as `kubectl rollout status` judges; ModelEndpoint: the
 *   new model DEPLOYED, the old one REPLACED, Ready=True for the new generation, as `kubectl wait`;
 *   Rollout: observed and phase Healthy, as `kubectl argo rollouts status`);
 * - pods done: until N new pods were Ready and the last old pod was gone, as a watcher saw it;
 * - API writes (the API server's counters, read before and after), controller CPU time and the
 *   operator's (or rollouts-controller's) peak RSS;
 * - step latency: for each scale action, the time since the last pod turned Ready before it (only
 *   for actions a readiness change preceded);
 * - ModelEndpoint status writes that changed nothing.
 */
import { setTimeout as delay } from "node:timers/promises";

import type { KubeClient, ResourceType } from "../src/kube/client.ts";
import type { DeepReadonly, KubeObject } from "../src/kube/objects.ts";
import { modelEndpoints } from "../src/kube/client.ts";
import type { ControlPlane } from "../src/testing/controlplane.ts";
import type { OperatorProcess } from "../src/testing/operator-process.ts";
import { attribute, diffWrites, scrapeWrites, type WriteBreakdown } from "./lib/apiserver.ts";
import type { ArgoRolloutsController } from "./lib/argo.ts";
import { floorWaves, resolveBudgets } from "./lib/budgets.ts";
import {
  ARGO_ROLLOUTS,
  argoRollout,
  deployment,
  deploymentService,
  DEPLOYMENTS,
  modelEndpoint,
  rollDeployment,
  rollModelEndpoint,
  type ArgoRolloutObject,
  type Deployment,
  type ModelEndpointObject,
  type RolloutBudgets,
} from "./lib/objects.ts";
import {
  DECIDE_SECONDS,
  latencyBetween,
  RECONCILE_SECONDS,
  scrapeOperator,
  sumOf,
  type HistogramLatency,
} from "./lib/prom.ts";
import { ControlPlaneCpu, kcmPid, ProcessMeter } from "./lib/proc.ts";
import { argoRolloutDone, deploymentDone, endpointDone } from "./lib/done.ts";
import { load } from "./lib/stats.ts";
import { countStatusWrites, type StatusWriteCount } from "./lib/statuswrites.ts";
import { now, type PodRecord, type Timeline, type Tracker } from "./lib/timeline.ts";

export type System = "deployment" | "modelendpoint" | "argorollouts";
export const SYSTEMS: readonly System[] = ["deployment", "modelendpoint", "argorollouts"];
/** The fleet test's systems (bench/scale.ts): Argo Rollouts is in the rollout comparison only. */
export type FleetSystem = Exclude<System, "argorollouts">;

/**
 * The order of the systems in run `run`: rotated by one each run, so each goes first, second, ...
 * equally often and a drift in load favours none (with two systems: alternately one, then the other).
 */
export function runOrder<T>(systems: readonly T[], run: number): T[] {
  const k = systems.length === 0 ? 0 : run % systems.length;
  return [...systems.slice(k), ...systems.slice(0, k)];
}

export interface RolloutConfig {
  readonly id: string;
  readonly title: string;
  readonly budgets: RolloutBudgets;
}

export const CONFIGS: readonly RolloutConfig[] = [
  { id: "surge2", title: "maxSurge 2, maxUnavailable 0", budgets: { maxSurge: 2, maxUnavailable: 0 } },
  { id: "unavail2", title: "maxSurge 0, maxUnavailable 2", budgets: { maxSurge: 0, maxUnavailable: 2 } },
  {
    id: "pct25",
    title: "maxSurge 25%, maxUnavailable 25%",
    budgets: { maxSurge: "25%", maxUnavailable: "25%" },
  },
];

/** The unrecorded first rollout of each system. */
export const WARMUP: RolloutConfig = {
  id: "warmup",
  title: "warm-up",
  budgets: { maxSurge: 2, maxUnavailable: 0 },
};

export interface RolloutRun {
  readonly system: System;
  readonly config: string;
  readonly run: number;
  readonly n: number;
  readonly readyDelayMs: number;
  /** Load averages when the run started. */
  readonly load: readonly [number, number, number];
  readonly wallMs: number;
  readonly podsDoneMs: number;
  readonly waves: number;
  readonly floorMs: number;
  readonly overheadMs: number;
  readonly overheadPct: number;
  readonly writes: WriteBreakdown;
  /**
   * CPU of the controller under test's process: the operator, rollouts-controller, or all of
   * kube-controller-manager.
   */
  readonly controllerCpuMs: number;
  /** kube-controller-manager's CPU (it runs the ReplicaSet controller for both). */
  readonly kcmCpuMs: number;
  /** CPU of each control-plane process during the run (etcd, kube-apiserver, ...). */
  readonly componentCpuMs: Readonly<Record<string, number>>;
  readonly operatorCpuMs: number;
  readonly operatorPeakRssMiB: number;
  /** Argo Rollouts only: rollouts-controller's peak RSS. */
  readonly argoPeakRssMiB?: number;
  readonly stepLatenciesMs: readonly number[];
  /**
   * The most pods alive at once during the rollout ({@link peakPods}) and the ceiling R4 and the
   * Deployment controller's maxSurge set, N + maxSurge (absent in results before they were recorded).
   */
  readonly peakPods?: number;
  readonly podCeiling?: number;
  /** ModelEndpoint only. */
  readonly statusWrites?: StatusWriteCount;
  /** ModelEndpoint only: the operator's reconciles during the rollout, whole and before any API call. */
  readonly reconcile?: HistogramLatency;
  readonly decide?: HistogramLatency;
  /** What the watcher saw, relative to the change (ms): with --trace only. */
  readonly trace?: readonly string[];
  /** How long creating version 1 (until Ready) and removing everything took. */
  readonly setupMs?: number;
  readonly cleanupMs?: number;
}

export interface RolloutContext {
  readonly cp: ControlPlane;
  readonly client: KubeClient;
  readonly operator: OperatorProcess;
  /** Present when Argo Rollouts is one of the systems. */
  readonly argo?: ArgoRolloutsController;
  /** The systems compared (each has its timeline and namespace). */
  readonly timelines: Readonly<Partial<Record<System, Timeline>>>;
  readonly namespaces: Readonly<Partial<Record<System, string>>>;
  readonly n: number;
  readonly readyDelayMs: number;
  readonly settleMs: number;
  readonly log: (line: string) => void;
  readonly trace: boolean;
}

const TIMEOUT_MS = 180_000;

/** For each scale action, the time since the last Ready transition before it (if one came after the previous action). */
export function stepLatencies(timeline: Timeline, group: string, from: number, to: number): number[] {
  const scales = timeline.scales
    .filter((s) => s.group === group && s.t > from && s.t <= to)
    .sort((a, b) => a.t - b.t);
  const readies = [...timeline.pods.values()]
    .filter((p) => p.group === group && p.readyAt !== undefined && p.readyAt > from && p.readyAt <= to)
    .map((p) => p.readyAt ?? 0)
    .sort((a, b) => a - b);
  const out: number[] = [];
  let previous = from;
  for (const s of scales) {
    const last = readies.filter((r) => r > previous && r <= s.t).at(-1);
    if (last !== undefined) out.push(s.t - last);
    previous = s.t;
  }
  return out;
}

/** The run's events in order, "+1234.5 ms what", for reading a run step by step. */
function traceOf(timeline: Timeline, group: string, t0: number, tDone: number): string[] {
  const lines: [number, string][] = [];
  for (const p of timeline.pods.values()) {
    if (p.group !== group) continue;
    if (p.seenAt > t0) lines.push([p.seenAt, `pod ${p.name} (${p.version}) created`]);
    if (p.readyAt !== undefined && p.readyAt > t0)
      lines.push([p.readyAt, `pod ${p.name} (${p.version}) Ready`]);
    if (p.goneAt !== undefined && p.goneAt > t0) lines.push([p.goneAt, `pod ${p.name} (${p.version}) gone`]);
  }
  for (const s of timeline.scales)
    if (s.group === group && s.t > t0)
      lines.push([s.t, `scale ${s.replicaSet} ${String(s.from ?? "new")} -> ${String(s.to)}`]);
  for (const s of timeline.statuses)
    if (s.endpoint === group && s.t > t0) lines.push([s.t, `status ${s.changed ? "changed" : "same"}`]);
  for (const s of timeline.replicaSetStatuses)
    if (s.group === group && s.t > t0) lines.push([s.t, `rs ${s.replicaSet} ${s.what}`]);
  lines.push([tDone, "done"]);
  return lines.sort((a, b) => a[0] - b[0]).map(([t, what]) => `+${(t - t0).toFixed(1)} ${what}`);
}

/**
 * The most pods of `group` alive at once between `from` and `to`, as the watch saw them: created and
 * not yet terminating (R4 counts these; so does the Deployment controller's maxSurge).
 */
export function peakPods(pods: Iterable<PodRecord>, group: string, from: number, to: number): number {
  const changes: [number, number][] = [];
  let alive = 0;
  for (const p of pods) {
    if (p.group !== group || p.seenAt > to || (p.goneAt !== undefined && p.goneAt <= from)) continue;
    if (p.seenAt <= from) alive++;
    else changes.push([p.seenAt, 1]);
    if (p.goneAt !== undefined && p.goneAt <= to) changes.push([p.goneAt, -1]);
  }
  // At the same instant a pod going counts before one coming: the watch delivered them in that order.
  changes.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let peak = alive;
  for (const [, delta] of changes) {
    alive += delta;
    peak = Math.max(peak, alive);
  }
  return peak;
}

/** When N new pods were Ready and every old pod was gone (NaN when that never happened). */
function podsDone(timeline: Timeline, group: string, oldVersion: string, n: number): number {
  const pods = [...timeline.pods.values()].filter((p) => p.group === group);
  const fresh = pods.filter(
    (p) => p.version !== oldVersion && p.readyAt !== undefined && p.goneAt === undefined,
  );
  const old = pods.filter((p) => p.version === oldVersion);
  if (fresh.length < n || old.some((p) => p.goneAt === undefined)) return Number.NaN;
  return Math.max(...fresh.map((p) => p.readyAt ?? 0), ...old.map((p) => p.goneAt ?? 0));
}

/** What runRollout does with each system's object. */
interface Driver {
  /** Creates version 1 (and its Service); resolves once it is complete. */
  create(): Promise<number>;
  /** Changes to version 2; resolves with the time it was seen complete. */
  roll(): Promise<number>;
  /** Deletes the object (its ReplicaSets and pods go through the garbage collector) and its Service. */
  remove(): Promise<void>;
  /** The version label of the pods being replaced. */
  readonly oldVersion: string;
}

/** The object of one run: its name, namespace and budgets, and the timeline watching it. */
interface RunObject {
  readonly timeline: Timeline;
  readonly ns: string;
  readonly name: string;
  readonly config: RolloutConfig;
}

/** What differs between a Deployment and a Rollout for the bench. */
interface WorkloadKind<T extends KubeObject> {
  readonly type: ResourceType<T>;
  /** Version 1 with `replicas` pods within `budgets`. */
  readonly object: (namespace: string, name: string, replicas: number, budgets: RolloutBudgets) => T;
  readonly isDone: (generation: number, replicas: number) => (obj: DeepReadonly<T>) => boolean;
  /** The timeline's tracker of this kind. */
  readonly track: (
    timeline: Timeline,
  ) => (names: string[], isDone: (obj: DeepReadonly<T>) => boolean, timeoutMs: number) => Tracker;
}

const DEPLOYMENT_KIND: WorkloadKind<Deployment> = {
  type: DEPLOYMENTS,
  object: deployment,
  isDone: deploymentDone,
  track: (t) => (names, isDone, ms) => t.trackDeployments(names, isDone, ms),
};

const ROLLOUT_KIND: WorkloadKind<ArgoRolloutObject> = {
  type: ARGO_ROLLOUTS,
  object: argoRollout,
  isDone: argoRolloutDone,
  track: (t) => (names, isDone, ms) => t.trackRollouts(names, isDone, ms),
};

/**
 * A Deployment or a Rollout: the bench creates it with a Service in front, rolls it by a patch of
 * its pod template, and deletes both.
 */
function workloadDriver<T extends KubeObject>(
  ctx: RolloutContext,
  kind: WorkloadKind<T>,
  run: RunObject,
): Driver {
  const { client, n } = ctx;
  const { timeline, ns, name, config } = run;
  const objects = client.resource(kind.type);
  const track = kind.track(timeline);
  return {
    oldVersion: "1",
    create: async () => {
      await client.services.create(deploymentService(ns, name));
      const created = await objects.create(kind.object(ns, name, n, config.budgets));
      return track([name], kind.isDone(created.metadata?.generation ?? 1, n), TIMEOUT_MS).all;
    },
    roll: async () => {
      const patched = await objects.mergePatch(ns, name, rollDeployment(name));
      return track([name], kind.isDone(patched.metadata?.generation ?? 0, n), TIMEOUT_MS).all;
    },
    remove: async () => {
      await objects.delete(ns, name, { propagationPolicy: "Background" });
      await client.services.delete(ns, name);
    },
  };
}

function driverFor(ctx: RolloutContext, system: System, run: RunObject): Driver {
  const { client, n } = ctx;
  const { timeline, ns, name, config } = run;
  switch (system) {
    case "deployment":
      return workloadDriver(ctx, DEPLOYMENT_KIND, run);
    case "argorollouts":
      return workloadDriver(ctx, ROLLOUT_KIND, run);
    case "modelendpoint": {
      const endpoints = client.modelEndpoints<ModelEndpointObject>();
      return {
        oldVersion: "m1",
        create: async () => {
          const created = await endpoints.create(modelEndpoint(ns, name, n));
          const done = endpointDone(created.metadata?.generation ?? 1, { m1: "DEPLOYED" });
          return timeline.trackEndpoints([name], done, TIMEOUT_MS).all;
        },
        roll: async () => {
          const patched = await endpoints.mergePatch(ns, name, rollModelEndpoint(n, [config.budgets]));
          const done = endpointDone(patched.metadata?.generation ?? 0, { m1: "REPLACED", m2: "DEPLOYED" });
          return timeline.trackEndpoints([name], done, TIMEOUT_MS).all;
        },
        remove: async () => {
          await client.resource(modelEndpoints()).delete(ns, name, { propagationPolicy: "Background" });
        },
      };
    }
  }
}

/** The value for `system`, which the caller set up (its namespace, timeline, controller). */
function need<T>(value: T | undefined, what: string, system: System): T {
  if (value === undefined) throw new Error(`no ${what} for ${system}: it is not one of the compared systems`);
  return value;
}

/** One rollout of `system` with `config`; leaves nothing behind. */
export async function runRollout(
  ctx: RolloutContext,
  system: System,
  config: RolloutConfig,
  run: number,
): Promise<RolloutRun> {
  const { n } = ctx;
  const ns = need(ctx.namespaces[system], "namespace", system);
  const timeline = need(ctx.timelines[system], "timeline", system);
  const argo = system === "argorollouts" ? need(ctx.argo, "rollouts-controller", system) : undefined;
  const name = `${config.id}-${String(run)}`;
  const driver = driverFor(ctx, system, { timeline, ns, name, config });

  // Version 1, Ready.
  const setupStart = now();
  await driver.create();
  const setupMs = now() - setupStart;
  await delay(ctx.settleMs);

  // Version 2, measured.
  const kcm = kcmPid(ctx.cp);
  const before = await scrapeWrites(ctx.cp);
  const opMetricsBefore = await scrapeOperator(ctx.operator);
  const statusWritesBefore = sumOf(opMetricsBefore, "modelendpoint_status_writes_total");
  const opMeter = new ProcessMeter(ctx.operator.pid);
  const kcmMeter = new ProcessMeter(kcm);
  const argoMeter = argo === undefined ? undefined : new ProcessMeter(argo.pid);
  const cpMeter = new ControlPlaneCpu(ctx.cp);
  const startLoad = load();
  const t0 = now();
  const tDone = await driver.roll();
  await delay(ctx.settleMs);
  const writes = attribute(diffWrites(await scrapeWrites(ctx.cp), before));
  const op = opMeter.stop();
  const kcmUse = kcmMeter.stop();
  const argoUse = argoMeter?.stop();
  const componentCpuMs = cpMeter.read();
  const opMetricsAfter = await scrapeOperator(ctx.operator);
  const statusWritesAfter = sumOf(opMetricsAfter, "modelendpoint_status_writes_total");

  const { surge, unavailable } = resolveBudgets(n, config.budgets.maxSurge, config.budgets.maxUnavailable);
  const waves = floorWaves(n, surge, unavailable);
  const floorMs = waves * ctx.readyDelayMs;
  const wallMs = tDone - t0;
  const statusWrites =
    system === "modelendpoint"
      ? countStatusWrites(
          timeline.statuses.filter((s) => s.endpoint === name && s.t > t0),
          writes,
          statusWritesAfter - statusWritesBefore,
        )
      : undefined;
  const controllerCpuMs = {
    deployment: kcmUse.cpuMs,
    modelendpoint: op.cpuMs,
    argorollouts: argoUse?.cpuMs ?? 0,
  };
  const result: RolloutRun = {
    system,
    config: config.id,
    run,
    n,
    readyDelayMs: ctx.readyDelayMs,
    load: startLoad,
    wallMs,
    podsDoneMs: podsDone(timeline, name, driver.oldVersion, n) - t0,
    waves,
    floorMs,
    overheadMs: wallMs - floorMs,
    overheadPct: floorMs === 0 ? Number.NaN : ((wallMs - floorMs) / floorMs) * 100,
    writes,
    controllerCpuMs: controllerCpuMs[system],
    kcmCpuMs: kcmUse.cpuMs,
    componentCpuMs,
    operatorCpuMs: op.cpuMs,
    operatorPeakRssMiB: op.peakRssMiB,
    ...(argoUse === undefined ? {} : { argoPeakRssMiB: argoUse.peakRssMiB }),
    stepLatenciesMs: stepLatencies(timeline, name, t0, tDone),
    peakPods: peakPods(timeline.pods.values(), name, t0, tDone),
    podCeiling: n + surge,
    ...(statusWrites === undefined ? {} : { statusWrites }),
    ...(system === "modelendpoint"
      ? {
          reconcile: latencyBetween(opMetricsAfter, opMetricsBefore, RECONCILE_SECONDS),
          decide: latencyBetween(opMetricsAfter, opMetricsBefore, DECIDE_SECONDS),
        }
      : {}),
  };

  const trace = ctx.trace ? traceOf(timeline, name, t0, tDone) : undefined;

  // Clean up: the object and (through the garbage collector) everything it owns.
  await driver.remove();
  const cleanupStart = now();
  await timeline.podsGone(name, 60_000);
  timeline.forget(name);
  return { ...result, setupMs, cleanupMs: now() - cleanupStart, ...(trace === undefined ? {} : { trace }) };
}
