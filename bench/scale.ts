/**
 * Fleet scale: K ModelEndpoints of 2 replicas created at once, then a rolling deployment on all of
 * them at once, against K Deployments (with a Service each) created and rolled the same way on the
 * same control plane. One fleet at a time, each in a namespace of its own that is deleted after.
 *
 * Measured per fleet: time until all are Ready (and the median object's time), time until all
 * rollouts are complete, the controller's CPU, API writes, and for the operator: reconcile latency
 * (its modelendpoint_reconcile_duration_seconds histogram), the work-queue depth's peak (its
 * modelendpoint_workqueue_depth gauge, sampled every second), peak RSS (the kernel's high-water
 * mark), and status writes that changed nothing.
 */
import { setTimeout as delay } from "node:timers/promises";

import type { KubeClient } from "../src/kube/client.ts";
import { PODDISRUPTIONBUDGETS } from "../src/kube/client.ts";
import { NotFoundError } from "../src/kube/errors.ts";
import type { ControlPlane } from "../src/testing/controlplane.ts";
import type { OperatorProcess } from "../src/testing/operator-process.ts";
import { attribute, diffWrites, scrapeWrites, type WriteBreakdown } from "./lib/apiserver.ts";
import {
  deployment,
  deploymentDisruptionBudget,
  deploymentService,
  deploymentVersionService,
  DEPLOYMENTS,
  modelEndpoint,
  NAMESPACES,
  rollDeployment,
  rollModelEndpoint,
  type ModelEndpointObject,
  type RolloutBudgets,
} from "./lib/objects.ts";
import {
  DECIDE_SECONDS,
  latencyBetween,
  NO_LATENCY,
  RECONCILE_SECONDS,
  scrapeOperator,
  sumOf,
  type HistogramLatency,
} from "./lib/prom.ts";
import { ControlPlaneCpu, kcmPid, ProcessMeter } from "./lib/proc.ts";
import { deploymentDone, endpointDone } from "./lib/done.ts";
import { load, summarize } from "./lib/stats.ts";
import { num } from "./lib/table.ts";
import { now, Timeline, TrackerTimedOut, type Tracker } from "./lib/timeline.ts";
import type { FleetSystem } from "./rollout.ts";
import { countStatusWrites, type StatusWriteCount } from "./lib/statuswrites.ts";
import { apfBetween, scrapeApf, type ApfUse } from "./lib/apf.ts";

export type ReconcileLatency = HistogramLatency;

export interface ScaleRun {
  readonly system: FleetSystem;
  readonly fleet: number;
  readonly run: number;
  readonly load: readonly [number, number, number];
  /** From the first create to the last object Ready. */
  readonly readyMs: number;
  /** ... to the median object Ready. */
  readonly readyP50Ms: number;
  /** From the first change to the last rollout complete. */
  readonly rolledMs: number;
  readonly rolledP50Ms: number;
  /**
   * Set when a phase ran past the bench's per-phase timeout: the run's figures are kept (NaN for
   * the times it did not reach; a fleet not all Ready is not rolled) and the bench goes on.
   */
  readonly timedOut?: { readonly phase: "ready" | "rolled"; readonly done: number; readonly of: number };
  /** Reconcile latency over both phases (operator only; NaN for a Deployment). */
  readonly reconcile: ReconcileLatency;
  readonly reconcileCreate: ReconcileLatency;
  readonly reconcileRoll: ReconcileLatency;
  /** The part of each reconcile spent before any API call, over the whole run. */
  readonly decide: ReconcileLatency;
  readonly queueDepthPeak: number;
  readonly operatorPeakRssMiB: number;
  readonly operatorRssAfterMiB: number;
  /** Peaks of the operator's V8 heap and external memory, sampled every second. */
  readonly operatorMemory: MemoryPeaks;
  /** The operator's CPU, or all of kube-controller-manager's for a Deployment fleet. */
  readonly controllerCpuMs: number;
  readonly kcmCpuMs: number;
  /** CPU of each control-plane process during the run (etcd, kube-apiserver, ...). */
  readonly componentCpuMs: Readonly<Record<string, number>>;
  /**
   * The same from the start to 2 s after all Ready: the creation's share (the rollout's is the rest).
   * Absent from results made before 2026-12-05.
   */
  readonly componentCpuCreateMs?: Readonly<Record<string, number>>;
  readonly operatorCpuMs: number;
  readonly writes: WriteBreakdown;
  readonly statusWrites?: StatusWriteCount;
  /** What API Priority and Fairness dispatched, rejected and queued, per priority level. */
  readonly apf?: readonly ApfUse[];
  /** How long deleting the fleet's namespace took (not part of any figure). */
  readonly cleanupMs: number;
}

