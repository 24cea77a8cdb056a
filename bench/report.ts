/**
 * The results file (`bench/results/*.json`, format `model-endpoint-operator/bench@1`) and the
 * tables and one-line summary printed from it. BENCHMARKS.md describes every field.
 */
import type { LogLevel } from "../src/testing/operator-process.ts";
import { DATAPLANE_ROLLOUTS, type DataPlaneRun } from "./dataplane.ts";
import type { VertexRun } from "./vertex.ts";
import { CONFIGS, SYSTEMS, type FleetSystem, type RolloutRun, type System } from "./rollout.ts";
import type { ScaleRun } from "./scale.ts";
import { distribution, summarize, type Summary } from "./lib/stats.ts";
import { mmm, num, table } from "./lib/table.ts";
import { chartSvg, type Panel } from "./lib/plot.ts";
import type { OperatorIdentity } from "./lib/apf.ts";

export interface Settings {
  readonly mode: "quick" | "full";
  readonly runs: number;
  /** The fleet's readiness delay: the last of readyDelaysMs. */
  readonly readyDelayMs: number;
  /** The rollouts run at each of these readiness delays, on a control plane of its own. */
  readonly readyDelaysMs: readonly number[];
  /** The rollouts' systems. */
  readonly systems: readonly System[];
  readonly replicas: number;
  /** The fleet size the targets are judged at (1000 when it is one of `fleets`). */
  readonly fleet: number;
  /** Every fleet size run, ascending (absent in results before sizes could be listed). */
  readonly fleets?: readonly number[];
  /** Repetitions at `fleet`; every other size runs once. */
  readonly fleetRuns: number;
  readonly fleetSystems: readonly FleetSystem[];
  /** Each Deployment of the fleet had a PodDisruptionBudget (absent in results before the option). */
  readonly deploymentPdb?: boolean;
  /** Each Deployment also had a Service per version of its pods (absent before the option). */
  readonly deploymentModelServices?: boolean;
  readonly dataPlaneSeconds: number;
  readonly parts: readonly string[];
  readonly configs: readonly string[];
  readonly workers: number | undefined;
  readonly label: string;
  readonly trace: boolean;
  readonly profile: boolean;
  readonly operatorNodeOptions: readonly string[];
  /** The operator's --log-level (absent in results before the option: info). */
  readonly operatorLogLevel?: LogLevel;
  readonly apiserverArgs: readonly string[];
  /** Extra kube-controller-manager flags (absent in results before the option). */
  readonly controllerManagerArgs?: readonly string[];
  readonly operatorMemoryLimitMiB: number;
  /** Who the operator acts as (absent in results before it could be chosen: the admin). */
  readonly operatorIdentity?: OperatorIdentity;
}

export interface BenchResult {
  readonly schema: "model-endpoint-operator/bench@1";
  readonly label: string;
  readonly mode: "quick" | "full";
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly git: { readonly commit: string; readonly dirty: boolean };
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGiB: number;
    readonly kernel: string;
    readonly node: string;
    readonly loadAtEnd: readonly number[];
  };
  /** The comparison's control plane and operator (absent when only the data plane ran). */
  readonly controlPlane?: {
    readonly kubernetes: string;
    readonly nodes: number;
    /** The last control plane's (the fleet's). */
    readonly readyDelayMs: number;
    /** One control plane per readiness delay, in this order. */
    readonly readyDelaysMs?: readonly number[];
    readonly readyJitterMs: number;
    readonly apiserverArgs: readonly string[];
    readonly controllerManagerArgs?: readonly string[];
  };
  readonly operator?: {
    readonly args: readonly string[];
    /** Node.js's options, before the script (the chart's heap flag, `--operator-node-options`). */
    readonly nodeOptions?: readonly string[];
    /** MALLOC_ARENA_MAX in the operator's environment (the chart's, or this process's), if set. */
    readonly mallocArenaMax?: string | null;
    readonly memoryLimitMiB: number | null;
    /** Its resident memory once ready, before any object exists (MiB). */
    readonly idleRssMiB?: number | null;
  };
  /** rollouts-controller, when Argo Rollouts was one of the rollouts' systems. */
  readonly argoRollouts?: { readonly version: string; readonly args: readonly string[] };
  readonly settings: Settings;
  readonly rollouts: readonly RolloutRun[];
  readonly scale: readonly ScaleRun[];
  readonly dataPlane?: DataPlaneRun;
  readonly vertex?: VertexRun;
  readonly operatorProblems: readonly string[];
  /** Set by `--merge`: the runs this result's fleets come from, in the order given. */
  readonly mergedFrom?: readonly MergedRun[];
}

export interface MergedRun {
  readonly file: string;
  readonly startedAt: string;
  readonly commit: string;
  /** The fleets taken from this run: "<system> <size>". */
  readonly fleets: readonly string[];
}

export interface Target {
  readonly name: string;
  readonly target: string;
  readonly value: string;
  readonly met: boolean | undefined;
}

/**
 * A target judged: undefined (neither met nor missed) when the figure was not measured, e.g. a
 * ratio to a system that did not run (NaN) or a maximum over no runs (-Infinity).
 */
