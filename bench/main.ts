/**
 * `npm run bench` (full) and `npm run bench -- --quick` (a few minutes): the operator measured
 * side by side with Kubernetes' own Deployment controller and Argo Rollouts' controller (when built:
 * `make argo-rollouts`) on one local control plane per readiness delay, then predictions through
 * the data plane (a Gateway, real model-server processes) on another. See BENCHMARKS.md for the
 * method and the figures.
 *
 * Prints tables, writes bench/results/<time>-<mode>.json, and ends with a one-line summary.
 * Benchmarks print figures; they never assert times.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";

import { parse } from "yaml";

import { ControlPlane } from "../src/testing/controlplane.ts";
import { isLogLevel, MAIN, OperatorProcess, type LogLevel } from "../src/testing/operator-process.ts";
import {
  ArgoRolloutsController,
  findArgoRollouts,
  installArgoCrds,
  type ArgoRolloutsBuild,
} from "./lib/argo.ts";
import { createMemoryCgroup, inCgroup, type MemoryCgroup } from "./lib/cgroup.ts";
import { fillCompileCache, type CompileCache } from "./lib/compile-cache.ts";
import { processInterrupts, type Interrupts } from "./lib/interrupt.ts";
import { NAMESPACES } from "./lib/objects.ts";
import { benchClient, installCrds } from "./lib/setup.ts";
import { sampleProcess } from "./lib/proc.ts";
import { load } from "./lib/stats.ts";
import { Timeline } from "./lib/timeline.ts";
import { runDataPlane } from "./dataplane.ts";
import { runVertex } from "./vertex.ts";
import {
  CHART_SERVICE_ACCOUNT,
  installChartIdentity,
  OPERATOR_IDENTITIES,
  type OperatorIdentity,
} from "./lib/apf.ts";
import {
  fleetsOf,
  growthChart,
  mergeResults,
  report,
  targetFleet,
  type BenchResult,
  type Settings,
} from "./report.ts";
import {
  CONFIGS,
  runOrder,
  runRollout,
  SYSTEMS,
  WARMUP,
  type FleetSystem,
  type RolloutRun,
  type System,
} from "./rollout.ts";
import { runScale, type ScaleRun } from "./scale.ts";

const ROOT = resolve(import.meta.dirname, "..");
/** What the Helm chart's values.yaml gives the operator's container, which the bench repeats. */
const CHART = chartRuntime();

function chartRuntime(): {
  readonly memoryLimitMiB: number;
  readonly heapLimitPercent: number;
  readonly semiSpaceMiB: number;
  readonly mallocArenaMax: number;
} {
  const values = parse(
    readFileSync(join(ROOT, "charts", "model-endpoint-operator", "values.yaml"), "utf8"),
  ) as {
    resources?: { limits?: { memory?: string } };
    heapLimitPercent?: number;
    semiSpaceMiB?: number;
    mallocArenaMax?: number;
  };
  const limit = values.resources?.limits?.memory ?? "";
  const match = /^(\d+)(Mi|Gi)$/.exec(limit);
  if (match?.[1] === undefined)
    throw new Error(`the chart's memory limit ${JSON.stringify(limit)} is not in Mi or Gi`);
  return {
    memoryLimitMiB: Number(match[1]) * (match[2] === "Gi" ? 1024 : 1),
    heapLimitPercent: values.heapLimitPercent ?? 0,
    semiSpaceMiB: values.semiSpaceMiB ?? 0,
    mallocArenaMax: values.mallocArenaMax ?? 0,
  };
}

/** The parts of a run, in order; `--only` picks one. */
const PARTS = ["rollout", "scale", "dataplane", "vertex"] as const;

/** Concurrent clients of the Vertex AI API server's part (the target is set at 200). */
const VERTEX_CLIENTS = 200;
/** The namespace of the chart's ServiceAccount with --operator-identity chart. */
const OPERATOR_NAMESPACE = "meo-system";

const FLEET_SYSTEMS: readonly FleetSystem[] = ["deployment", "modelendpoint"];

