import { describe, expect, it } from "vitest";

import type { Load, LoadSummary, WindowSummary } from "./load.ts";
import { compareSplit, describeStep, SplitFollower } from "./split.ts";

describe("compareSplit", () => {
  it("gives each model's share in percent and the largest gap in points", () => {
    expect(compareSplit({ m1: 748, m2: 252 }, { m1: 75, m2: 25 })).toEqual({
      requests: 1000,
      observed: { m1: 74.8, m2: 25.2 },
      deviation: 0.2,
    });
  });

  it("counts a model that answered but has no share as expected at 0", () => {
    expect(compareSplit({ m1: 90, m3: 10 }, { m1: 100 })).toEqual({
      requests: 100,
      observed: { m1: 90, m3: 10 },
      deviation: 10,
    });
  });

  it("lists a model with a share that never answered at 0", () => {
    expect(compareSplit({ m1: 100 }, { m1: 90, m2: 10 })).toEqual({
      requests: 100,
      observed: { m1: 100, m2: 0 },
      deviation: 10,
    });
  });

  it("finds no deviation without answers", () => {
    expect(compareSplit({}, { m1: 100 })).toEqual({ requests: 0, observed: { m1: 0 }, deviation: 0 });
  });
});

/** A load whose windows the test fills: `answer(model, n)` adds answers to the current window. */
function fakeLoad(): Load & { answer(model: string, n: number): void; labels(): string[] } {
  const windows: { label: string; byModel: Record<string, number> }[] = [{ label: "start", byModel: {} }];
  const summary = (): LoadSummary => {
    const ws: WindowSummary[] = windows.map((w) => {
      const ok = Object.values(w.byModel).reduce((a, b) => a + b, 0);
      return {
        label: w.label,
        sent: ok,
        ok,
        failed: 0,
        failures: {},
        byModel: { ...w.byModel },
        latencyMs: undefined,
      };
    });
    return {
      sent: 0,
      ok: 0,
      failed: 0,
      failures: {},
      byModel: {},
      byConnection: { keepAlive: 0, perRequest: 0 },
      windows: ws,
    };
  };
  return {
    mark: (label) => windows.push({ label, byModel: {} }) - 1,
    summary,
    stop: () => Promise.resolve(summary()),
    answer: (model, n) => {
      const w = windows.at(-1);
      if (w) w.byModel[model] = (w.byModel[model] ?? 0) + n;
    },
    labels: () => windows.map((w) => w.label),
  };
}

describe("SplitFollower", () => {
  it("judges each split after it settles, leaving out the settling requests", () => {
    let now = 0;
    const load = fakeLoad();
    const follower = new SplitFollower(load, { settleMs: 1000, now: () => now });

    follower.observe({ m1: 100 });
    load.answer("m1", 50);
    now = 1000;
    follower.observe({ m1: 100 }); // settled: a step starts
    load.answer("m1", 1200);
    now = 1500;
    follower.observe({ m1: 75, m2: 25 }); // changed: settling, the old weights may still serve
    load.answer("m1", 40);
    now = 2000;
    follower.observe({ m2: 25, m1: 75 }); // the same split in another order: still settling
    load.answer("m1", 10);
    now = 2500;
    follower.observe({ m1: 75, m2: 25 });
    load.answer("m1", 760);
    load.answer("m2", 240);

    expect(load.labels()).toEqual([
      "start",
      'settling on {"m1":100}',
      'split {"m1":100}',
      'settling on {"m1":75,"m2":25}',
      'split {"m1":75,"m2":25}',
    ]);
    const steps = follower.steps(1000);
    expect(steps).toEqual([
      { expected: { m1: 100 }, requests: 1200, observed: { m1: 100 }, deviation: 0, judged: true },
      {
        expected: { m1: 75, m2: 25 },
        requests: 1000,
        observed: { m1: 76, m2: 24 },
        deviation: 1,
        judged: true,
      },
    ]);
    expect(describeStep(steps[1]!)).toBe("m1 75 → 76, m2 25 → 24 (1,000 requests)");
  });

  it("does not judge a step with fewer answers than the minimum", () => {
    let now = 0;
    const load = fakeLoad();
    const follower = new SplitFollower(load, { settleMs: 500, now: () => now });
    follower.observe({ m1: 100, m2: 0 });
    now = 600;
    follower.observe({ m1: 100 });
    load.answer("m2", 10);
    expect(follower.steps(1000)).toEqual([
      { expected: { m1: 100 }, requests: 10, observed: { m1: 0, m2: 100 }, deviation: 100, judged: false },
    ]);
  });

  it("starts no step while the split keeps changing within the settle time", () => {
    let now = 0;
    const load = fakeLoad();
    const follower = new SplitFollower(load, { settleMs: 1000, now: () => now });
    for (const share of [100, 80, 60, 40]) {
      follower.observe({ m1: share, m2: 100 - share });
      now += 400;
    }
    follower.observe(undefined);
    expect(follower.steps(0)).toEqual([]);
    expect(load.labels().filter((l) => l.startsWith("split"))).toEqual([]);
  });

  it("cuts a settled step in two at the caller's boundary, and leaves a settling one alone", () => {
    let now = 0;
    const load = fakeLoad();
    const follower = new SplitFollower(load, { settleMs: 1000, now: () => now });
    follower.cut(); // nothing observed yet
    follower.observe({ m1: 100 });
    follower.cut(); // still settling
    now = 1000;
    follower.observe({ m1: 100 });
    load.answer("m1", 5);
    follower.cut();
    load.answer("m1", 7);
    expect(follower.steps(0).map((s) => [s.expected, s.requests])).toEqual([
      [{ m1: 100 }, 5],
      [{ m1: 100 }, 7],
    ]);
    expect(load.labels()).toHaveLength(4);
  });
});