export function atMost(value: number, limit: number): boolean | undefined {
  return Number.isFinite(value) ? value <= limit : undefined;
}

/** All control-plane processes' CPU (older results files have none: NaN). */
const cpuTotal = (c: Readonly<Record<string, number>> | undefined): number =>
  c === undefined ? Number.NaN : Object.values(c).reduce((a, b) => a + b, 0);

const runsOf = (r: BenchResult, system: System, config?: string, delayMs?: number): RolloutRun[] =>
  r.rollouts.filter(
    (x) =>
      x.system === system &&
      (config === undefined || x.config === config) &&
      (delayMs === undefined || x.readyDelayMs === delayMs),
  );

const s = (runs: readonly RolloutRun[], f: (r: RolloutRun) => number): Summary => summarize(runs.map(f));

const LABELS: Readonly<Record<System, string>> = {
  deployment: "Deployment",
  modelendpoint: "ModelEndpoint",
  argorollouts: "Argo Rollouts",
};
const SHORT: Readonly<Record<System, string>> = {
  deployment: "Dep",
  modelendpoint: "MEP",
  argorollouts: "Argo",
};

/** The systems and readiness delays the results have rollouts of, in the bench's order. */
export function rolloutAxes(r: BenchResult): { systems: System[]; delaysMs: number[] } {
  return {
    systems: SYSTEMS.filter((system) => r.rollouts.some((x) => x.system === system)),
    delaysMs: [...new Set(r.rollouts.map((x) => x.readyDelayMs))],
  };
}

/**
 * Ratios of the paired runs (same config, delay and run index): `a`'s wall time over `b`'s (by
 * default ModelEndpoint / Deployment).
 */
export function pairedRatios(
  r: BenchResult,
  config: string,
  delayMs?: number,
  a: System = "modelendpoint",
  b: System = "deployment",
): number[] {
  const other = runsOf(r, b, config, delayMs);
  return runsOf(r, a, config, delayMs).flatMap((m) => {
    const d = other.find((x) => x.run === m.run && x.readyDelayMs === m.readyDelayMs);
    return d === undefined ? [] : [m.wallMs / d.wallMs];
  });
}

/** What the fleet's Deployments carried besides their Service: a target's words and a column's tag. */
function deploymentExtras(s: Settings): { readonly words: string; readonly tag: string }[] {
  return [
    ...(s.deploymentPdb === true ? [{ words: "a PDB", tag: "PDB" }] : []),
    ...(s.deploymentModelServices === true
      ? [{ words: "a Service per version", tag: "version Services" }]
      : []),
  ];
}

/** For a target's name: ` with a PDB and a Service per version each`, or nothing. */
function withSameWork(s: Settings): string {
  const extras = deploymentExtras(s);
  return extras.length === 0 ? "" : ` with ${extras.map((e) => e.words).join(" and ")} each`;
}

/** For the table's system column: ` + PDB + version Services`, or nothing. */
function sameWorkTag(s: Settings): string {
  return deploymentExtras(s)
    .map((e) => ` + ${e.tag}`)
    .join("");
}

/**
 * ModelEndpoint's median wall time over `b`'s (Deployment by default) in the first budgets at the
 * fleet's readiness delay, and the paired ratios' range (NaN when `b` did not run).
 */
export function mainRatio(r: BenchResult, b: System = "deployment"): { ratio: number; paired: Summary } {
  const config = CONFIGS[0]?.id ?? "";
  const d = r.settings.readyDelayMs;
  const mep = s(runsOf(r, "modelendpoint", config, d), (x) => x.wallMs);
  const other = s(runsOf(r, b, config, d), (x) => x.wallMs);
  return {
    ratio: mep.median / other.median,
    paired: summarize(pairedRatios(r, config, d, "modelendpoint", b)),
  };
}

/** The targets' "MB" are 10^6 bytes; memory is measured in MiB (2^20 bytes). */
const MB_PER_MIB = 2 ** 20 / 1e6;

