import { describe, expect, it } from "vitest";

import { findIntended, findRoot, findShownIntended } from "./chains.ts";
import { findIntendedModels, formatSplit, summarize } from "./summary.ts";
import type { DeployedModelState, DeployedModelStatus } from "./types.ts";

const m = (
  id: string,
  revisionNumber: number,
  state: DeployedModelState,
  over: Partial<DeployedModelStatus> = {},
): DeployedModelStatus => ({
  id,
  revisionNumber,
  state,
  replicas: 0,
  readyReplicas: 0,
  availableReplicaCount: 0,
  createTime: "2026-11-27T10:00:00Z",
  lastUpdateTime: "2026-11-27T10:00:00Z",
  message: "",
  ...over,
});

describe("the printer columns (status.revision, .state, .ready, .traffic)", () => {
  it.each([
    [
      "a completed rollout: the new revision",
      [m("m1", 1, "REPLACED"), m("m2", 2, "DEPLOYED", { previousDeployedModel: "m1", readyReplicas: 3 })],
      { m2: 100 },
      { revision: "m2@2", state: "DEPLOYED", ready: "3/0", traffic: "m2=100" },
    ],
    [
      "a rollback after the newest left spec: the REPLACED revision is intended again",
      [m("m1", 1, "BEING_DEPLOYED", { readyReplicas: 1, dedicatedResources: { minReplicaCount: 3 } })],
      { m1: 33, m2: 67 },
      { revision: "m1@1", state: "BEING_DEPLOYED", ready: "1/3", traffic: "m1=33,m2=67" },
    ],
    [
      "a revert: the failed revision is not intended",
      [
        m("m1", 1, "DEPLOYED", { readyReplicas: 2, dedicatedResources: { minReplicaCount: 2 } }),
        m("m2", 2, "FAILED", { previousDeployedModel: "m1" }),
      ],
      { m1: 100 },
      { revision: "m1@1", state: "DEPLOYED", ready: "2/2", traffic: "m1=100" },
    ],
    [
      "a failed first deployment still shows",
      [m("m1", 1, "FAILED", { dedicatedResources: { minReplicaCount: 2 } })],
      {},
      { revision: "m1@1", state: "FAILED", ready: "0/0", traffic: "none" },
    ],
    [
      "two chains, in spec order",
      [
        m("a", 1, "DEPLOYED"),
        m("x", 1, "DEPLOYED"),
        m("a2", 2, "BEING_DEPLOYED", { previousDeployedModel: "a" }),
      ],
      { a: 50, x: 50 },
      { revision: "a2@2,x@1", state: "BEING_DEPLOYED,DEPLOYED", ready: "0/0", traffic: "a=50,x=50" },
    ],
  ] as const)("%s", (_name, deployedModels, trafficSplit, expected) => {
    expect(summarize({ deployedModels, trafficSplit })).toEqual(expected);
  });

  it("picks what the engine's rule picks whenever a chain has a live member", () => {
    const states: DeployedModelState[] = ["BEING_DEPLOYED", "DEPLOYED", "FAILED", "REPLACED"];
    // Every assignment of states to a chain of three revisions.
    for (const a of states)
      for (const b of states)
        for (const c of states) {
          const chain = [
            m("m1", 1, a),
            m("m2", 2, b, { previousDeployedModel: "m1" }),
            m("m3", 3, c, { previousDeployedModel: "m2" }),
          ];
          const engine = findIntended(chain.map((x, index) => ({ ...x, index, revision: x.revisionNumber })));
          const shown = findIntendedModels({ deployedModels: chain })[0];
          if (engine !== undefined) expect(shown?.id, `${a} ${b} ${c}`).toBe(engine.id);
          else expect(shown?.id, `${a} ${b} ${c}`).toBe("m3");
        }
  });
});

describe("read-out helpers", () => {
  it("findRoot follows links to the end, and stops on a cycle", () => {
    expect(
      findRoot(
        "m3",
        new Map([
          ["m3", "m2"],
          ["m2", "m1"],
        ]),
      ),
    ).toBe("m1");
    expect(findRoot("m3", new Map([["m3", "gone"]]))).toBe("gone");
    expect(["a", "b"]).toContain(
      findRoot(
        "a",
        new Map([
          ["a", "b"],
          ["b", "a"],
        ]),
      ),
    );
  });

  it("findShownIntended counts a model not yet in status as revision 0", () => {
    expect(
      findShownIntended([
        { id: "m1", revision: 1, state: "DEPLOYED" },
        { id: "m2", revision: undefined, state: "PENDING" },
      ])?.id,
    ).toBe("m1");
  });

  it("formatSplit leaves out shares of 0 and says none without traffic", () => {
    expect(formatSplit({ m2: 60, m1: 40, m3: 0 })).toBe("m1=40,m2=60");
    expect(formatSplit({})).toBe("none");
  });
});