/** "a,b" as a list of the `allowed` names; throws on any other name. */
function namesOf<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const names = value.split(",").filter((x) => x !== "");
  const wrong = names.filter((x) => !(allowed as readonly string[]).includes(x));
  if (wrong.length > 0 || names.length === 0)
    throw new Error(`--${what} takes a list of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  return names as T[];
}

/** One of OPERATOR_IDENTITIES; throws on anything else (a list included). */
function logLevelOf(value: string): LogLevel {
  if (!isLogLevel(value))
    throw new Error(
      `--operator-log-level takes trace, debug, info, warn or error, got ${JSON.stringify(value)}`,
    );
  return value;
}

function identityOf(value: string): OperatorIdentity {
  const found = OPERATOR_IDENTITIES.find((i) => i === value);
  if (found === undefined)
    throw new Error(
      `--operator-identity takes one of ${OPERATOR_IDENTITIES.join(", ")}, got ${JSON.stringify(value)}`,
    );
  return found;
}

/** "500,1000" as whole milliseconds; throws on anything else. */
function delaysOf(value: string, what: string): number[] {
  const parts = value.split(",").filter((x) => x !== "");
  if (parts.length === 0 || parts.some((x) => !/^\d+$/.test(x)))
    throw new Error(`--${what} takes whole milliseconds separated by commas, got ${JSON.stringify(value)}`);
  return parts.map(Number);
}

function settingsFrom(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: "boolean", default: false },
      runs: { type: "string" },
      "ready-delay-ms": { type: "string" },
      "ready-delays": { type: "string" },
      systems: { type: "string" },
      replicas: { type: "string" },
      fleet: { type: "string" },
      "fleet-runs": { type: "string" },
      "fleet-systems": { type: "string" },
      "deployment-pdb": { type: "boolean", default: false },
      "deployment-model-services": { type: "boolean", default: false },
      "dataplane-seconds": { type: "string" },
      only: { type: "string" },
      configs: { type: "string" },
      workers: { type: "string" },
      label: { type: "string" },
      trace: { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      "operator-node-options": { type: "string" },
      "operator-log-level": { type: "string" },
      "apiserver-args": { type: "string" },
      "kcm-args": { type: "string" },
      "operator-memory-limit": { type: "string" },
      "operator-identity": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: npm run bench [-- options]
       npm run bench -- --merge FILE,FILE...   no run: one report, growth table and chart from
                        the fleets of several results files (a system at a size from the first
                        file that has it; everything else from the first file)
  --quick               a few minutes: fewer runs, a smaller fleet, shorter data-plane measurements
  --runs N              rollout runs per configuration and system (full 5, quick 3)
  --ready-delays a,b    how long a pod takes to become Ready, ms: the rollouts run at each, on a
                        control plane of its own (full 500,1000, quick 1000); the fleet at the last
  --ready-delay-ms D    the same as --ready-delays D
  --systems a,b         the rollouts' systems: deployment, modelendpoint, argorollouts (default all
                        three; argorollouts needs 'make argo-rollouts', and is left out without it)
  --replicas N          pods per rollout (default 10)
  --fleet K[,K2,...]    endpoints and Deployments in the scale test, one size or several (full
                        100,1000,5000, quick 100; 0 skips it); with several, a growth table and
                        <results>-fleet.svg; the targets are judged at 1000 when listed, else the largest
  --fleet-runs R        scale test repetitions at the targets' size (full 2, quick 1); other sizes once
  --fleet-systems a,b   which fleets: deployment, modelendpoint (default both)
  --deployment-pdb      give each Deployment of the fleet a PodDisruptionBudget, as each endpoint's
                        rollout chain has one (the same work for the disruption controller)
  --deployment-model-services
                        give each Deployment a Service per version of its pods as well, as an
                        endpoint has one per deployed model (the same work for the EndpointSlice
                        controller: two Services each, three from the rollout on; the version
                        Services headless, as the endpoints' model Services are without a Gateway)
  --dataplane-seconds S how long predictions are measured on each path (full 30, quick 10)
  --only rollout|scale|dataplane|vertex  run one part
                        (vertex: the Vertex AI API server: GET and :predict at 200 clients for the
                        data-plane seconds, and its memory after listing the fleet's size of endpoints)
  --configs a,b         rollout budgets to run: surge2, unavail2, pct25 (default all)
  --workers W           the operator's --workers (default: the operator's own default)
  --label TEXT          stored with the results (e.g. "before keep-alive")
  --trace               store each rollout's events in order in the JSON (for reading a run)
  --profile             run the operator with --cpu-prof; the profile goes to bench/results/profiles/
  --operator-node-options="..."  extra Node.js options for the operator, after the chart's (e.g. --max-semi-space-size=8);
                          MALLOC_ARENA_MAX in this environment overrides the chart's
  --operator-log-level L  the operator's --log-level (default info; debug logs each pass's actions and
                          duration); its log is bench/results/logs/<run>/operator-<D>ms.log
  --operator-memory-limit MiB  run the operator in a memory cgroup of this size, as the Helm chart's
                          container limit does (default 512, the chart's; 0: no limit), with the
                          chart's --max-old-space-size-percentage when there is a limit
  --operator-identity admin|chart  who the operator acts as: the control plane's admin (default;
                        system:masters, which API Priority and Fairness exempts) or the Helm chart's
                        ServiceAccount, RBAC and FlowSchema (its requests then queue in its own priority level)
  --apiserver-args="..."  extra kube-apiserver flags (e.g. --profiling=true, then read
                          /debug/pprof/profile with the admin certificate while a phase runs)
  --kcm-args="..."      extra kube-controller-manager flags (e.g. --secure-port=10257
                          --authorization-always-allow-paths=/healthz,/debug/pprof/profile, then
                          curl -k https://127.0.0.1:10257/debug/pprof/profile?seconds=60)
`);
    process.exit(0);
  }
  const int = (v: string | undefined, fallback: number, what: string): number => {
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v)) throw new Error(`--${what} must be a whole number, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const quick = values.quick;
  const only = values.only;
  if (values["ready-delays"] !== undefined && values["ready-delay-ms"] !== undefined)
    throw new Error("--ready-delay-ms and --ready-delays: give one of them");
  const readyDelaysMs =
    values["ready-delays"] !== undefined
      ? delaysOf(values["ready-delays"], "ready-delays")
      : values["ready-delay-ms"] !== undefined
        ? delaysOf(values["ready-delay-ms"], "ready-delay-ms").slice(0, 1)
        : quick
          ? [1000]
          : [500, 1000];
  const fleets = fleetsOf(values.fleet ?? (quick ? "100" : "100,1000,5000"));
  if (only !== undefined && !(PARTS as readonly string[]).includes(only))
    throw new Error(`--only must be one of ${PARTS.join(", ")}`);
  return {
    mode: quick ? "quick" : "full",
    runs: int(values.runs, quick ? 3 : 5, "runs"),
    readyDelayMs: readyDelaysMs.at(-1) ?? 1000,
    readyDelaysMs,
    systems: namesOf(values.systems ?? SYSTEMS.join(","), SYSTEMS, "systems"),
    replicas: int(values.replicas, 10, "replicas"),
    fleet: targetFleet(fleets),
    fleets,
    fleetRuns: int(values["fleet-runs"], quick ? 1 : 2, "fleet-runs"),
    fleetSystems: namesOf(values["fleet-systems"] ?? FLEET_SYSTEMS.join(","), FLEET_SYSTEMS, "fleet-systems"),
    deploymentPdb: values["deployment-pdb"],
    deploymentModelServices: values["deployment-model-services"],
    dataPlaneSeconds: int(values["dataplane-seconds"], quick ? 10 : 30, "dataplane-seconds"),
    parts: only === undefined ? PARTS : [only],
    configs: values.configs === undefined ? CONFIGS.map((c) => c.id) : values.configs.split(","),
    workers: values.workers === undefined ? undefined : int(values.workers, 4, "workers"),
    label: values.label ?? "",
    trace: values.trace,
    profile: values.profile,
    operatorNodeOptions: (values["operator-node-options"] ?? "").split(" ").filter((o) => o !== ""),
    operatorLogLevel: logLevelOf(values["operator-log-level"] ?? "info"),
    apiserverArgs: (values["apiserver-args"] ?? "").split(" ").filter((o) => o !== ""),
    controllerManagerArgs: (values["kcm-args"] ?? "").split(" ").filter((o) => o !== ""),
    operatorIdentity: identityOf(values["operator-identity"] ?? "admin"),
    operatorMemoryLimitMiB: int(
      values["operator-memory-limit"],
      CHART.memoryLimitMiB,
      "operator-memory-limit",
    ),
  };
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "";
  }
}

/** What the side-by-side comparison (rollouts and fleet) adds to the results. */
type Comparison = Pick<
  BenchResult,
  "controlPlane" | "operator" | "argoRollouts" | "rollouts" | "scale" | "operatorProblems"
>;

/** What one control plane of the comparison runs. */
interface Phase {
  /** Pods are Ready this long after they were scheduled. */
  readonly readyDelayMs: number;
  readonly rollouts: boolean;
  readonly scale: boolean;
  /** Argo Rollouts' build, when it is one of the rollouts' systems. */
  readonly argo: ArgoRolloutsBuild | undefined;
  /** Where rollouts-controller's log goes. */
  readonly logDir: string;
}

/**
 * The comparison: the rollouts at each readiness delay, on a control plane of its own (kwok's delay
 * is the control plane's, and a ModelEndpoint's pods carry nothing to set it per pod), and the fleet
 * on the last one.
 */
async function runComparisons(
  settings: Settings,
  argo: ArgoRolloutsBuild | undefined,
  log: (line: string) => void,
  interrupts: Interrupts,
): Promise<Comparison> {
  const rollouts = settings.parts.includes("rollout");
  const scale = settings.parts.includes("scale") && settings.fleet > 0;
  const delays = rollouts ? settings.readyDelaysMs : [settings.readyDelayMs];
  const logDir = join(ROOT, "bench", "results", "logs", new Date().toISOString().replace(/[:.]/g, "-"));
  const parts: Comparison[] = [];
  for (const [i, readyDelayMs] of delays.entries()) {
    const last = i === delays.length - 1;
    log(`comparison at ready delay ${String(readyDelayMs)} ms${last && scale ? " (and the fleet)" : ""}`);
    parts.push(
      await runComparison(
        settings,
        { readyDelayMs, rollouts, scale: last && scale, argo, logDir },
        log,
        interrupts,
      ),
    );
  }
  const final = parts.at(-1);
  if (final === undefined) throw new Error("no ready delay to run the comparison at");
  return {
    ...final,
    ...(final.controlPlane === undefined
      ? {}
      : { controlPlane: { ...final.controlPlane, readyDelaysMs: delays } }),
    rollouts: parts.flatMap((p) => p.rollouts),
    scale: parts.flatMap((p) => p.scale),
    operatorProblems: parts.flatMap((p) => p.operatorProblems).slice(0, 50),
  };
}

/** The rollouts and the fleet, on one control plane with the operator; stops both when done. */
async function runComparison(
  settings: Settings,
  phase: Phase,
  log: (line: string) => void,
  interrupts: Interrupts,
): Promise<Comparison> {
  const apiserverArgs = [
    "--max-requests-inflight=800",
    "--max-mutating-requests-inflight=400",
    ...settings.apiserverArgs,
  ];
  // No metrics-server: its scrapes (and kwok's usage for every pod) would be load no side needs.
  const cp = await ControlPlane.start({
    nodes: 3,
    metrics: false,
    readyDelayMs: phase.readyDelayMs,
    readyJitterMs: 0,
    apiserverArgs,
    controllerManagerArgs: settings.controllerManagerArgs ?? [],
    log,
  });
  const timelines: Timeline[] = [];
  let operator: OperatorProcess | undefined;
  let argo: ArgoRolloutsController | undefined;
  let cgroup: MemoryCgroup | undefined;
  let compileCache: CompileCache | undefined;
  const held = interrupts.hold(async () => {
    for (const t of timelines) await t.stop();
    await argo?.stop();
    await operator?.stop();
    cgroup?.remove();
    compileCache?.remove();
    await cp.stop();
  });
  try {
    await installCrds(cp);
    const client = benchClient(cp);
    mkdirSync(phase.logDir, { recursive: true });
    if (settings.operatorMemoryLimitMiB > 0) {
      const made = createMemoryCgroup(`meo-bench-${String(process.pid)}`, settings.operatorMemoryLimitMiB);
      if ("error" in made) {
        log(`cannot limit the operator's memory (${made.error}); it runs without a limit`);
      } else {
        cgroup = made;
        log(`operator memory limit ${String(made.limitMiB)} MiB (cgroup ${made.path})`);
      }
    }
    const limit = cgroup;
    const kubeconfig =
      settings.operatorIdentity === "chart"
        ? await installChartIdentity(cp, OPERATOR_NAMESPACE)
        : cp.kubeconfigPath;
    if (settings.operatorIdentity === "chart")
      log(
        `operator runs as ServiceAccount ${OPERATOR_NAMESPACE}/${CHART_SERVICE_ACCOUNT} (the chart's RBAC and FlowSchema)`,
      );
    // As the image and the chart run it: V8's heap limit as a share of the container's (only with
    // a limit, as in the chart), the chart's semi-spaces and malloc arenas, and the modules from a
    // compile cache that a run with --help filled (the Dockerfile does the same at build time), so
    // the type stripper is never loaded. --operator-node-options come after, and win.
    const nodeOptions = [
      ...(limit === undefined || CHART.heapLimitPercent === 0
        ? []
        : [`--max-old-space-size-percentage=${String(CHART.heapLimitPercent)}`]),
      ...(CHART.semiSpaceMiB === 0 ? [] : [`--max-semi-space-size=${String(CHART.semiSpaceMiB)}`]),
      ...settings.operatorNodeOptions,
    ];
    compileCache = fillCompileCache([...nodeOptions, MAIN], {
      ...(CHART.mallocArenaMax === 0 ? {} : { MALLOC_ARENA_MAX: String(CHART.mallocArenaMax) }),
      ...process.env,
    });
    const env = compileCache.env;
    operator = new OperatorProcess({
      ...(limit === undefined ? {} : { wrap: (command, args) => inCgroup(limit, command, args) }),
      kubeconfig,
      env,
      logFile: join(phase.logDir, `operator-${String(phase.readyDelayMs)}ms.log`),
      logLevel: settings.operatorLogLevel ?? "info",
      extraArgs: settings.workers === undefined ? [] : [`--workers=${String(settings.workers)}`],
      nodeOptions: [
        ...nodeOptions,
        ...(settings.profile
          ? ["--cpu-prof", `--cpu-prof-dir=${join(ROOT, "bench", "results", "profiles")}`]
          : []),
      ],
      // The bench lists warnings too, not only errors.
      problemLevel: "warn",
      startTimeoutMs: 60_000,
      readyTimeoutMs: 60_000,
    });
    await operator.start();
    const idle = sampleProcess(operator.pid);
    const idleRssMiB = idle === undefined ? null : idle.rssBytes / 2 ** 20;
    log(
      `operator pid ${String(operator.pid)} ready, RSS ${idleRssMiB?.toFixed(1) ?? "?"} MiB; log ${operator.logFile}`,
    );

    const rollouts: RolloutRun[] = [];
    if (phase.rollouts) {
      const systems = settings.systems;
      const namespaces: Partial<Record<System, string>> = Object.fromEntries(
        systems.map((system) => [system, `bench-${system}`]),
      );
      for (const ns of Object.values(namespaces))
        await client
          .resource(NAMESPACES)
          .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
      if (phase.argo !== undefined && namespaces.argorollouts !== undefined) {
        await installArgoCrds(cp, phase.argo);
        mkdirSync(phase.logDir, { recursive: true });
        argo = await ArgoRolloutsController.start({
          build: phase.argo,
          kubeconfig: cp.kubeconfigPath,
          namespace: namespaces.argorollouts,
          logFile: join(phase.logDir, `rollouts-controller-${String(phase.readyDelayMs)}ms.log`),
        });
        log(`rollouts-controller ${phase.argo.version} pid ${String(argo.pid)} ready; log ${argo.logFile}`);
      }
      const tl: Partial<Record<System, Timeline>> = {};
      for (const system of systems) {
        const ns = namespaces[system] ?? "";
        const t = await Timeline.start(client, ns, { rollouts: system === "argorollouts" });
        tl[system] = t;
        timelines.push(t);
      }
      const ctx = {
        cp,
        client,
        operator,
        ...(argo === undefined ? {} : { argo }),
        timelines: tl,
        namespaces,
        n: settings.replicas,
        readyDelayMs: phase.readyDelayMs,
        settleMs: settings.mode === "quick" ? 500 : 1000,
        log,
        trace: settings.trace,
      };
      // One unrecorded rollout each: the operator's JIT, and the garbage collector's first sight
      // of the ModelEndpoint and Rollout types (it discovers new resources only every 30 s), are not
      // measured.
      for (const system of systems) await runRollout(ctx, system, WARMUP, 0);
      log("warm-up rollouts done");
      for (const config of CONFIGS.filter((c) => settings.configs.includes(c.id))) {
        for (let run = 0; run < settings.runs; run++) {
          // Rotate which system goes first, so a drift in load favours none.
          for (const system of runOrder(systems, run)) {
            const r = await runRollout(ctx, system, config, run);
            rollouts.push(r);
            log(
              `rollout D ${String(phase.readyDelayMs)}ms ${config.id} #${String(run)} ${system.padEnd(13)} ${(r.wallMs / 1000).toFixed(2)}s (pods ${(r.podsDoneMs / 1000).toFixed(2)}s, floor ${(r.floorMs / 1000).toFixed(1)}s) writes ${String(r.writes.controller)} cpu ${r.controllerCpuMs.toFixed(0)}ms load ${r.load[0].toFixed(2)} (setup ${((r.setupMs ?? 0) / 1000).toFixed(1)}s, cleanup ${((r.cleanupMs ?? 0) / 1000).toFixed(1)}s)`,
            );
          }
        }
      }
    }

    const scale: ScaleRun[] = [];
    if (phase.scale) {
      const sizes = settings.fleets ?? [settings.fleet];
      for (const fleet of sizes) {
        const runs = fleet === settings.fleet ? settings.fleetRuns : 1;
        for (let run = 0; run < runs; run++) {
          scale.push(
            ...(await runScale({
              cp,
              client,
              operator,
              fleet,
              run,
              last: fleet === sizes.at(-1) && run === runs - 1,
              systems: settings.fleetSystems,
              deploymentPdb: settings.deploymentPdb ?? false,
              deploymentModelServices: settings.deploymentModelServices ?? false,
              log,
            })),
          );
        }
      }
    }

    return {
      controlPlane: {
        kubernetes: cp.binaries.kubernetesVersion,
        nodes: 3,
        readyDelayMs: phase.readyDelayMs,
        readyJitterMs: 0,
        apiserverArgs,
        controllerManagerArgs: settings.controllerManagerArgs ?? [],
      },
      operator: {
        args: operator.args,
        nodeOptions,
        mallocArenaMax: env.MALLOC_ARENA_MAX ?? null,
        memoryLimitMiB: cgroup?.limitMiB ?? null,
        idleRssMiB,
      },
      ...(argo === undefined || phase.argo === undefined
        ? {}
        : { argoRollouts: { version: phase.argo.version, args: argo.args } }),
      rollouts,
      scale,
      operatorProblems: operator.problems().slice(0, 50),
    };
  } finally {
    await held.release();
  }
}

