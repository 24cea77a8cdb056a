import { describe, expect, it } from "vitest";
import {
  findChains,
  findHead,
  findIntended,
  orderForRetirement,
  resolveInheritance,
  resolveRevisions,
} from "./chains.ts";
import type { Candidate, Link } from "./chains.ts";
import type { DeployedModelSpec } from "./types.ts";

const links = (pairs: readonly (readonly [string, string | undefined])[]): Link[] =>
  pairs.map(([id, previousId], index) => ({ id, index, previousId }));

describe("findChains (R3)", () => {
  it.each([
    ["one root", [["m1", undefined]], [["m1"]]],
    [
      "a root and everything rolling onto it, transitively; another root apart",
      [
        ["m1", undefined],
        ["x1", undefined],
        ["m2", "m1"],
        ["m3", "m2"],
      ],
      [["m1", "m2", "m3"], ["x1"]],
    ],
    [
      "the root left spec: the survivors still form one chain",
      [
        ["m2", "m1"],
        ["m3", "m2"],
      ],
      [["m2", "m3"]],
    ],
    [
      "an entry whose previous model is unknown is a chain of its own",
      [
        ["m1", undefined],
        ["z", "gone"],
      ],
      [["m1"], ["z"]],
    ],
    [
      "two entries onto the same previous (admission forbids it) stay in its chain",
      [
        ["m1", undefined],
        ["a", "m1"],
        ["b", "m1"],
      ],
      [["m1", "a", "b"]],
    ],
  ] as const)("%s", (_name, pairs, expected) => {
    expect(findChains(links(pairs))).toEqual(expected);
  });

  it("finds the head: the root, the oldest survivor, or for a hand-made cycle the first entry", () => {
    expect(
      findHead(
        links([
          ["m1", undefined],
          ["m2", "m1"],
        ]),
      )?.id,
    ).toBe("m1");
    expect(
      findHead(
        links([
          ["m3", "m2"],
          ["m2", "m1"],
        ]),
      )?.id,
    ).toBe("m2");
    expect(
      findHead(
        links([
          ["a", "b"],
          ["b", "a"],
        ]),
      )?.id,
    ).toBe("a");
  });
});

describe("resolveRevisions (R1)", () => {
  it.each([
    [
      "root 1, rolling previous + 1, a rollback + 1 again",
      [
        ["m1", undefined],
        ["m2", "m1"],
        ["m3", "m2"],
      ],
      {},
      { m1: 1, m2: 2, m3: 3 },
    ],
    [
      "a recorded number is kept forever",
      [
        ["m1", undefined],
        ["m2", "m1"],
      ],
      { m2: 7 },
      { m1: 1, m2: 7 },
    ],
    [
      "numbers follow a recorded previous",
      [
        ["m2", "m1"],
        ["m3", "m2"],
      ],
      { m2: 4 },
      { m2: 4, m3: 5 },
    ],
    ["a previous left spec but still known (status or label)", [["m3", "m2"]], { m2: 2 }, { m3: 3 }],
    ["an unknown previous gives 1", [["z", "gone"]], {}, { z: 1 }],
    [
      "a cycle does not loop",
      [
        ["a", "b"],
        ["b", "a"],
      ],
      {},
      { a: 3, b: 2 },
    ],
  ] as const)("%s", (_name, pairs, known, expected) => {
    const result = resolveRevisions(links(pairs), (id) => (known as Record<string, number | undefined>)[id]);
    expect(Object.fromEntries(result)).toEqual(expected);
  });

  it.each([
    [
      "a retry after a removed FAILED revision does not take its number",
      [
        ["m1", undefined],
        ["m3", "m1"],
      ],
      { m1: 1 },
      2,
      { m1: 1, m3: 3 },
    ],
    [
      "two chains: a rolling deployment's number is above every number the endpoint gave",
      [
        ["m1", undefined],
        ["m2", "m1"],
        ["x1", undefined],
        ["x2", "x1"],
      ],
      { m1: 1, m2: 2, x1: 1 },
      0,
      { m1: 1, m2: 2, x1: 1, x2: 3 },
    ],
    [
      "new entries in one pass get distinct numbers, previous first",
      [
        ["m1", undefined],
        ["x1", undefined],
        ["x2", "x1"],
        ["m2", "m1"],
      ],
      {},
      0,
      { m1: 1, x1: 1, x2: 2, m2: 3 },
    ],
    ["roots stay 1 (R1)", [["m1", undefined]], {}, 5, { m1: 1 }],
  ] as const)("%s", (_name, pairs, known, latest, expected) => {
    const result = resolveRevisions(
      links(pairs),
      (id) => (known as Record<string, number | undefined>)[id],
      latest,
    );
    expect(Object.fromEntries(result)).toEqual(expected);
  });
});