export interface ScaleContext {
  readonly cp: ControlPlane;
  readonly client: KubeClient;
  readonly operator: OperatorProcess;
  readonly fleet: number;
  readonly run: number;
  /** The last repetition: its second fleet's namespace is deleted without waiting. */
  readonly last: boolean;
  /** The fleets to run (both by default). */
  readonly systems: readonly FleetSystem[];
  /** Each Deployment gets a PodDisruptionBudget, as each chain of an endpoint has one. */
  readonly deploymentPdb: boolean;
  /** Each Deployment also gets a Service per version of its pods, as an endpoint has per model. */
  readonly deploymentModelServices: boolean;
  readonly log: (line: string) => void;
}

const REPLICAS = 2;
const BUDGETS: RolloutBudgets = { maxSurge: 1, maxUnavailable: 0 };
/** Requests the bench keeps in flight while creating or changing a fleet (the same for both). */
const CONCURRENCY = 32;

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * When the tracker's last object was seen done; NaN when the phase ran past its timeout (a fleet that
 * big records what it reached instead of ending the bench without a results file).
 */
async function finished(tracker: Tracker): Promise<number> {
  try {
    return await tracker.all;
  } catch (err) {
    if (!(err instanceof TrackerTimedOut)) throw err;
    return Number.NaN;
  }
}

/** The median object's time from `t0`; NaN unless all `of` were done. */
function p50(tracker: Tracker, t0: number, of: number): number {
  if (tracker.doneAt.size < of) return Number.NaN;
  return summarize([...tracker.doneAt.values()].map((t) => t - t0)).median;
}

async function deleteNamespace(client: KubeClient, ns: string, log: (line: string) => void): Promise<number> {
  const started = now();
  const namespaces = client.resource(NAMESPACES);
  await namespaces.delete("", ns, { propagationPolicy: "Background" });
  for (;;) {
    try {
      await namespaces.get("", ns);
    } catch (err) {
      if (err instanceof NotFoundError) return now() - started;
      throw err;
    }
    if (now() - started > 900_000) {
      log(`namespace ${ns} still there after 15 minutes; going on`);
      return now() - started;
    }
    await delay(1000);
  }
}

/** What the operator's memory peaked at, by kind (MiB), from its own process metrics. */
export interface MemoryPeaks {
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  readonly externalMiB: number;
}

const MEMORY_METRICS = {
  heapUsedMiB: "modelendpoint_nodejs_heap_size_used_bytes",
  heapTotalMiB: "modelendpoint_nodejs_heap_size_total_bytes",
  externalMiB: "modelendpoint_nodejs_external_memory_bytes",
} as const;

/**
 * Samples the operator's queue depth and memory every second until stopped; returns the peaks.
 * (The depth is a gauge: a peak shorter than a second can be missed.)
 */
function sampler(operator: OperatorProcess): { stop: () => Promise<{ queue: number; memory: MemoryPeaks }> } {
  let queue = 0;
  const memory: Record<keyof MemoryPeaks, number> = { heapUsedMiB: 0, heapTotalMiB: 0, externalMiB: 0 };
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      try {
        const m = await scrapeOperator(operator, ["modelendpoint_workqueue_depth", "modelendpoint_nodejs_"]);
        queue = Math.max(queue, sumOf(m, "modelendpoint_workqueue_depth"));
        for (const [k, name] of Object.entries(MEMORY_METRICS) as [keyof MemoryPeaks, string][])
          memory[k] = Math.max(memory[k], sumOf(m, name) / 2 ** 20);
      } catch {
        // A scrape that fails under load is skipped.
      }
      await delay(1000);
    }
  })();
  return {
    stop: async () => {
      state.running = false;
      await loop;
      return { queue, memory };
    },
  };
}