export function targets(r: BenchResult): Target[] {
  const out: Target[] = [];
  if (r.rollouts.length > 0) {
    const { ratio } = mainRatio(r);
    out.push({
      name: "rollout wall time ModelEndpoint / Deployment (N 10, surge 2, median)",
      target: "<= 1.0",
      value: num(ratio, 2),
      met: atMost(ratio, 1.0),
    });
    const steps = distribution(runsOf(r, "modelendpoint").flatMap((x) => x.stepLatenciesMs));
    out.push({
      name: "step latency p99",
      target: "<= 100 ms",
      value: num(steps.p99, 0, " ms"),
      met: atMost(steps.p99, 100),
    });
    const unchanged = runsOf(r, "modelendpoint").reduce((n, x) => n + (x.statusWrites?.unchanged ?? 0), 0);
    const fleetUnchanged = r.scale.reduce((n, x) => n + (x.statusWrites?.unchanged ?? 0), 0);
    out.push({
      name: "status writes that changed nothing (rollouts + fleet)",
      target: "0",
      value: String(unchanged + fleetUnchanged),
      met: unchanged + fleetUnchanged === 0,
    });
  }
  const fleet = (system: System): ScaleRun[] =>
    r.scale.filter((x) => x.system === system && x.fleet === r.settings.fleet);
  if (r.scale.length > 0) {
    const ready =
      summarize(fleet("modelendpoint").map((x) => x.readyMs)).median /
      summarize(fleet("deployment").map((x) => x.readyMs)).median;
    const rolled =
      summarize(fleet("modelendpoint").map((x) => x.rolledMs)).median /
      summarize(fleet("deployment").map((x) => x.rolledMs)).median;
    const k = r.settings.fleet;
    const deployments = `${String(k)} Deployments${withSameWork(r.settings)}`;
    out.push({
      name: `${String(k)} endpoints all Ready / ${deployments}`,
      target: "<= 1.1",
      value: num(ready, 2),
      met: atMost(ready, 1.1),
    });
    out.push({
      name: `${String(k)} endpoints all rolled / ${deployments}`,
      target: "<= 1.1",
      value: num(rolled, 2),
      met: atMost(rolled, 1.1),
    });
    const idle = r.operator?.idleRssMiB;
    if (idle !== undefined && idle !== null)
      out.push({
        name: "operator RSS idle (ready, no objects)",
        target: "<= 100 MB",
        value: num(idle * MB_PER_MIB, 0, " MB"),
        met: atMost(idle * MB_PER_MIB, 100),
      });
    const rss = Math.max(...fleet("modelendpoint").map((x) => x.operatorPeakRssMiB));
    out.push({
      name: `operator peak RSS at ${String(k)} endpoints`,
      target: "<= 200 MB",
      value: num(rss * MB_PER_MIB, 0, " MB"),
      met: atMost(rss * MB_PER_MIB, 200),
    });
    const p99 = Math.max(...fleet("modelendpoint").map((x) => x.reconcile.p99Ms));
    out.push({
      name: `reconcile p99 at ${String(k)} endpoints`,
      target: "<= 50 ms",
      value: num(p99, 1, " ms"),
      met: atMost(p99, 50),
    });
  }
  if (r.vertex !== undefined) {
    const v = r.vertex;
    const added = v.predictServer.p99Ms - v.predictDirect.p99Ms;
    out.push(
      {
        name: "Vertex API GET endpoint p99",
        target: "<= 20 ms",
        value: num(v.get.p99Ms, 1, " ms"),
        met: atMost(v.get.p99Ms, 20),
      },
      {
        name: "Vertex API predict added p99",
        target: "<= 5 ms",
        value: signed(added, 1) + " ms",
        met: atMost(added, 5),
      },
      {
        name: `Vertex API server RSS with ${String(v.fleet)} endpoints`,
        target: "<= 100 MB",
        value: num(v.rssFleetMb, 0, " MB"),
        met: atMost(v.rssFleetMb, 100),
      },
    );
  }
  if (r.dataPlane !== undefined) {
    const rollouts = r.dataPlane.rollouts;
    const sent = rollouts.reduce((n, x) => n + x.sent, 0);
    const failed = rollouts.reduce((n, x) => n + x.failed, 0);
    out.push({
      name: "requests failed during rolling deployments through the gateway",
      target: "0",
      value: `${String(failed)} of ${String(sent)}${rollouts.every((x) => x.completed) ? "" : " (a rollout did not complete)"}`,
      met: failed === 0,
    });
  }
  return out;
}

