/**
 * The bench's arithmetic: the physical floor of a rollout, budgets, histogram quantiles as PromQL
 * computes them, the attribution of the API server's write counters, status writes that changed
 * nothing, when an Argo Rollout is complete, the order of the systems and the paired ratios. Benchmarks print figures and assert none; these check that the figures are computed right.
 */
import { describe, expect, it } from "vitest";

import { apfBetween } from "../../bench/lib/apf.ts";
import { attribute, diffWrites } from "../../bench/lib/apiserver.ts";
import { floorWaves, resolveBudgets } from "../../bench/lib/budgets.ts";
import { argoRolloutDone } from "../../bench/lib/done.ts";
import { deploymentVersionService, LABEL_APP, type ArgoRolloutObject } from "../../bench/lib/objects.ts";
import { histogramQuantile, latencyBetween, parseProm } from "../../bench/lib/prom.ts";
import { summarize } from "../../bench/lib/stats.ts";
import { countStatusWrites } from "../../bench/lib/statuswrites.ts";
import { chartSvg, logTicks, tickLabel } from "../../bench/lib/plot.ts";
import {
  fleetsOf,
  fleetSizes,
  growthChart,
  mainRatio,
  mergeResults,
  pairedRatios,
  report,
  rolloutAxes,
  targetFleet,
  targets,
  type BenchResult,
} from "../../bench/report.ts";
import type { ScaleRun } from "../../bench/scale.ts";
import { peakPods, runOrder, type RolloutRun, type System } from "../../bench/rollout.ts";

describe("the physical floor", () => {
  it("counts the waves of the documented examples", () => {
    expect(floorWaves(10, 2, 0)).toBe(5);
    expect(floorWaves(10, 0, 2)).toBe(5);
    expect(floorWaves(10, 3, 2)).toBe(2);
    expect(floorWaves(10, 10, 0)).toBe(1);
    expect(floorWaves(10, 0, 10)).toBe(1);
    expect(floorWaves(2, 1, 0)).toBe(2);
  });

  it("refuses budgets that allow no progress", () => {
    expect(() => floorWaves(3, 0, 0)).toThrow("no progress possible");
  });

  it("never needs more waves than pods, nor fewer than N over what one wave can add", () => {
    for (let n = 1; n <= 12; n++) {
      for (let surge = 0; surge <= n; surge++) {
        for (let unavailable = 0; unavailable <= n; unavailable++) {
          if (surge === 0 && unavailable === 0) continue;
          const waves = floorWaves(n, surge, unavailable);
          expect(waves).toBeGreaterThanOrEqual(1);
          expect(waves).toBeLessThanOrEqual(n);
          expect(waves).toBeGreaterThanOrEqual(Math.ceil(n / (surge + unavailable)));
        }
      }
    }
  });

  it("resolves budgets as a Deployment does: surge up, unavailable down, never both 0", () => {
    expect(resolveBudgets(10, "25%", "25%")).toEqual({ surge: 3, unavailable: 2 });
    expect(resolveBudgets(10, 2, 0)).toEqual({ surge: 2, unavailable: 0 });
    expect(resolveBudgets(3, "10%", "10%")).toEqual({ surge: 1, unavailable: 0 });
    expect(resolveBudgets(10, 0, 0)).toEqual({ surge: 0, unavailable: 1 });
  });
});

describe("histogram quantiles", () => {
  const cumulative = new Map([
    [0.1, 50],
    [0.5, 100],
    [Number.POSITIVE_INFINITY, 100],
  ]);

  it("interpolates within the bucket, as PromQL's histogram_quantile", () => {
    expect(histogramQuantile(0.5, cumulative)).toBeCloseTo(0.1);
    expect(histogramQuantile(0.75, cumulative)).toBeCloseTo(0.3);
    expect(histogramQuantile(0.25, cumulative)).toBeCloseTo(0.05);
  });

  it("answers the last finite bound in +Inf and NaN when empty", () => {
    const tail = new Map([
      [0.1, 1],
      [Number.POSITIVE_INFINITY, 10],
    ]);
    expect(histogramQuantile(0.99, tail)).toBe(0.1);
    expect(histogramQuantile(0.5, new Map())).toBeNaN();
  });

  it("takes the observations between two scrapes of the metrics text", () => {
    const scrape = (fast: number, slow: number): string =>
      [
        "# TYPE x histogram",
        `x_bucket{result="success",le="0.01"} ${String(fast)}`,
        `x_bucket{result="success",le="1"} ${String(fast + slow)}`,
        `x_bucket{result="success",le="+Inf"} ${String(fast + slow)}`,
        `x_count{result="success"} ${String(fast + slow)}`,
      ].join("\n");
    const before = parseProm(scrape(10, 0), ["x"]);
    const after = parseProm(scrape(10, 100), ["x"]);
    const l = latencyBetween(after, before, "x");
    expect(l.count).toBe(100);
    expect(l.p50Ms).toBeCloseTo(505, 0);
    expect(l.p99Ms).toBeCloseTo(990.1, 0);
  });
});

