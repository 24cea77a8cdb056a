import { describe, expect, it } from "vitest";

import type { Action } from "../rollout/types.ts";
import { batchLabels, cannotBeUndone } from "./actions.ts";

const label = (podName: string, serving: boolean): Action => ({
  kind: "setPodServing",
  podName,
  deployedModelId: "m1",
  serving,
});
const scale = (from: number, to: number): Action => ({
  kind: "scaleReplicaSet",
  deployedModelId: "m1",
  replicaSetName: "ep-m1",
  from,
  to,
});

describe("applying a plan's actions", () => {
  it("groups runs of pod labels that go the same way; everything else stays in order, alone", () => {
    const actions = [
      scale(1, 2),
      label("a", true),
      label("b", true),
      label("c", false),
      label("d", false),
      scale(3, 2),
    ];
    expect(
      batchLabels(actions).map((g) => g.map((a) => (a.kind === "setPodServing" ? a.podName : a.kind))),
    ).toEqual([["scaleReplicaSet"], ["a", "b"], ["c", "d"], ["scaleReplicaSet"]]);
  });

  it("creating, deleting and scaling to zero cannot be undone; other scales and labels can", () => {
    expect(cannotBeUndone(scale(2, 0))).toBe(true);
    expect(cannotBeUndone(scale(2, 1))).toBe(false);
    expect(cannotBeUndone(label("a", false))).toBe(false);
    expect(cannotBeUndone({ kind: "deleteReplicaSet", deployedModelId: "m2", replicaSetName: "ep-m2" })).toBe(
      true,
    );
  });
});