function rolloutTables(r: BenchResult): string[] {
  const out: string[] = [];
  const n = r.settings.replicas;
  const { systems, delaysMs } = rolloutAxes(r);
  const configs = CONFIGS.filter((c) => r.settings.configs.includes(c.id));
  const cases = delaysMs.flatMap((d) => configs.map((c) => ({ d, c })));
  // ModelEndpoint against each other system that ran.
  const others = systems.filter((x) => x !== "modelendpoint" && systems.includes("modelendpoint"));
  out.push(
    `Rollout wall time, N ${String(n)}, pods Ready D after scheduling; seconds, median (min-max) of ${String(r.settings.runs)}`,
  );
  out.push(
    table(
      [
        "D",
        "budgets",
        "floor",
        ...systems.map((x) => LABELS[x]),
        ...others.flatMap((x) => [`MEP/${SHORT[x]}`, `paired MEP/${SHORT[x]}`]),
      ],
      cases.map(({ d, c }) => {
        const wall = (x: System): Summary => s(runsOf(r, x, c.id, d), (y) => y.wallMs / 1000);
        const mep = wall("modelendpoint");
        const waves = systems.map((x) => runsOf(r, x, c.id, d)[0]?.waves).find((w) => w !== undefined) ?? 0;
        return [
          `${String(d / 1000)} s`,
          c.title,
          `${String(waves)} x ${String(d / 1000)} s`,
          ...systems.map((x) => mmm(wall(x), 2)),
          ...others.flatMap((x) => [
            num(mep.median / wall(x).median, 2),
            mmm(summarize(pairedRatios(r, c.id, d, "modelendpoint", x)), 2),
          ]),
        ];
      }),
    ),
  );
  out.push("");
  out.push(
    "Over the floor (wall time over waves x D) and pods done (N new pods Ready, every old one gone), s",
  );
  out.push(
    table(
      [
        "D",
        "budgets",
        ...systems.map((x) => `${SHORT[x]} over floor`),
        ...systems.map((x) => `pods done ${SHORT[x]}`),
      ],
      cases.map(({ d, c }) => [
        `${String(d / 1000)} s`,
        c.id,
        ...systems.map((x) =>
          mmm(
            s(runsOf(r, x, c.id, d), (y) => y.overheadPct),
            0,
            "%",
          ),
        ),
        ...systems.map((x) =>
          mmm(
            s(runsOf(r, x, c.id, d), (y) => y.podsDoneMs / 1000),
            2,
          ),
        ),
      ]),
    ),
  );
  out.push("");
  out.push("Write cost per rollout (API server request counters; median (min-max))");
  const rows: string[][] = [];
  for (const { d, c } of cases) {
    for (const system of systems) {
      const runs = runsOf(r, system, c.id, d);
      const peak = (x: RolloutRun): number =>
        system === "modelendpoint" ? x.operatorPeakRssMiB : (x.argoPeakRssMiB ?? Number.NaN);
      rows.push([
        `${delaysMs.length > 1 ? `${String(d)}ms ` : ""}${c.id} ${system}`,
        mmm(s(runs, (x) => x.writes.controller)),
        mmm(s(runs, (x) => x.writes.status)),
        mmm(s(runs, (x) => x.writes.refused)),
        mmm(s(runs, (x) => x.writes.controllerEvents + x.writes.coreEvents)),
        mmm(s(runs, (x) => x.writes.podLifecycle + x.writes.endpointSlices)),
        mmm(s(runs, (x) => x.writes.total)),
        mmm(s(runs, (x) => x.controllerCpuMs)),
        mmm(s(runs, (x) => x.kcmCpuMs)),
        mmm(s(runs, (x) => cpuTotal(x.componentCpuMs))),
        system === "deployment" ? "" : mmm(s(runs, peak), 0),
      ]);
    }
  }
  out.push(
    table(
      [
        "run",
        "controller writes",
        "status",
        "refused",
        "events (all)",
        "pods+slices (shared)",
        "total",
        "controller CPU ms",
        "KCM CPU ms",
        "control plane CPU ms",
        "controller peak RSS MiB",
      ],
      rows,
    ),
  );
  out.push(
    "controller CPU: the operator's process; rollouts-controller's for Argo Rollouts; for a Deployment all of kube-controller-manager (it also runs the ReplicaSet, EndpointSlice and GC controllers every system needs). Peak RSS: the operator's, rollouts-controller's",
  );
  out.push("");
  out.push("Step latency: pod Ready -> next scale action, every run (ms)");
  out.push(
    table(
      ["controller", "D", "steps", "p50", "p90", "p99", "max"],
      delaysMs.flatMap((d) =>
        systems.map((system) => {
          const dist = distribution(runsOf(r, system, undefined, d).flatMap((x) => x.stepLatenciesMs));
          return [
            system,
            `${String(d / 1000)} s`,
            String(dist.n),
            num(dist.p50),
            num(dist.p90),
            num(dist.p99),
            num(dist.max),
          ];
        }),
      ),
    ),
  );
  out.push("");
  const peaks = cases.flatMap(({ d, c }) =>
    systems.flatMap((system) => {
      const runs = runsOf(r, system, c.id, d).filter((x) => x.peakPods !== undefined);
      if (runs.length === 0) return [];
      const over = runs.filter((x) => (x.peakPods ?? 0) > (x.podCeiling ?? Infinity)).length;
      return [
        [
          `${String(d / 1000)} s`,
          c.id,
          system,
          String(runs[0]?.podCeiling ?? ""),
          String(Math.max(...runs.map((x) => x.peakPods ?? 0))),
          `${String(over)} of ${String(runs.length)}`,
        ],
      ];
    }),
  );
  if (peaks.length > 0) {
    out.push("Pods alive at once during a rollout (created, not terminating; as the watch saw them)");
    out.push(table(["D", "budgets", "system", "N + maxSurge", "peak", "runs above"], peaks));
    out.push("");
  }
  const mep = runsOf(r, "modelendpoint");
  out.push(
    "ModelEndpoint reconciles during the rollouts (ms; median (min-max) over runs): whole pass, and the part before any API call",
  );
  out.push(
    table(
      ["budgets", "passes", "reconcile p50", "reconcile p99", "decide p50", "decide p99"],
      r.settings.configs.map((config) => {
        const runs = runsOf(r, "modelendpoint", config);
        const f = (g: (x: RolloutRun) => number | undefined, digits: number): string =>
          mmm(summarize(runs.map((x) => g(x) ?? Number.NaN)), digits);
        return [
          config,
          f((x) => x.reconcile?.count, 0),
          f((x) => x.reconcile?.p50Ms, 1),
          f((x) => x.reconcile?.p99Ms, 1),
          f((x) => x.decide?.p50Ms, 2),
          f((x) => x.decide?.p99Ms, 2),
        ];
      }),
    ),
  );
  out.push("");
  const sum = (f: (x: RolloutRun) => number): number => mep.reduce((a, x) => a + f(x), 0);
  out.push("ModelEndpoint status writes over all rollouts");
  out.push(
    table(
      ["accepted", "changed status", "timestamps only", "changed nothing"],
      [
        [
          String(sum((x) => x.statusWrites?.accepted ?? 0)),
          String(sum((x) => x.statusWrites?.changed ?? 0)),
          String(sum((x) => x.statusWrites?.timesOnly ?? 0)),
          String(sum((x) => x.statusWrites?.unchanged ?? 0)),
        ],
      ],
    ),
  );
  return out;
}