describe("the API server's write counters", () => {
  it("attributes writes to the controller, status, refusals, the shared pod lifecycle and events", () => {
    const before = new Map([["apps/replicasets PATCH 200", 5]]);
    const after = new Map([
      ["apps/replicasets PATCH 200", 8],
      ["apps/replicasets PATCH 409", 1],
      ["serving.modelendpoint.io/modelendpoints/status PUT 200", 4],
      ["serving.modelendpoint.io/modelendpoints PATCH 200", 1],
      ["core/pods POST 201", 2],
      ["core/pods/binding POST 201", 2],
      ["events.k8s.io/events POST 201", 5],
      ["core/events POST 201", 2],
      ["discovery.k8s.io/endpointslices PUT 200", 3],
      ["coordination.k8s.io/leases PUT 200", 7],
      ["apps/replicasets PATCH seconds", 0.4],
    ]);
    const w = attribute(diffWrites(after, before));
    expect(w.controller).toBe(3 + 1 + 4);
    expect(w.status).toBe(4);
    expect(w.refused).toBe(1);
    expect(w.trigger).toBe(1);
    expect(w.controllerEvents).toBe(3); // 5 events.k8s.io writes, 2 of them the scheduler's bindings
    expect(w.coreEvents).toBe(2);
    expect(w.endpointSlices).toBe(3);
    expect(w.total).toBe(3 + 1 + 4 + 1 + 2 + 2 + 5 + 2 + 3); // leases are background
    expect(w.meanMs["apps/replicasets PATCH"]).toBeCloseTo(100); // 0.4 s over 4 requests
  });

  it("attributes an Argo Rollout's update and status writes to its controller, the bench's patch to the trigger", () => {
    const w = attribute(
      new Map([
        ["argoproj.io/rollouts PATCH 200", 1],
        ["argoproj.io/rollouts PUT 200", 1],
        ["argoproj.io/rollouts/status PATCH 200", 22],
        ["argoproj.io/rollouts/status PUT 200", 1],
        ["apps/replicasets PUT 200", 15],
        ["apps/replicasets PUT 409", 10],
        ["core/events POST 201", 33],
      ]),
    );
    expect(w.trigger).toBe(1);
    expect(w.controller).toBe(1 + 22 + 1 + 15 + 10);
    expect(w.status).toBe(23);
    expect(w.refused).toBe(10);
    expect(w.coreEvents).toBe(33);
  });

  it("does not count the bench's patch of a Deployment as a status write", () => {
    const w = attribute(new Map([["apps/deployments PATCH 200", 1]]));
    expect(w).toMatchObject({ trigger: 1, controller: 0, status: 0 });
  });

  it("counts status writes that changed nothing as accepted minus changes seen", () => {
    const writes = attribute(
      new Map([
        ["serving.modelendpoint.io/modelendpoints/status PUT 200", 5],
        ["serving.modelendpoint.io/modelendpoints/status PUT 409", 2],
      ]),
    );
    const seen = [
      { t: 1, endpoint: "a", changed: true, timesOnly: false },
      { t: 2, endpoint: "a", changed: true, timesOnly: true },
      { t: 3, endpoint: "a", changed: true, timesOnly: false },
    ];
    expect(countStatusWrites(seen, writes, 5)).toEqual({
      accepted: 5,
      changed: 3,
      timesOnly: 1,
      unchanged: 2,
      operatorCounted: 5,
    });
  });
});

describe("summaries", () => {
  it("medians with min and max, ignoring what was not measured", () => {
    expect(summarize([3, 1, 2, Number.NaN])).toMatchObject({ n: 3, median: 2, min: 1, max: 3 });
    expect(summarize([4, 1, 2, 3]).median).toBe(2.5);
    expect(summarize([]).median).toBeNaN();
  });
});

