/**
 * The chaos run's quiet check (scripts/chaos/quiet.ts): how reconciles are counted once nothing
 * changes, and how the operators' debug logs name the keys that kept coming back.
 */
import { describe, expect, it } from "vitest";

import {
  countPasses,
  countQuietReconciles,
  describePasses,
  type KeyPasses,
} from "../../scripts/chaos/quiet.ts";

/** What a replica's log showed for one key: `passes`, of which `active` wrote or came back. */
function logged(identity: string, passes: number, active: number): KeyPasses {
  return {
    identity,
    key: "chaos/ep-1",
    passes,
    active,
    why: new Map(),
    enqueued: new Map(),
    shortestRequeueMs: Infinity,
  };
}

describe("the quiet count", () => {
  it("does not take a /metrics read that got no answer for 0", () => {
    // A standby that reconciled 284 times over the run, not once in the quiet seconds: with its
    // first read unanswered, counting it as 0 gave "284 reconciles in 15 quiet seconds".
    const quiet = countQuietReconciles(
      [
        { identity: "operator-a", before: 61, after: 61 },
        { identity: "operator-b", before: undefined, after: 284 },
      ],
      [],
    );
    expect(quiet.total).toBe(0);
    expect(quiet.hot).toBe(0);
    expect(quiet.notes).toEqual([
      "operator-b: /metrics did not answer before the quiet seconds; counted from its log: 0 passes",
    ]);
  });

  it("counts the metric's increase, and the log for a replica whose counter went back", () => {
    const quiet = countQuietReconciles(
      [
        { identity: "operator-a", before: 100, after: 103 },
        { identity: "operator-b", before: 50, after: 2 },
        { identity: "operator-c", before: undefined, after: undefined },
      ],
      [
        logged("operator-a", 3, 1),
        logged("operator-b", 2, 2),
        logged("operator-c", 4, 0),
        logged("operator-c", 3, 0),
      ],
    );
    expect(quiet.total).toBe(12);
    expect(quiet.hot).toBe(3);
    expect(quiet.notes).toEqual([
      "operator-b: its count went back from 50 to 2; counted from its log: 2 passes",
      "operator-c: /metrics did not answer before and after the quiet seconds; counted from its log: 7 passes",
    ]);
  });
});

describe("what counts towards a hot loop", () => {
  it("is the passes that wrote or came back, not those that answered someone else's change", () => {
    // The flake this replaced: 10 passes, each answering a PodDisruptionBudget status update or a
    // Service delete delivered late, none writing or requeueing, counted as a hot loop.
    const quiet = countQuietReconciles(
      [
        { identity: "operator-a", before: 200, after: 206 },
        { identity: "operator-b", before: 90, after: 94 },
      ],
      [logged("operator-a", 6, 0), logged("operator-b", 4, 1)],
    );
    expect(quiet).toEqual({ total: 10, hot: 1, notes: [] });
  });

  it("counts the passes the metric saw and the log did not as hot", () => {
    const quiet = countQuietReconciles(
      [{ identity: "operator-a", before: 10, after: 40 }],
      [logged("operator-a", 2, 0)],
    );
    expect(quiet.hot).toBe(28);
    expect(quiet.notes).toEqual([
      "operator-a: its metric counted 30 passes, its log 2; the 28 not logged count as hot",
    ]);
  });
});

describe("the passes of the quiet seconds, from the logs", () => {
  const line = (fields: Record<string, unknown>): string =>
    JSON.stringify({ level: 20, component: "model-endpoint-operator", ...fields });
  const a = [
    line({ time: 999, key: "chaos/ep-1", result: "success", writes: 0, msg: "reconciled" }),
    ...Array.from({ length: 3 }, (_, i) =>
      line({
        time: 1000 + i,
        key: "chaos/ep-1",
        result: "success",
        leader: true,
        requeueAfterMs: 0,
        why: "plan",
        writes: 0,
        msg: "reconciled",
      }),
    ),
    line({ time: 1003, key: "chaos/ep-2", informer: "pods", event: "update", msg: "enqueued" }),
    line({ time: 1004, key: "chaos/ep-2", result: "success", leader: true, writes: 0, msg: "reconciled" }),
    line({ time: 1005, key: "chaos/ep-2", result: "error", leader: true, writes: 1, msg: "reconciled" }),
    line({ time: 1006, key: "chaos/ep-3", result: "success", leader: true, writes: 0, msg: "reconciled" }),
    line({ time: 1006, key: "chaos/ep-3", result: "success", leader: true, writes: 1, msg: "reconciled" }),
    '{"level":20,"time":1006,"key":"chaos/ep-2","msg":"reconci', // cut short by a kill
    // The work queue's line for the same pass is not a pass of its own.
    line({
      time: 1004,
      queue: "modelendpoints",
      key: "chaos/ep-2",
      outcome: "success",
      ms: 3,
      msg: "processed",
    }),
    // A line that does not say how many writes the pass made counts as one that wrote.
    line({ time: 1006, key: "chaos/ep-4", result: "success", leader: true, msg: "reconciled" }),
    line({ time: 1007, informer: "pods", msg: "watch silent too long; restarting it" }),
    line({ time: 2001, key: "chaos/ep-2", result: "success", msg: "reconciled" }),
  ];
  const b = [
    line({ time: 1500, key: "chaos/ep-1", result: "success", leader: false, writes: 0, msg: "reconciled" }),
  ];

  it("counts each replica's passes per key inside the window, with their reasons", () => {
    const passes = countPasses(
      [
        { identity: "operator-a", lines: a },
        { identity: "operator-b", lines: b },
      ],
      1000,
      2000,
    );
    expect(passes.map((p) => [p.identity, p.key, p.passes, p.active])).toEqual([
      ["operator-a", "chaos/ep-1", 3, 3],
      ["operator-a", "chaos/ep-2", 2, 1],
      ["operator-a", "chaos/ep-3", 2, 1],
      ["operator-a", "chaos/ep-4", 1, 1],
      ["operator-b", "chaos/ep-1", 1, 0],
    ]);
    expect(describePasses(passes)).toBe(
      [
        "operator-a chaos/ep-1: 3 passes, 3 wrote or came back (requeue plan 3; shortest requeue 0 ms)",
        "operator-a chaos/ep-2: 2 passes, 1 wrote or came back (requeue none 1, error 1; enqueued by pods update 1)",
        "operator-a chaos/ep-3: 2 passes, 1 wrote or came back (requeue none 2)",
        "operator-a chaos/ep-4: 1 pass, 1 wrote or came back (requeue none 1)",
        "operator-b chaos/ep-1: 1 pass, 0 wrote or came back (requeue none 1)",
      ].join("\n  "),
    );
  });

  it("says so when nothing was logged", () => {
    expect(describePasses(countPasses([{ identity: "operator-a", lines: a }], 5000, 6000))).toBe(
      "no pass logged",
    );
  });
});