/** "100,1000,5000" -> [100, 1000, 5000]: fleet sizes, ascending, without 0 ("0" alone: no fleet). */
export function fleetsOf(value: string): number[] {
  const parts = value.split(",").map((v) => v.trim());
  if (!parts.every((v) => /^\d+$/.test(v)))
    throw new Error(`--fleet takes whole numbers separated by commas, got ${JSON.stringify(value)}`);
  return [...new Set(parts.map(Number).filter((n) => n > 0))].sort((a, b) => a - b);
}

/** The size the fleet targets are judged at: 1000 when it runs, else the largest (0: none). */
export function targetFleet(fleets: readonly number[]): number {
  return fleets.includes(1000) ? 1000 : (fleets.at(-1) ?? 0);
}

/** The fleet sizes of a result, ascending. */
export function fleetSizes(r: BenchResult): number[] {
  return [...new Set(r.scale.map((x) => x.fleet))].sort((a, b) => a - b);
}

function scaleTables(r: BenchResult): string[] {
  if (r.scale.length === 0) return [];
  const out: string[] = [];
  for (const k of fleetSizes(r)) out.push(...fleetTable(r, k), "");
  if (fleetSizes(r).length > 1) out.push(...growthTable(r), "");
  out.push(...writesTable(r, r.settings.fleet));
  return out;
}

function fleetTable(r: BenchResult, k: number): string[] {
  const at = r.scale.filter((x) => x.fleet === k);
  const reps = Math.max(...at.map((x) => x.run)) + 1;
  const out = [
    `Fleet: ${String(k)} objects of 2 replicas created at once, then all rolled at once (seconds; median (min-max) of ${String(reps)})`,
  ];
  const rows = (["deployment", "modelendpoint"] as const).map((system) => {
    const runs = at.filter((x) => x.system === system);
    const f = (g: (x: ScaleRun) => number, digits = 1): string => mmm(summarize(runs.map(g)), digits);
    return [
      system === "deployment" ? `deployment${sameWorkTag(r.settings)}` : system,
      f((x) => x.readyMs / 1000),
      f((x) => x.readyP50Ms / 1000),
      f((x) => x.rolledMs / 1000),
      f((x) => x.rolledP50Ms / 1000),
      system === "modelendpoint" ? f((x) => x.reconcile.p50Ms, 1) : "",
      system === "modelendpoint" ? f((x) => x.reconcile.p99Ms, 1) : "",
      system === "modelendpoint" ? f((x) => x.decide.p99Ms, 2) : "",
      system === "modelendpoint" ? f((x) => x.queueDepthPeak, 0) : "",
      system === "modelendpoint" ? f((x) => x.operatorPeakRssMiB, 0) : "",
      f((x) => x.controllerCpuMs / 1000, 1),
      f((x) => cpuTotal(x.componentCpuMs) / 1000, 1),
      f((x) => (x.componentCpuMs["kube-apiserver"] ?? Number.NaN) / 1000, 1),
      f((x) => apiserverCpuPerObject(x).created, 1),
      f((x) => apiserverCpuPerObject(x).rolled, 1),
      f((x) => x.writes.controller, 0),
      system === "modelendpoint" ? f((x) => x.statusWrites?.unchanged ?? 0, 0) : "",
    ];
  });
  out.push(
    table(
      [
        "fleet",
        "all Ready",
        "p50 Ready",
        "all rolled",
        "p50 rolled",
        "reconcile p50 ms",
        "reconcile p99 ms",
        "decide p99 ms",
        "queue peak",
        "peak RSS MiB",
        "controller CPU s",
        "control plane CPU s",
        "API server CPU s",
        "per object created ms",
        "per object rolled ms",
        "controller writes",
        "unchanged status writes",
      ],
      rows,
    ),
  );
  for (const x of at) {
    if (x.timedOut === undefined) continue;
    const { phase, done, of } = x.timedOut;
    out.push(
      `${x.system} #${String(x.run)} ran past the per-phase timeout: ${String(done)} of ${String(of)} ${phase === "ready" ? "Ready, so not rolled" : "rolled"}; the times it did not reach are n/a and left out of the medians`,
    );
  }
  return [...out, ...apfTable(at, k)];
}