describe("an Argo Rollout's completion, as kubectl argo rollouts status judges it", () => {
  const healthy = {
    observedGeneration: "2",
    phase: "Healthy",
    replicas: 10,
    updatedReplicas: 10,
    availableReplicas: 10,
    stableRS: "69c4574d7b",
    currentPodHash: "69c4574d7b",
  };
  const rollout = (status: ArgoRolloutObject["status"] | undefined, generation = 2): ArgoRolloutObject => ({
    metadata: { name: "r", generation },
    ...(status === undefined ? {} : { status }),
  });
  const done = argoRolloutDone(2, 10);

  it("is done when the controller observed the generation and says Healthy with every replica new", () => {
    expect(done(rollout(healthy))).toBe(true);
  });

  it("is not done before the controller observed the change", () => {
    expect(done(rollout({ ...healthy, observedGeneration: "1" }))).toBe(false);
    expect(done(rollout({ ...healthy, observedGeneration: "1" }, 1))).toBe(false);
    const { observedGeneration: _, ...unobserved } = healthy;
    expect(done(rollout(unobserved))).toBe(false);
  });

  it("counts an observedGeneration that is not a number as observed (older controllers wrote a hash)", () => {
    expect(done(rollout({ ...healthy, observedGeneration: "7d9f8c" }))).toBe(true);
  });

  it("is not done while Progressing, with old replicas left, or before the new ReplicaSet is stable", () => {
    expect(done(rollout({ ...healthy, phase: "Progressing" }))).toBe(false);
    expect(done(rollout({ ...healthy, replicas: 12 }))).toBe(false);
    expect(done(rollout({ ...healthy, availableReplicas: 9 }))).toBe(false);
    expect(done(rollout({ ...healthy, updatedReplicas: 8 }))).toBe(false);
    expect(done(rollout({ ...healthy, stableRS: "74d865f79c" }))).toBe(false);
    expect(done(rollout(undefined))).toBe(false);
  });
});

describe("the most pods alive at once during a rollout", () => {
  const pod = (name: string, seenAt: number, goneAt?: number, group = "ep") => ({
    name,
    group,
    replicaSet: "rs",
    version: "v",
    seenAt,
    ...(goneAt === undefined ? {} : { goneAt }),
  });

  it("counts pods alive at the start, then each creation and each going, in the order the watch saw them", () => {
    const pods = [
      pod("old-a", 0, 30),
      pod("old-b", 0),
      pod("new-a", 20),
      pod("new-b", 40),
      pod("gone-before", 0, 5),
      pod("after", 200),
      pod("other", 25, undefined, "other-endpoint"),
    ];
    // From 10: old-a, old-b (2); new-a at 20 (3); old-a goes at 30 (2); new-b at 40 (3).
    expect(peakPods(pods, "ep", 10, 100)).toBe(3);
    // A pod created before the old one was seen going: 4 at once.
    expect(peakPods([...pods, pod("early", 25)], "ep", 10, 100)).toBe(4);
  });

  it("lets a pod going and one coming at the same instant replace each other", () => {
    expect(peakPods([pod("old", 0, 50), pod("new", 50)], "ep", 10, 100)).toBe(1);
  });
});

describe("the order of the systems", () => {
  const systems: System[] = ["deployment", "modelendpoint", "argorollouts"];

  it("puts each system first, second and third once in three runs", () => {
    const orders = [0, 1, 2].map((run) => runOrder(systems, run));
    expect(orders).toEqual([
      ["deployment", "modelendpoint", "argorollouts"],
      ["modelendpoint", "argorollouts", "deployment"],
      ["argorollouts", "deployment", "modelendpoint"],
    ]);
    for (const position of [0, 1, 2])
      expect(new Set(orders.map((o) => o[position])).size).toBe(systems.length);
    expect(runOrder(systems, 3)).toEqual(orders[0]);
  });

  it("alternates two systems, as the bench did before a third", () => {
    expect(runOrder(["deployment", "modelendpoint"], 0)).toEqual(["deployment", "modelendpoint"]);
    expect(runOrder(["deployment", "modelendpoint"], 1)).toEqual(["modelendpoint", "deployment"]);
    expect(runOrder([], 1)).toEqual([]);
  });
});