describe("resolveInheritance (R2)", () => {
  const entry = (id: string, over: Partial<DeployedModelSpec> = {}): DeployedModelSpec => ({
    id,
    model: id,
    containerSpec: {},
    ...over,
  });
  const n5 = { machineSpec: { machineType: "n1-standard-2" }, minReplicaCount: 5, maxReplicaCount: 5 };

  it("inherits dedicatedResources always and the rest unless set", () => {
    const entries = [
      entry("m1", { dedicatedResources: n5, serviceAccount: "sa1", enableAccessLogging: true }),
      entry("m2", {
        serviceAccount: "sa2",
        dedicatedResources: { minReplicaCount: 99 },
        rolloutOptions: { previousDeployedModel: "m1" },
      }),
      entry("m3", { disableContainerLogging: true, rolloutOptions: { previousDeployedModel: "m2" } }),
    ];
    const previous = new Map([
      ["m2", "m1"],
      ["m3", "m2"],
    ]);
    const result = resolveInheritance(
      entries,
      (id) => previous.get(id),
      () => undefined,
    );
    expect(result.get("m1")).toEqual({
      dedicatedResources: n5,
      serviceAccount: "sa1",
      disableContainerLogging: false,
      enableAccessLogging: true,
    });
    expect(result.get("m2")).toEqual({
      dedicatedResources: n5,
      serviceAccount: "sa2",
      disableContainerLogging: false,
      enableAccessLogging: true,
    });
    expect(result.get("m3")).toEqual({
      dedicatedResources: n5,
      serviceAccount: "sa2",
      disableContainerLogging: true,
      enableAccessLogging: true,
    });
  });

  it("once the previous model left spec, remembered values stand in for it", () => {
    const entries = [entry("m3", { rolloutOptions: { previousDeployedModel: "m2" } })];
    const result = resolveInheritance(
      entries,
      () => "m2",
      () => ({ dedicatedResources: n5, serviceAccount: "sa1" }),
    );
    expect(result.get("m3")).toEqual({
      dedicatedResources: n5,
      serviceAccount: "sa1",
      disableContainerLogging: false,
      enableAccessLogging: false,
    });
  });
});

describe("resolveInheritance of placement (like serviceAccount)", () => {
  const entry = (id: string, over: Partial<DeployedModelSpec> = {}): DeployedModelSpec => ({
    id,
    model: id,
    containerSpec: {},
    ...over,
  });
  const l4 = { nodeSelector: { pool: "l4" } };
  const h100 = { nodeSelector: { pool: "h100" }, tolerations: [{ key: "h100", operator: "Exists" }] };

  it("m1 {l4}; m2 -> m1 {}; m3 -> m2 {h100}; m4 -> m3 {}: l4, l4, h100, h100", () => {
    const entries = [
      entry("m1", { placement: l4 }),
      entry("m2", { rolloutOptions: { previousDeployedModel: "m1" } }),
      entry("m3", { placement: h100, rolloutOptions: { previousDeployedModel: "m2" } }),
      entry("m4", { rolloutOptions: { previousDeployedModel: "m3" } }),
    ];
    const previous = new Map([
      ["m2", "m1"],
      ["m3", "m2"],
      ["m4", "m3"],
    ]);
    const result = resolveInheritance(
      entries,
      (id) => previous.get(id),
      () => undefined,
    );
    expect(["m1", "m2", "m3", "m4"].map((id) => result.get(id)?.placement)).toEqual([l4, l4, h100, h100]);
  });

  it("a chain without any placement has none", () => {
    const entries = [entry("m1"), entry("m2", { rolloutOptions: { previousDeployedModel: "m1" } })];
    const result = resolveInheritance(
      entries,
      (id) => (id === "m2" ? "m1" : undefined),
      () => undefined,
    );
    expect(result.get("m2")).not.toHaveProperty("placement");
  });

  it("once the previous model left spec, the remembered placement stands in for it", () => {
    const entries = [entry("m3", { rolloutOptions: { previousDeployedModel: "m2" } })];
    const result = resolveInheritance(
      entries,
      () => "m2",
      () => ({ placement: l4 }),
    );
    expect(result.get("m3")?.placement).toEqual(l4);
  });
});

describe("findIntended (R3) and orderForRetirement", () => {
  const c = (id: string, revision: number, state: Candidate["state"], index = revision): Candidate => ({
    id,
    index,
    revision,
    state,
  });

  it.each([
    ["the highest revision", [c("m1", 1, "DEPLOYED"), c("m2", 2, "BEING_DEPLOYED")], "m2"],
    ["not a FAILED one: the revert target (R8)", [c("m1", 1, "DEPLOYED"), c("m2", 2, "FAILED")], "m1"],
    [
      "a rollback onto an in-progress rollout (R9)",
      [c("m1", 1, "DEPLOYED"), c("m2", 2, "BEING_DEPLOYED"), c("m3", 3, "BEING_DEPLOYED")],
      "m3",
    ],
    [
      "the rollback failed: back to the in-progress one",
      [c("m1", 1, "DEPLOYED"), c("m2", 2, "BEING_DEPLOYED"), c("m3", 3, "FAILED")],
      "m2",
    ],
    [
      "a REPLACED member comes back when nothing live is above it (R3)",
      [c("m1", 1, "REPLACED"), c("m2", 2, "FAILED")],
      "m1",
    ],
    [
      "a member whose entry left spec is never intended (a git revert)",
      [c("m1", 1, "REPLACED"), { ...c("m2", 2, "DEPLOYED"), removed: true }],
      "m1",
    ],
    ["nothing live", [c("m1", 1, "FAILED")], undefined],
    ["a tie goes to the later entry", [c("a", 2, "BEING_DEPLOYED", 0), c("b", 2, "BEING_DEPLOYED", 1)], "b"],
  ] as const)("%s", (_name, members, expected) => {
    expect(findIntended(members)?.id).toBe(expected);
  });

  it("retires FAILED members first, then the newest", () => {
    const order = orderForRetirement([
      c("m1", 1, "DEPLOYED"),
      c("m2", 2, "BEING_DEPLOYED"),
      c("m4", 4, "FAILED"),
      c("m3", 3, "REPLACED"),
    ]);
    expect(order.map((m) => m.id)).toEqual(["m4", "m3", "m2", "m1"]);
  });

  it("retires members whose entry left spec after FAILED ones and before the others", () => {
    const order = orderForRetirement([
      { ...c("m1", 1, "BEING_DEPLOYED"), removed: true },
      c("m2", 2, "BEING_DEPLOYED"),
      c("m3", 3, "FAILED"),
    ]);
    expect(order.map((m) => m.id)).toEqual(["m3", "m1", "m2"]);
  });
});