/**
 * API Priority and Fairness during the first run of each fleet of size `k`: per priority level,
 * requests dispatched and rejected, and their wait in its queues. Only with a priority level other
 * than exempt (the admin's) busy, i.e. the operator as the chart's ServiceAccount.
 */
function apfTable(at: readonly ScaleRun[], k: number): string[] {
  const rows: string[][] = [];
  for (const system of ["deployment", "modelendpoint"] as const) {
    const first = at.find((x) => x.system === system);
    for (const u of first?.apf ?? [])
      rows.push([
        system,
        u.priorityLevel,
        String(u.dispatched),
        String(u.rejected),
        num(u.waitP50Ms, 2),
        num(u.waitP99Ms, 1),
      ]);
  }
  if (!rows.some((r) => r[1] !== "exempt")) return [];
  return [
    "",
    `API Priority and Fairness during the fleet run of ${String(k)} (first run): requests per priority level and their queue wait`,
    table(["fleet", "priority level", "dispatched", "rejected", "wait p50 ms", "wait p99 ms"], rows),
  ];
}

/** The median of `f` over the runs of `system` at size `k`. */
function medianAt(r: BenchResult, system: System, k: number, f: (x: ScaleRun) => number): number {
  return summarize(r.scale.filter((x) => x.system === system && x.fleet === k).map(f)).median;
}

const apiserverCpuMs = (x: ScaleRun): number => x.componentCpuMs["kube-apiserver"] ?? Number.NaN;
/**
 * The API server's CPU per object of the fleet while it was created (to all Ready) and while it
 * rolled (the rest of the run); NaN for results that did not record the split.
 */
function apiserverCpuPerObject(x: ScaleRun): { created: number; rolled: number } {
  const created = x.componentCpuCreateMs?.["kube-apiserver"] ?? Number.NaN;
  return { created: created / x.fleet, rolled: (apiserverCpuMs(x) - created) / x.fleet };
}
/** Every write the API server took during the run (all clients), per object of the fleet. */
const writesPerObject = (x: ScaleRun): number => x.writes.total / x.fleet;

/** How the fleet's figures grow with its size: both systems side by side, and the ratios. */
function growthTable(r: BenchResult): string[] {
  const rows = fleetSizes(r).map((k) => {
    const dep = (f: (x: ScaleRun) => number): number => medianAt(r, "deployment", k, f);
    const mep = (f: (x: ScaleRun) => number): number => medianAt(r, "modelendpoint", k, f);
    const pair = (f: (x: ScaleRun) => number, scale: number, digits: number): string[] => [
      num(dep(f) / scale, digits),
      num(mep(f) / scale, digits),
      num(mep(f) / dep(f), 2),
    ];
    return [
      String(k),
      ...pair((x) => x.readyMs, 1000, 1),
      ...pair((x) => x.rolledMs, 1000, 1),
      ...pair((x) => apiserverCpuMs(x) / x.fleet, 1, 1),
      num(dep(writesPerObject), 1),
      num(mep(writesPerObject), 1),
      num(
        mep((x) => x.reconcile.p50Ms),
        1,
      ),
      num(
        mep((x) => x.reconcile.p99Ms),
        0,
      ),
      num(
        mep((x) => x.operatorPeakRssMiB),
        0,
      ),
      num(
        mep((x) => x.controllerCpuMs / x.fleet),
        1,
      ),
    ];
  });
  return [
    "Growth with the fleet's size (medians; Dep = Deployments, MEP = ModelEndpoints)",
    table(
      [
        "objects",
        "all Ready Dep s",
        "MEP s",
        "ratio",
        "all rolled Dep s",
        "MEP s",
        "ratio",
        "API server CPU per object Dep ms",
        "MEP ms",
        "ratio",
        "writes per object Dep",
        "MEP",
        "reconcile p50 ms",
        "p99 ms",
        "operator peak RSS MiB",
        "operator CPU per endpoint ms",
      ],
      rows,
    ),
  ];
}

/** The growth chart (SVG), or undefined with fewer than two fleet sizes. */
export function growthChart(r: BenchResult): string | undefined {
  const sizes = fleetSizes(r);
  if (sizes.length < 2) return undefined;
  const systems = [
    { system: "deployment" as const, name: "Deployments", color: "#1f77b4" },
    { system: "modelendpoint" as const, name: "ModelEndpoints", color: "#d62728" },
  ];
  const panel = (title: string, yLabel: string, f: (x: ScaleRun) => number): Panel => ({
    title,
    yLabel,
    series: systems.map(({ system, name, color }) => ({
      name,
      color,
      points: sizes.map((k) => [k, medianAt(r, system, k, f)] as const),
    })),
  });
  return chartSvg(
    [
      panel("all rolled", "seconds", (x) => x.rolledMs / 1000),
      panel("API server CPU", "seconds", (x) => apiserverCpuMs(x) / 1000),
      panel("operator peak RSS", "MiB", (x) =>
        x.system === "modelendpoint" ? x.operatorPeakRssMiB : Number.NaN,
      ),
    ],
    r.mergedFrom === undefined
      ? `npm run bench, ${r.startedAt.slice(0, 10)}, commit ${r.git.commit.slice(0, 7)}, ${String(r.machine.cpus)} cores; medians`
      : `npm run bench, ${String(r.mergedFrom.length)} runs of ${r.mergedFrom.map((m) => `${m.startedAt.slice(0, 10)} (${m.commit.slice(0, 7)})`).join(", ")}, ${String(r.machine.cpus)} cores; medians`,
  );
}