describe("ratios between the systems", () => {
  const run = (system: System, readyDelayMs: number, index: number, wallMs: number): RolloutRun =>
    ({ system, config: "surge2", run: index, readyDelayMs, wallMs }) as RolloutRun;
  const result = {
    settings: { readyDelayMs: 1000 },
    rollouts: [
      run("deployment", 500, 0, 4000),
      run("modelendpoint", 500, 0, 3000),
      run("argorollouts", 500, 0, 6000),
      run("deployment", 1000, 0, 6000),
      run("modelendpoint", 1000, 0, 5400),
      run("argorollouts", 1000, 0, 9000),
      run("deployment", 1000, 1, 6000),
      run("modelendpoint", 1000, 1, 6600),
    ],
  } as unknown as BenchResult;

  it("pairs runs of the same budgets, delay and index", () => {
    expect(pairedRatios(result, "surge2", 500)).toEqual([0.75]);
    expect(pairedRatios(result, "surge2", 1000)).toEqual([0.9, 1.1]);
    expect(pairedRatios(result, "surge2", 1000, "modelendpoint", "argorollouts")).toEqual([0.6]);
  });

  it("takes the headline ratio at the fleet's delay, against Deployment or Argo Rollouts", () => {
    expect(mainRatio(result).ratio).toBeCloseTo(1);
    expect(mainRatio(result, "argorollouts").ratio).toBeCloseTo(6000 / 9000);
  });

  it("lists the systems and delays that ran, in the bench's order", () => {
    expect(rolloutAxes(result)).toEqual({
      systems: ["deployment", "modelendpoint", "argorollouts"],
      delaysMs: [500, 1000],
    });
  });
});

describe("fleet sizes", () => {
  it("parses a list, ascending, without repeats or 0; refuses anything else", () => {
    expect(fleetsOf("5000,100,1000,100")).toEqual([100, 1000, 5000]);
    expect(fleetsOf("300")).toEqual([300]);
    expect(fleetsOf("0")).toEqual([]);
    expect(() => fleetsOf("100,1k")).toThrow("--fleet takes whole numbers separated by commas");
  });

  it("judges the targets at 1000 when it runs, else at the largest", () => {
    expect(targetFleet([100, 1000, 5000])).toBe(1000);
    expect(targetFleet([100, 300])).toBe(300);
    expect(targetFleet([])).toBe(0);
  });
});

