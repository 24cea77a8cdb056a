/**
 * The bench's arithmetic: the physical floor of a rollout, budgets, histogram quantiles as PromQL
 * computes them, the attribution of the API server's write counters, and status writes that changed
 * nothing. Benchmarks print figures and assert none; these check that the figures are computed right.
 */
import { describe, expect, it } from "vitest";

import { attribute, diffWrites } from "../../bench/lib/apiserver.ts";
import { floorWaves, resolveBudgets } from "../../bench/lib/budgets.ts";
import { histogramQuantile, latencyBetween, parseProm } from "../../bench/lib/prom.ts";
import { summarize } from "../../bench/lib/stats.ts";
import { countStatusWrites } from "../../bench/lib/statuswrites.ts";

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