/**
 * Several results files as one, for the growth table and chart across runs that each measured some
 * of the fleet sizes (a full run of 100 and 1000, say, then a fleet of 5000 alone, which takes hours).
 * A system at a size comes from the first file that measured it, all of its runs there, so no median
 * mixes two runs' code. Everything else (the rollouts, data plane, settings, machine) is the first
 * file's; `mergedFrom` says which fleets came from which run. Refuses files of another schema or
 * another machine's core count, whose figures would not compare.
 */
export function mergeResults(
  inputs: readonly { readonly file: string; readonly result: BenchResult }[],
): BenchResult {
  const first = inputs[0];
  if (first === undefined) throw new Error("--merge needs at least one results file");
  const scale: ScaleRun[] = [];
  const mergedFrom: MergedRun[] = [];
  for (const { file, result } of inputs) {
    if ((result.schema as string) !== first.result.schema)
      throw new Error(
        `${file}: schema ${JSON.stringify(result.schema)}, expected ${JSON.stringify(first.result.schema)}`,
      );
    if (result.machine.cpus !== first.result.machine.cpus)
      throw new Error(
        `${file}: measured on ${String(result.machine.cpus)} cores, ${first.file} on ${String(first.result.machine.cpus)}: their fleets do not compare`,
      );
    const taken = new Set<string>();
    for (const x of result.scale) {
      const key = `${x.system} ${String(x.fleet)}`;
      if (!taken.has(key) && scale.some((y) => y.system === x.system && y.fleet === x.fleet)) continue;
      taken.add(key);
      scale.push(x);
    }
    mergedFrom.push({ file, startedAt: result.startedAt, commit: result.git.commit, fleets: [...taken] });
  }
  const merged = { ...first.result, scale, mergedFrom };
  const fleets = fleetSizes(merged);
  return {
    ...merged,
    label: `merged: ${inputs.map((i) => i.result.label || i.file).join(" + ")}`,
    settings: { ...first.result.settings, fleets, fleet: targetFleet(fleets) },
  };
}

function writesTable(r: BenchResult, k: number): string[] {
  const out: string[] = [];
  out.push(
    `API server writes during the fleet run of ${String(k)}, by kind: count and the API server's mean time per request (ms), first run`,
  );
  const first = (system: System): ScaleRun | undefined =>
    r.scale.find((x) => x.system === system && x.fleet === k);
  const dep = first("deployment")?.writes;
  const mep = first("modelendpoint")?.writes;
  const kinds = new Map<string, [number, number]>();
  for (const [i, w] of [dep, mep].entries()) {
    for (const [key, n] of Object.entries(w?.byKey ?? {})) {
      const kind = key.split(" ").slice(0, 2).join(" ");
      const counts = kinds.get(kind) ?? [0, 0];
      counts[i] = (counts[i] ?? 0) + n;
      kinds.set(kind, counts);
    }
  }
  out.push(
    table(
      ["write", "Deployment fleet", "mean ms", "ModelEndpoint fleet", "mean ms"],
      [...kinds]
        .sort((a, b) => b[1][0] + b[1][1] - (a[1][0] + a[1][1]))
        .slice(0, 14)
        .map(([kind, [d, m]]) => [
          kind,
          String(d),
          num(dep?.meanMs[kind] ?? Number.NaN, 1),
          String(m),
          num(mep?.meanMs[kind] ?? Number.NaN, 1),
        ]),
    ),
  );
  return out;
}

/** "+1.2": a difference with its sign. */
const signed = (x: number, digits: number): string => (x >= 0 ? "+" : "") + num(x, digits);

/** "m1 120, m2 340" or "none". */
const tally = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .map(([k, n]) => `${k} ${String(n)}`)
    .join(", ") || "none";