describe("the fleet's growth", () => {
  const run = (
    system: "deployment" | "modelendpoint",
    fleet: number,
    index: number,
    rolledMs: number,
  ): ScaleRun =>
    ({
      system,
      fleet,
      run: index,
      readyMs: rolledMs / 2,
      readyP50Ms: rolledMs / 4,
      rolledMs,
      rolledP50Ms: rolledMs / 2,
      reconcile: { p50Ms: 2, p90Ms: 5, p99Ms: fleet / 10 },
      reconcileCreate: { p50Ms: 2, p90Ms: 5, p99Ms: 10 },
      reconcileRoll: { p50Ms: 2, p90Ms: 5, p99Ms: 10 },
      decide: { p50Ms: 0.1, p90Ms: 0.5, p99Ms: 1 },
      queueDepthPeak: 3,
      operatorPeakRssMiB: system === "modelendpoint" ? 100 + fleet / 10 : 0,
      operatorRssAfterMiB: 0,
      operatorMemory: { heapUsedMiB: 0, heapTotalMiB: 0, externalMiB: 0 },
      controllerCpuMs: fleet * 10,
      kcmCpuMs: 0,
      componentCpuMs: { "kube-apiserver": fleet * (system === "deployment" ? 20 : 30) },
      operatorCpuMs: 0,
      writes: { controller: fleet * 9, total: fleet * 70, byKey: {}, meanMs: {} },
      cleanupMs: 0,
    }) as unknown as ScaleRun;
  /** The growth table's row for `size` in a report: its size, then all Ready and all rolled (Dep, MEP, ratio). */
  const growthCells = (body: string, size: number): string[] | undefined =>
    body
      .split("\n")
      .find((l) => l.startsWith(`| ${String(size)} `))
      ?.split("|")
      .map((c) => c.trim())
      .slice(1, 8);
  const result = {
    mode: "full",
    startedAt: "2026-12-03T12:00:00.000Z",
    git: { commit: "0123456789abcdef", dirty: false },
    machine: { cpus: 2, loadAtEnd: [1, 1, 1] },
    settings: { fleet: 1000, fleets: [100, 1000, 5000], fleetRuns: 2 },
    rollouts: [],
    scale: [
      run("deployment", 100, 0, 10_000),
      run("modelendpoint", 100, 0, 20_000),
      run("deployment", 1000, 0, 100_000),
      run("modelendpoint", 1000, 0, 150_000),
      run("deployment", 1000, 1, 120_000),
      run("modelendpoint", 1000, 1, 170_000),
      run("deployment", 5000, 0, 600_000),
      run("modelendpoint", 5000, 0, 900_000),
    ],
    operatorProblems: [],
  } as unknown as BenchResult;

  it("judges the targets at the targets' size only", () => {
    const rolled = targets(result).find((t) => t.name.includes("all rolled"));
    expect(rolled?.name).toBe("1000 endpoints all rolled / 1000 Deployments");
    expect(rolled?.value).toBe((160_000 / 110_000).toFixed(2));
  });

  it("judges memory in MB of 10^6 bytes, and the idle operator only where it was measured", () => {
    const memory = (r: BenchResult) =>
      targets(r)
        .filter((t) => t.name.startsWith("operator"))
        .map((t) => [t.name, t.value, t.met]);
    // 200 MiB at 1000 endpoints (the fixture's) is 209.7 MB.
    expect(memory(result)).toEqual([["operator peak RSS at 1000 endpoints", "210 MB", false]]);
    const idle = (mib: number) =>
      ({ ...result, operator: { args: [], memoryLimitMiB: 512, idleRssMiB: mib } }) as BenchResult;
    expect(memory(idle(95))[0]).toEqual(["operator RSS idle (ready, no objects)", "100 MB", true]);
    expect(memory(idle(96))[0]).toEqual(["operator RSS idle (ready, no objects)", "101 MB", false]);
  });

  it("neither meets nor misses a target whose system did not run", () => {
    const judged = (system: "deployment" | "modelendpoint") =>
      targets({ ...result, scale: result.scale.filter((x) => x.system === system) }).map((t) => [
        t.name.split(" / ")[0],
        t.value,
        t.met,
      ]);
    expect(judged("modelendpoint")).toEqual([
      ["1000 endpoints all Ready", "n/a", undefined],
      ["1000 endpoints all rolled", "n/a", undefined],
      ["operator peak RSS at 1000 endpoints", "210 MB", false],
      ["reconcile p99 at 1000 endpoints", "100.0 ms", false],
    ]);
    // Without endpoints, no operator ran at that size: its maximum over no runs is no figure.
    expect(judged("deployment").slice(2)).toEqual([
      ["operator peak RSS at 1000 endpoints", "n/a", undefined],
      ["reconcile p99 at 1000 endpoints", "n/a", undefined],
    ]);
    expect(
      report({ ...result, scale: result.scale.filter((x) => x.system === "modelendpoint") }).body,
    ).toMatch(/1000 endpoints all rolled \/ 1000 Deployments +\| +<= 1\.1 \| +n\/a \| not measured \|/);
  });

  it("says which fleets ran past the per-phase timeout, and how far they got", () => {
    const late = {
      ...run("modelendpoint", 5000, 0, Number.NaN),
      readyMs: 1_400_000,
      timedOut: { phase: "rolled", done: 4123, of: 5000 },
    } as ScaleRun;
    const partial = {
      ...result,
      scale: [...result.scale.filter((x) => !(x.fleet === 5000 && x.system === "modelendpoint")), late],
    } as BenchResult;
    const body = report(partial).body;
    expect(body).toContain(
      "modelendpoint #0 ran past the per-phase timeout: 4123 of 5000 rolled; the times it did not reach are n/a",
    );
    expect(report(result).body).not.toContain("per-phase timeout");
    // Its Ready time still counts in the growth table; its rollout is n/a there.
    expect(growthCells(body, 5000)).toEqual(["5000", "300.0", "1400.0", "4.67", "600.0", "n/a", "n/a"]);
  });

  it("names Deployments with a PodDisruptionBudget each where the fleet had them", () => {
    const withPdb = { ...result, settings: { ...result.settings, deploymentPdb: true } } as BenchResult;
    expect(targets(withPdb).map((t) => t.name)).toContain(
      "1000 endpoints all rolled / 1000 Deployments with a PDB each",
    );
    expect(report(withPdb).body).toContain("| deployment + PDB ");
    expect(report(result).body).not.toContain("PDB");
  });

  it("names Deployments with a Service per version as well where the fleet had them", () => {
    const same = {
      ...result,
      settings: { ...result.settings, deploymentPdb: true, deploymentModelServices: true },
    } as BenchResult;
    expect(targets(same).map((t) => t.name)).toContain(
      "1000 endpoints all Ready / 1000 Deployments with a PDB and a Service per version each",
    );
    expect(report(same).body).toContain("| deployment + PDB + version Services ");
    const servicesOnly = {
      ...result,
      settings: { ...result.settings, deploymentModelServices: true },
    } as BenchResult;
    expect(report(servicesOnly).body).toContain("| deployment + version Services ");
  });

  it("gives a Deployment's version Service the selector of that version's pods only, and no ClusterIP", () => {
    const s = deploymentVersionService("ns", "f0001", 2);
    expect(s.metadata?.name).toBe("f0001-v2");
    expect(s.spec?.selector).toEqual({ [LABEL_APP]: "f0001", version: "2" });
    // Headless, as an endpoint's model Services are where no Gateway routes.
    expect(s.spec?.clusterIP).toBe("None");
  });

  it("splits the API server's CPU per object into the creation and the rollout where it was recorded", () => {
    const header = (body: string) => body.split("\n").find((l) => l.startsWith("| fleet "));
    const cells = (body: string, system: string) =>
      body
        .split("\n")
        .find((l) => l.startsWith(`| ${system} `))
        ?.split("|")
        .map((c) => c.trim());
    const column = (body: string, system: string, name: string) =>
      cells(body, system)?.[
        header(body)
          ?.split("|")
          .map((c) => c.trim())
          .indexOf(name) ?? -1
      ];
    const only1000 = (x: ScaleRun) => x.fleet === 1000 && x.run === 0;
    // 1000 endpoints: 30 s of API server CPU in all, 12 s of it to all Ready.
    const split = {
      ...result,
      settings: { ...result.settings, fleets: [1000], fleetRuns: 1 },
      scale: result.scale.filter(only1000).map((x) => ({
        ...x,
        componentCpuCreateMs: { "kube-apiserver": x.system === "modelendpoint" ? 12_000 : 5_000 },
      })),
    } as BenchResult;
    const body = report(split).body;
    expect(column(body, "modelendpoint", "per object created ms")).toBe("12.0");
    expect(column(body, "modelendpoint", "per object rolled ms")).toBe("18.0");
    expect(column(body, "deployment", "per object rolled ms")).toBe("15.0");
    // A result from before the split: not measured, not a number made up.
    const old = { ...split, scale: result.scale.filter(only1000) } as BenchResult;
    expect(column(report(old).body, "modelendpoint", "per object created ms")).toBe("n/a");
  });

  it("tabulates each size with both systems and their ratios", () => {
    expect(fleetSizes(result)).toEqual([100, 1000, 5000]);
    const body = report(result).body;
    expect(body).toContain("Growth with the fleet's size");
    const row = body.split("\n").find((l) => l.startsWith("| 5000 "));
    // all rolled 600 s against 900 s; API server CPU per object 20 against 30 ms.
    expect(row?.split("|").map((c) => c.trim())).toEqual(
      expect.arrayContaining(["600.0", "900.0", "1.50", "20.0", "30.0", "70.0", "500"]),
    );
  });

  it("draws one line per system in each panel, at the sizes that ran", () => {
    const svg = growthChart(result) ?? "";
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline/g)?.length).toBe(5); // rolled and API CPU for both, RSS for the operator
    expect(svg.match(/<circle/g)?.length).toBe(15);
    expect(svg).toContain("commit 0123456");
    expect(growthChart({ ...result, scale: result.scale.filter((x) => x.fleet === 1000) })).toBeUndefined();
  });

  it("merges runs that each measured some sizes, a system at a size from the first run that has it", () => {
    const early = {
      ...result,
      label: "early",
      scale: result.scale.filter((x) => x.fleet !== 5000),
    } as BenchResult;
    const later = {
      ...result,
      label: "",
      startedAt: "2026-12-04T20:00:00.000Z",
      git: { commit: "fedcba9876543210", dirty: false },
      // A 1000 of its own (left out: the early run has one) and the 5000 of one system only.
      scale: [run("modelendpoint", 1000, 0, 999_000), run("modelendpoint", 5000, 0, 800_000)],
    } as BenchResult;
    const merged = mergeResults([
      { file: "a.json", result: early },
      { file: "b.json", result: later },
    ]);
    expect(merged.scale.filter((x) => x.fleet === 1000).map((x) => x.rolledMs)).toEqual([
      100_000, 150_000, 120_000, 170_000,
    ]);
    expect(merged.settings.fleets).toEqual([100, 1000, 5000]);
    expect(merged.settings.fleet).toBe(1000);
    expect(merged.label).toBe("merged: early + b.json");
    expect(merged.mergedFrom?.map((m) => [m.file, m.commit, m.fleets])).toEqual([
      [
        "a.json",
        "0123456789abcdef",
        ["deployment 100", "modelendpoint 100", "deployment 1000", "modelendpoint 1000"],
      ],
      ["b.json", "fedcba9876543210", ["modelendpoint 5000"]],
    ]);
    expect(growthCells(report(merged).body, 5000)).toEqual([
      "5000",
      "n/a",
      "400.0",
      "n/a",
      "n/a",
      "800.0",
      "n/a",
    ]);
    expect(growthChart(merged)).toContain("2 runs of 2026-12-03 (0123456), 2026-12-04 (fedcba9)");
    const otherMachine = { ...later, machine: { ...later.machine, cpus: 8 } } as BenchResult;
    expect(() =>
      mergeResults([
        { file: "a.json", result: early },
        { file: "c.json", result: otherMachine },
      ]),
    ).toThrow("c.json: measured on 8 cores, a.json on 2: their fleets do not compare");
  });

  it("ticks a log axis at 1, 2 and 5 times the powers of ten, labelled briefly", () => {
    expect(logTicks(100, 5000)).toEqual([100, 200, 500, 1000, 2000, 5000]);
    expect(logTicks(0.3, 3)).toEqual([0.5, 1, 2]);
    expect([100, 2000, 0.5].map(tickLabel)).toEqual(["100", "2k", "0.5"]);
  });

  it("escapes text and leaves out points that a log axis cannot show", () => {
    const svg = chartSvg(
      [
        {
          title: "a < b",
          yLabel: "s",
          series: [
            {
              name: "x & y",
              color: "#000",
              points: [
                [1, 0],
                [10, 5],
                [100, Number.NaN],
              ],
            },
          ],
        },
      ],
      "caption",
    );
    expect(svg).toContain("a &lt; b");
    expect(svg).toContain("x &amp; y");
    expect(svg.match(/<circle/g)?.length).toBe(1);
  });
});

