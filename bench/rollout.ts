/**
 * Rollout speed, side by side: the same rolling update of N pods done by a plain Deployment (the
 * real deployment controller) and by a ModelEndpoint rolling deployment (the operator), one run at
 * a time on one control plane, with pods Ready exactly D after they were scheduled.
 *
 * A run creates version 1 (N Ready pods), lets the control plane settle, then changes to version 2
 * and measures, from the change:
 *
 * - wall time: until the object's status says the rollout is complete (Deployment: observed, N
 *   updated, N available, no old replicas, as `kubectl rollout status` judges; ModelEndpoint: the
 *   new model DEPLOYED, the old one REPLACED, Ready=True for the new generation, as `kubectl wait`);
 * - pods done: until N new pods were Ready and the last old pod was gone, as a watcher saw it;
 * - API writes (the API server's counters, read before and after), controller CPU time and the
 *   operator's peak RSS;
 * - step latency: for each scale action, the time since the last pod turned Ready before it (only
 *   for actions a readiness change preceded);
 * - ModelEndpoint status writes that changed nothing.
 */
import { setTimeout as delay } from "node:timers/promises";

import type { KubeClient } from "../src/kube/client.ts";
import { modelEndpoints } from "../src/kube/client.ts";
import type { ControlPlane } from "../src/testing/controlplane.ts";
import type { OperatorProcess } from "../src/testing/operator-process.ts";
import { attribute, diffWrites, scrapeWrites, type WriteBreakdown } from "./lib/apiserver.ts";
import { floorWaves, resolveBudgets } from "./lib/budgets.ts";
import {
  deployment,
  deploymentService,
  DEPLOYMENTS,
  modelEndpoint,
  rollDeployment,
  rollModelEndpoint,
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
import { deploymentDone, endpointDone } from "./lib/done.ts";
import { load } from "./lib/stats.ts";
import { countStatusWrites, type StatusWriteCount } from "./lib/statuswrites.ts";
import { now, type Timeline } from "./lib/timeline.ts";

export type System = "deployment" | "modelendpoint";
export const SYSTEMS: readonly System[] = ["deployment", "modelendpoint"];

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
  /** CPU of the controller under test's process: the operator, or all of kube-controller-manager. */
  readonly controllerCpuMs: number;
  /** kube-controller-manager's CPU (it runs the ReplicaSet controller for both). */
  readonly kcmCpuMs: number;
  /** CPU of each control-plane process during the run (etcd, kube-apiserver, ...). */
  readonly componentCpuMs: Readonly<Record<string, number>>;
  readonly operatorCpuMs: number;
  readonly operatorPeakRssMiB: number;
  readonly stepLatenciesMs: readonly number[];
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
  readonly timelines: Readonly<Record<System, Timeline>>;
  readonly namespaces: Readonly<Record<System, string>>;
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
  lines.push([tDone, "done"]);
  return lines.sort((a, b) => a[0] - b[0]).map(([t, what]) => `+${(t - t0).toFixed(1)} ${what}`);
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

/** One rollout of `system` with `config`; leaves nothing behind. */
export async function runRollout(
  ctx: RolloutContext,
  system: System,
  config: RolloutConfig,
  run: number,
): Promise<RolloutRun> {
  const { client, n } = ctx;
  const ns = ctx.namespaces[system];
  const timeline = ctx.timelines[system];
  const name = `${config.id}-${String(run)}`;
  const endpoints = client.modelEndpoints<ModelEndpointObject>();
  const deployments = client.resource(DEPLOYMENTS);

  // Version 1, Ready.
  const setupStart = now();
  if (system === "deployment") {
    await client.services.create(deploymentService(ns, name));
    const created = await deployments.create(deployment(ns, name, n, config.budgets));
    await timeline.trackDeployments([name], deploymentDone(created.metadata?.generation ?? 1, n), TIMEOUT_MS)
      .all;
  } else {
    const created = await endpoints.create(modelEndpoint(ns, name, n));
    await timeline.trackEndpoints(
      [name],
      endpointDone(created.metadata?.generation ?? 1, { m1: "DEPLOYED" }),
      TIMEOUT_MS,
    ).all;
  }
  const setupMs = now() - setupStart;
  await delay(ctx.settleMs);

  // Version 2, measured.
  const kcm = kcmPid(ctx.cp);
  const before = await scrapeWrites(ctx.cp);
  const opMetricsBefore = await scrapeOperator(ctx.operator);
  const statusWritesBefore = sumOf(opMetricsBefore, "modelendpoint_status_writes_total");
  const opMeter = new ProcessMeter(ctx.operator.pid);
  const kcmMeter = new ProcessMeter(kcm);
  const cpMeter = new ControlPlaneCpu(ctx.cp);
  const startLoad = load();
  const t0 = now();
  let tDone: number;
  if (system === "deployment") {
    const patched = await deployments.mergePatch(ns, name, rollDeployment(name));
    tDone = await timeline.trackDeployments(
      [name],
      deploymentDone(patched.metadata?.generation ?? 0, n),
      TIMEOUT_MS,
    ).all;
  } else {
    const patched = await endpoints.mergePatch(ns, name, rollModelEndpoint(n, [config.budgets]));
    tDone = await timeline.trackEndpoints(
      [name],
      endpointDone(patched.metadata?.generation ?? 0, { m1: "REPLACED", m2: "DEPLOYED" }),
      TIMEOUT_MS,
    ).all;
  }
  await delay(ctx.settleMs);
  const writes = attribute(diffWrites(await scrapeWrites(ctx.cp), before));
  const op = opMeter.stop();
  const kcmUse = kcmMeter.stop();
  const componentCpuMs = cpMeter.stop();
  const opMetricsAfter = await scrapeOperator(ctx.operator);
  const statusWritesAfter = sumOf(opMetricsAfter, "modelendpoint_status_writes_total");

  const { surge, unavailable } = resolveBudgets(n, config.budgets.maxSurge, config.budgets.maxUnavailable);
  const waves = floorWaves(n, surge, unavailable);
  const floorMs = waves * ctx.readyDelayMs;
  const wallMs = tDone - t0;
  const oldVersion = system === "deployment" ? "1" : "m1";
  const statusWrites =
    system === "modelendpoint"
      ? countStatusWrites(
          timeline.statuses.filter((s) => s.endpoint === name && s.t > t0),
          writes,
          statusWritesAfter - statusWritesBefore,
        )
      : undefined;
  const result: RolloutRun = {
    system,
    config: config.id,
    run,
    n,
    readyDelayMs: ctx.readyDelayMs,
    load: startLoad,
    wallMs,
    podsDoneMs: podsDone(timeline, name, oldVersion, n) - t0,
    waves,
    floorMs,
    overheadMs: wallMs - floorMs,
    overheadPct: floorMs === 0 ? Number.NaN : ((wallMs - floorMs) / floorMs) * 100,
    writes,
    controllerCpuMs: system === "deployment" ? kcmUse.cpuMs : op.cpuMs,
    kcmCpuMs: kcmUse.cpuMs,
    componentCpuMs,
    operatorCpuMs: op.cpuMs,
    operatorPeakRssMiB: op.peakRssMiB,
    stepLatenciesMs: stepLatencies(timeline, name, t0, tDone),
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
  if (system === "deployment") {
    await deployments.delete(ns, name, { propagationPolicy: "Background" });
    await client.services.delete(ns, name);
  } else {
    await client.resource(modelEndpoints()).delete(ns, name, { propagationPolicy: "Background" });
  }
  const cleanupStart = now();
  await timeline.podsGone(name, 60_000);
  timeline.forget(name);
  return { ...result, setupMs, cleanupMs: now() - cleanupStart, ...(trace === undefined ? {} : { trace }) };
}