function dataPlaneTables(r: BenchResult): string[] {
  const d = r.dataPlane;
  if (d === undefined) return [];
  const out = [
    `Predictions for ${String(r.settings.dataPlaneSeconds)} s each, ${String(d.clients)} clients (keep-alive share ${String(d.keepAliveShare)}): one pod directly, and through the Gateway (Traefik) to ${String(d.replicas)} pods`,
  ];
  out.push(
    table(
      [
        "path",
        "predictions/s",
        "p50 ms",
        "p99 ms",
        "answered",
        "failed",
        "CPU cores: gateway",
        "model servers",
        "clients",
      ],
      [
        ...[d.direct, d.gateway].map((p) => [
          p.path === "direct" ? "one pod directly" : `gateway, ${String(d.replicas)} pods`,
          num(p.perSecond),
          num(p.p50Ms, 1),
          num(p.p99Ms, 1),
          String(p.ok),
          String(p.failed),
          num(p.cpuCores.gateway, 2),
          num(p.cpuCores.modelServers, 2),
          num(p.cpuCores.clients, 2),
        ]),
        [
          "added by the gateway",
          "",
          signed(d.gateway.p50Ms - d.direct.p50Ms, 1),
          signed(d.gateway.p99Ms - d.direct.p99Ms, 1),
          "",
          "",
          "",
          "",
          "",
        ],
      ],
    ),
  );
  out.push("");
  out.push(
    `Rolling deployments of ${String(d.replicas)} replicas under that load through the Gateway, from the change until the replaced model's last pod was gone`,
  );
  out.push(
    table(
      [
        "budgets",
        "rolled s",
        "old pods gone s",
        "sent",
        "failed",
        "p50 ms",
        "p99 ms",
        "answered by",
        "failures",
      ],
      d.rollouts.map((x) => [
        DATAPLANE_ROLLOUTS.find((c) => c.id === x.config)?.title ?? x.config,
        x.completed ? num(x.rolledMs / 1000, 1) : "not complete",
        num(x.drainedMs / 1000, 1),
        String(x.sent),
        String(x.failed),
        num(x.p50Ms, 1),
        num(x.p99Ms, 1),
        tally(x.byModel),
        tally(x.failures),
      ]),
    ),
  );
  return out;
}

function vertexTables(v: VertexRun): string[] {
  const row = (what: string, x: VertexRun["get"]): string[] => [
    what,
    num(x.perSecond),
    num(x.p50Ms, 1),
    num(x.p99Ms, 1),
    String(x.failed),
  ];
  return [
    `The Vertex AI API server, ${String(v.clients)} concurrent clients, ${String(v.seconds)} s each (the first 2 s not measured)`,
    table(
      ["call", "per second", "p50 ms", "p99 ms", "failed"],
      [
        row("GET endpoint", v.get),
        row("predict, one pod directly", v.predictDirect),
        row("predict through :predict", v.predictServer),
        [
          "added by the server",
          "",
          signed(v.predictServer.p50Ms - v.predictDirect.p50Ms, 1),
          signed(v.predictServer.p99Ms - v.predictDirect.p99Ms, 1),
          "",
        ],
      ],
    ),
    `server RSS: ${num(v.rssIdleMb)} MB at start, ${num(v.rssFleetMb)} MB after listing ${String(v.fleet)} endpoints` +
      (v.rssAfterLoadMb === undefined ? "" : `, ${num(v.rssAfterLoadMb)} MB after the load phases`),
  ];
}

export function report(r: BenchResult): { body: string; summary: string } {
  const lines: string[] = [];
  if (r.rollouts.length > 0) lines.push(...rolloutTables(r), "");
  lines.push(...scaleTables(r), "");
  if (r.dataPlane !== undefined) lines.push(...dataPlaneTables(r), "");
  if (r.vertex !== undefined) lines.push(...vertexTables(r.vertex), "");
  const t = targets(r);
  lines.push("Targets");
  lines.push(
    table(
      ["target", "wanted", "measured", ""],
      t.map((x) => [
        x.name,
        x.target,
        x.value,
        x.met === undefined ? "not measured" : x.met ? "met" : "MISSED",
      ]),
    ),
  );
  lines.push(
    `load at end ${r.machine.loadAtEnd.join(" ")} on ${String(r.machine.cpus)} cores (a shared machine: figures are noisy)`,
  );
  const parts: string[] = [];
  if (r.rollouts.length > 0) {
    const { ratio, paired } = mainRatio(r);
    parts.push(
      `rollout ModelEndpoint/Deployment ${num(ratio, 2)} (paired ${num(paired.min, 2)}-${num(paired.max, 2)}; N ${String(r.settings.replicas)}, surge 2, D ${String(r.settings.readyDelayMs)} ms, ${String(r.settings.runs)} runs)`,
    );
    if (rolloutAxes(r).systems.includes("argorollouts")) {
      const argo = mainRatio(r, "argorollouts");
      parts.push(
        `ModelEndpoint/Argo Rollouts ${num(argo.ratio, 2)} (paired ${num(argo.paired.min, 2)}-${num(argo.paired.max, 2)})`,
      );
    }
  }
  if (r.dataPlane !== undefined) {
    const { direct, gateway } = r.dataPlane;
    parts.push(
      `gateway adds p50 ${signed(gateway.p50Ms - direct.p50Ms, 1)} ms, p99 ${signed(gateway.p99Ms - direct.p99Ms, 1)} ms (${num(direct.perSecond)}/s direct, ${num(gateway.perSecond)}/s through it)`,
    );
  }
  for (const x of t.slice(r.rollouts.length > 0 ? 1 : 0))
    parts.push(`${x.name.replace(/ \(.*\)$/, "")} ${x.value}`);
  return { body: lines.join("\n"), summary: `bench ${r.mode}: ${parts.join("; ")}` };
}