describe("API Priority and Fairness between two scrapes", () => {
  const scrape = (dispatched: number, rejected: number, fast: number, slow: number): string =>
    [
      `apiserver_flowcontrol_dispatched_requests_total{flow_schema="meo",priority_level="meo"} ${String(dispatched)}`,
      `apiserver_flowcontrol_dispatched_requests_total{flow_schema="exempt",priority_level="exempt"} 7`,
      `apiserver_flowcontrol_rejected_requests_total{flow_schema="meo",priority_level="meo",reason="queue-full"} ${String(rejected)}`,
      `apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="true",flow_schema="meo",priority_level="meo",le="0.001"} ${String(fast)}`,
      `apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="true",flow_schema="meo",priority_level="meo",le="0.1"} ${String(fast + slow)}`,
      `apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="true",flow_schema="meo",priority_level="meo",le="+Inf"} ${String(fast + slow)}`,
    ].join("\n");
  const prefixes = ["apiserver_flowcontrol_"];

  it("counts each busy priority level's requests and interpolates its queue wait", () => {
    const before = parseProm(scrape(100, 0, 100, 0), prefixes);
    const after = parseProm(scrape(300, 2, 298, 2), prefixes);
    const [meo, ...rest] = apfBetween(after, before);
    expect(rest).toEqual([]); // exempt dispatched nothing in between
    expect(meo?.priorityLevel).toBe("meo");
    expect(meo?.dispatched).toBe(200);
    expect(meo?.rejected).toBe(2);
    // 198 of 200 waited under 1 ms: the median lies 100/198 into that bucket, p99 at its top.
    expect(meo?.waitP50Ms).toBeCloseTo((1 * 100) / 198, 6);
    expect(meo?.waitP99Ms).toBeCloseTo(1, 6);
  });
});