/** The results files of `--merge`, as given or under bench/results. */
function readResults(list: string): { file: string; result: BenchResult }[] {
  const files = list.split(",").filter((f) => f !== "");
  if (files.length < 2)
    throw new Error(
      `--merge takes two or more results files separated by commas, got ${JSON.stringify(list)}`,
    );
  return files.map((given) => {
    const file = [resolve(given), join(ROOT, "bench", "results", given)].find((f) => existsSync(f));
    if (file === undefined) throw new Error(`--merge: no results file ${given} (nor bench/results/${given})`);
    let result: unknown;
    try {
      result = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new Error(`--merge: ${file} is not JSON: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    if (typeof result !== "object" || result === null || !Array.isArray((result as BenchResult).scale))
      throw new Error(`--merge: ${file} is not a results file of npm run bench (no scale[])`);
    return { file: relative(ROOT, file), result: result as BenchResult };
  });
}

/** Writes a result as bench/results/<time>-<kind>.json, its growth chart when it has one, and prints the report. */
function publish(result: BenchResult, time: string, kind: string): void {
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${time.replace(/[:.]/g, "-")}-${kind}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const chart = growthChart(result);
  const chartFile = file.replace(/\.json$/, "-fleet.svg");
  if (chart !== undefined) writeFileSync(chartFile, chart);
  const text = report(result);
  process.stdout.write(
    `\n${text.body}\n\nresults: ${file}${chart === undefined ? "" : `\nfleet growth chart: ${chartFile}`}\n${text.summary}\n`,
  );
}

const began = Date.now();
const log = (line: string): void => {
  process.stdout.write(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
};
/** The undos a signal runs; a failure after a signal (its control plane gone) waits for them. */
const signals = processInterrupts(log);

async function main(): Promise<void> {
  const mergeAt = process.argv.indexOf("--merge");
  if (mergeAt >= 0) {
    const others = process.argv.slice(2).filter((_, i) => i !== mergeAt - 2 && i !== mergeAt - 1);
    if (others.length > 0)
      throw new Error(`--merge runs nothing, so it takes no other option: ${others.join(" ")}`);
    const merged = mergeResults(readResults(process.argv[mergeAt + 1] ?? ""));
    for (const m of merged.mergedFrom ?? [])
      process.stdout.write(
        `${m.file} (${m.startedAt}, ${m.commit.slice(0, 7)}): ${m.fleets.join(", ") || "nothing new"}\n`,
      );
    publish(merged, new Date().toISOString(), "merged");
    return;
  }
  const asked = settingsFrom(process.argv.slice(2));
  // Argo Rollouts is built on request only (make argo-rollouts): without it, the others run.
  const argoBuild = findArgoRollouts();
  const argoMissing = asked.systems.includes("argorollouts") && argoBuild.missing !== undefined;
  if (argoMissing && asked.parts.includes("rollout"))
    log(`${argoBuild.missing ?? ""}; the rollouts run without it`);
  const settings: Settings = argoMissing
    ? { ...asked, systems: asked.systems.filter((x) => x !== "argorollouts") }
    : asked;
  const argo = settings.systems.includes("argorollouts") ? argoBuild : undefined;
  log(`bench ${settings.mode}: ${JSON.stringify(settings)}`);
  log(
    `machine: ${String(cpus().length)} cores, load ${load().join(" ")}; figures on a shared machine are noisy`,
  );
  // One control plane at a time: the data plane's starts after the comparison's has stopped.
  const comparison = settings.parts.some((p) => p === "rollout" || p === "scale")
    ? await runComparisons(settings, argo, log, signals)
    : undefined;
  const dataPlane = settings.parts.includes("dataplane")
    ? await runDataPlane({ seconds: settings.dataPlaneSeconds, log, interrupts: signals })
    : undefined;
  const vertex = settings.parts.includes("vertex")
    ? await runVertex({
        seconds: settings.dataPlaneSeconds,
        clients: VERTEX_CLIENTS,
        fleet: Math.max(settings.fleet, 1000),
        log,
        interrupts: signals,
      })
    : undefined;
  const result: BenchResult = {
    schema: "model-endpoint-operator/bench@1",
    label: settings.label,
    mode: settings.mode,
    startedAt: new Date(began).toISOString(),
    durationSeconds: Math.round((Date.now() - began) / 1000),
    git: { commit: git(["rev-parse", "HEAD"]), dirty: git(["status", "--porcelain", "--", "src"]) !== "" },
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "",
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      node: process.version,
      loadAtEnd: load(),
    },
    ...(comparison === undefined
      ? {}
      : {
          controlPlane: comparison.controlPlane,
          operator: comparison.operator,
          ...(comparison.argoRollouts === undefined ? {} : { argoRollouts: comparison.argoRollouts }),
        }),
    settings,
    rollouts: comparison?.rollouts ?? [],
    scale: comparison?.scale ?? [],
    ...(dataPlane === undefined ? {} : { dataPlane }),
    ...(vertex === undefined ? {} : { vertex }),
    operatorProblems: comparison?.operatorProblems ?? [],
  };
  publish(result, result.startedAt, settings.mode);
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    // A signal's undo exits 130 when it is done; the failure it caused is not the bench's.
    if (signals.interrupted !== undefined) return signals.interrupted;
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