async function runFleet(ctx: ScaleContext, system: FleetSystem, wait: boolean): Promise<ScaleRun> {
  const { client, fleet, operator, log } = ctx;
  const ns = `bench-fleet-${system === "deployment" ? "dep" : "mep"}-${String(fleet)}-${String(ctx.run)}`;
  await client.resource(NAMESPACES).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  const timeline = await Timeline.start(client, ns);
  const names = Array.from({ length: fleet }, (_, i) => `f${String(i).padStart(4, "0")}`);
  const deployments = client.resource(DEPLOYMENTS);
  const endpoints = client.modelEndpoints<ModelEndpointObject>();
  // Per phase. 0.6 s per object ended a ModelEndpoint fleet of 5000 before its rollout completed
  // on two cores (and the run without a results file); the bound only stops a stuck run.
  const timeoutMs = 120_000 + fleet * 1500;
  /** When the phase's last object was done, or NaN when the phase ran past its timeout; logged. */
  const settle = async (phase: "Ready" | "rolled", tracker: Tracker, from: number): Promise<number> => {
    const t = await finished(tracker);
    log(
      Number.isNaN(t)
        ? `fleet ${String(fleet)} ${system}: not all ${phase} within ${String(timeoutMs / 1000)}s: ${String(tracker.doneAt.size)} of ${String(fleet)}`
        : `fleet ${String(fleet)} ${system}: all ${phase} in ${((t - from) / 1000).toFixed(1)}s`,
    );
    return t;
  };
  try {
    await delay(2000);
    const startLoad = load();
    const writesBefore = await scrapeWrites(ctx.cp);
    const apfBefore = await scrapeApf(ctx.cp);
    const opBefore = await scrapeOperator(operator);
    const opMeter = new ProcessMeter(operator.pid, 500);
    const kcmMeter = new ProcessMeter(kcmPid(ctx.cp), 500);
    const cpMeter = new ControlPlaneCpu(ctx.cp);
    const samples = sampler(operator);

    // Created at once.
    const t0 = now();
    let ready: Tracker;
    if (system === "deployment") {
      // A user creates the Service with the Deployment; the operator creates an endpoint's own.
      await pool(names, CONCURRENCY, async (name) => {
        await client.services.create(deploymentService(ns, name));
        if (ctx.deploymentModelServices) await client.services.create(deploymentVersionService(ns, name, 1));
        if (ctx.deploymentPdb) {
          await client.resource(PODDISRUPTIONBUDGETS).create(deploymentDisruptionBudget(ns, name));
        }
        await deployments.create(deployment(ns, name, REPLICAS, BUDGETS));
      });
      ready = timeline.trackDeployments(names, deploymentDone(1, REPLICAS), timeoutMs);
    } else {
      await pool(names, CONCURRENCY, (name) => endpoints.create(modelEndpoint(ns, name, REPLICAS)));
      ready = timeline.trackEndpoints(names, endpointDone(1, { m1: "DEPLOYED" }), timeoutMs);
    }
    const tReady = await settle("Ready", ready, t0);
    await delay(2000);
    const opMid = await scrapeOperator(operator);
    const componentCpuCreateMs = cpMeter.read();

    // Rolled at once; a fleet not all Ready is not rolled (its stragglers would be counted twice).
    const t1 = now();
    let rolled: Tracker | undefined;
    if (Number.isNaN(tReady)) {
      rolled = undefined;
    } else if (system === "deployment") {
      await pool(names, CONCURRENCY, async (name) => {
        if (ctx.deploymentModelServices) await client.services.create(deploymentVersionService(ns, name, 2));
        await deployments.mergePatch(ns, name, rollDeployment(name));
      });
      rolled = timeline.trackDeployments(names, deploymentDone(2, REPLICAS), timeoutMs);
    } else {
      // The progress deadline is the phase's timeout: with 5000 rolling at once on two cores a new pod
      // waits for the scheduler longer than the default 600 s, and the endpoint would revert, where a
      // Deployment past its deadline only says so. The bench measures how long the work takes.
      const deadlineSeconds = Math.ceil(timeoutMs / 1000);
      await pool(names, CONCURRENCY, (name) =>
        endpoints.mergePatch(ns, name, rollModelEndpoint(REPLICAS, [BUDGETS], undefined, deadlineSeconds)),
      );
      rolled = timeline.trackEndpoints(names, endpointDone(2, { m1: "REPLACED", m2: "DEPLOYED" }), timeoutMs);
    }
    const tRolled = rolled === undefined ? Number.NaN : await settle("rolled", rolled, t1);
    const late = Number.isNaN(tReady)
      ? { phase: "ready" as const, done: ready.doneAt.size }
      : rolled !== undefined && Number.isNaN(tRolled)
        ? { phase: "rolled" as const, done: rolled.doneAt.size }
        : undefined;
    await delay(2000);

    const peaks = await samples.stop();
    const writes = attribute(diffWrites(await scrapeWrites(ctx.cp), writesBefore));
    const apf = apfBetween(await scrapeApf(ctx.cp), apfBefore);
    const opAfter = await scrapeOperator(operator);
    const op = opMeter.stop();
    const kcm = kcmMeter.stop();
    const componentCpuMs = cpMeter.read();
    const statusWrites =
      system === "modelendpoint"
        ? countStatusWrites(
            timeline.statuses.filter((s) => s.t > t0),
            writes,
            sumOf(opAfter, "modelendpoint_status_writes_total") -
              sumOf(opBefore, "modelendpoint_status_writes_total"),
          )
        : undefined;
    const isOp = system === "modelendpoint";
    const result: Omit<ScaleRun, "cleanupMs"> = {
      system,
      fleet,
      run: ctx.run,
      load: startLoad,
      readyMs: tReady - t0,
      readyP50Ms: p50(ready, t0, fleet),
      rolledMs: tRolled - t1,
      rolledP50Ms: rolled === undefined ? Number.NaN : p50(rolled, t1, fleet),
      ...(late === undefined ? {} : { timedOut: { ...late, of: fleet } }),
      reconcile: isOp ? latencyBetween(opAfter, opBefore, RECONCILE_SECONDS) : NO_LATENCY,
      reconcileCreate: isOp ? latencyBetween(opMid, opBefore, RECONCILE_SECONDS) : NO_LATENCY,
      reconcileRoll: isOp ? latencyBetween(opAfter, opMid, RECONCILE_SECONDS) : NO_LATENCY,
      decide: isOp ? latencyBetween(opAfter, opBefore, DECIDE_SECONDS) : NO_LATENCY,
      queueDepthPeak: peaks.queue,
      operatorMemory: peaks.memory,
      operatorPeakRssMiB: op.peakRssMiB,
      operatorRssAfterMiB: op.rssMiB,
      controllerCpuMs: isOp ? op.cpuMs : kcm.cpuMs,
      kcmCpuMs: kcm.cpuMs,
      componentCpuMs,
      componentCpuCreateMs,
      operatorCpuMs: op.cpuMs,
      writes,
      ...(statusWrites === undefined ? {} : { statusWrites }),
      apf,
    };
    await timeline.stop();
    const cleanupMs = wait
      ? await deleteNamespace(client, ns, log)
      : (await client.resource(NAMESPACES).delete("", ns, { propagationPolicy: "Background" }), 0);
    return { ...result, cleanupMs };
  } catch (err) {
    await timeline.stop();
    throw err;
  }
}

