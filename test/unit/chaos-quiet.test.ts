/**
 * The chaos run's quiet check (scripts/chaos/quiet.ts): how reconciles are counted once nothing
 * changes, and how the operators' debug logs name the keys that kept coming back.
 */
import { describe, expect, it } from "vitest";

import { countPasses, countQuietReconciles, describePasses } from "../../scripts/chaos/quiet.ts";

describe("the quiet count", () => {
  it("does not take a /metrics read that got no answer for 0", () => {
    // A standby that reconciled 284 times over the run, not once in the quiet seconds: with its
    // first read unanswered, counting it as 0 gave "284 reconciles in 15 quiet seconds".
    const quiet = countQuietReconciles([
      { identity: "operator-a", before: 61, after: 61, logged: 0 },
      { identity: "operator-b", before: undefined, after: 284, logged: 0 },
    ]);
    expect(quiet.total).toBe(0);
    expect(quiet.notes).toEqual([
      "operator-b: /metrics did not answer before the quiet seconds; counted from its log: 0 passes",
    ]);
  });

  it("counts the metric's increase, and the log for a replica whose counter went back", () => {
    const quiet = countQuietReconciles([
      { identity: "operator-a", before: 100, after: 103, logged: 3 },
      { identity: "operator-b", before: 50, after: 2, logged: 2 },
      { identity: "operator-c", before: undefined, after: undefined, logged: 7 },
    ]);
    expect(quiet.total).toBe(12);
    expect(quiet.notes).toEqual([
      "operator-b: its count went back from 50 to 2; counted from its log: 2 passes",
      "operator-c: /metrics did not answer before and after the quiet seconds; counted from its log: 7 passes",
    ]);
  });
});

describe("the passes of the quiet seconds, from the logs", () => {
  const line = (fields: Record<string, unknown>): string =>
    JSON.stringify({ level: 20, component: "model-endpoint-operator", ...fields });
  const a = [
    line({ time: 999, key: "chaos/ep-1", result: "success", msg: "reconciled" }),
    ...Array.from({ length: 3 }, (_, i) =>
      line({
        time: 1000 + i,
        key: "chaos/ep-1",
        result: "success",
        leader: true,
        requeueAfterMs: 0,
        why: "plan",
        msg: "reconciled",
      }),
    ),
    line({ time: 1003, key: "chaos/ep-2", informer: "pods", event: "update", msg: "enqueued" }),
    line({ time: 1004, key: "chaos/ep-2", result: "success", leader: true, msg: "reconciled" }),
    line({ time: 1005, key: "chaos/ep-2", result: "error", leader: true, msg: "reconciled" }),
    '{"level":20,"time":1006,"key":"chaos/ep-2","msg":"reconci', // cut short by a kill
    line({ time: 1007, informer: "pods", msg: "watch silent too long; restarting it" }),
    line({ time: 2001, key: "chaos/ep-2", result: "success", msg: "reconciled" }),
  ];
  const b = [line({ time: 1500, key: "chaos/ep-1", result: "success", leader: false, msg: "reconciled" })];

  it("counts each replica's passes per key inside the window, with their reasons", () => {
    const passes = countPasses(
      [
        { identity: "operator-a", lines: a },
        { identity: "operator-b", lines: b },
      ],
      1000,
      2000,
    );
    expect(passes.map((p) => [p.identity, p.key, p.passes])).toEqual([
      ["operator-a", "chaos/ep-1", 3],
      ["operator-a", "chaos/ep-2", 2],
      ["operator-b", "chaos/ep-1", 1],
    ]);
    expect(describePasses(passes)).toBe(
      [
        "operator-a chaos/ep-1: 3 passes (requeue plan 3; shortest requeue 0 ms)",
        "operator-a chaos/ep-2: 2 passes (requeue none 1, error 1; enqueued by pods update 1)",
        "operator-b chaos/ep-1: 1 pass (requeue none 1)",
      ].join("\n  "),
    );
  });

  it("says so when nothing was logged", () => {
    expect(describePasses(countPasses([{ identity: "operator-a", lines: a }], 5000, 6000))).toBe(
      "no pass logged",
    );
  });
});