/** Both fleets, one after the other (the order alternates between repetitions). */
export async function runScale(ctx: ScaleContext): Promise<ScaleRun[]> {
  const both: FleetSystem[] =
    ctx.run % 2 === 0 ? ["deployment", "modelendpoint"] : ["modelendpoint", "deployment"];
  const order = both.filter((s) => ctx.systems.includes(s));
  const out: ScaleRun[] = [];
  for (const system of order) {
    const r = await runFleet(ctx, system, !ctx.last || system !== order[order.length - 1]);
    ctx.log(
      `fleet ${String(ctx.fleet)} ${system} #${String(ctx.run)}: ${r.timedOut === undefined ? "" : `TIMED OUT (${r.timedOut.phase} ${String(r.timedOut.done)} of ${String(r.timedOut.of)}), `}ready ${num(r.readyMs / 1000, 1, "s")}, rolled ${num(r.rolledMs / 1000, 1, "s")}, cpu ${(r.controllerCpuMs / 1000).toFixed(1)}s, reconcile p99 ${r.reconcile.p99Ms.toFixed(1)}ms, queue peak ${String(r.queueDepthPeak)}, RSS peak ${r.operatorPeakRssMiB.toFixed(0)} MiB (cleanup ${(r.cleanupMs / 1000).toFixed(0)}s)`,
    );
    out.push(r);
  }
  return out;
}
