import { describe, expect, it } from "vitest";

import { ConditionReason } from "../rollout/types.ts";
import {
  describeInvalid,
  INVALID_SPEC,
  PERMISSION_DENIED,
  SERVICE_CONFLICT,
  invalidSpecStatus,
  transitionTime,
  withPermissionDenied,
  withUnmadeObjects,
  type WrittenStatus,
} from "./conditions.ts";

const T0 = Date.parse("2026-11-27T10:00:00Z");
const T1 = T0 + 90_000;
const at = (ms: number): string => new Date(ms).toISOString().replace(".000Z", "Z");

const engine: WrittenStatus = {
  observedGeneration: 2,
  trafficSplit: { m1: 100 },
  deployedModels: [],
  latestRevisionNumber: 1,
  conditions: [
    {
      type: "Ready",
      status: "True",
      reason: "AllReplicasAvailable",
      message: "m1: 2/2",
      lastTransitionTime: at(T0),
      observedGeneration: 2,
    },
    {
      type: "Progressing",
      status: "False",
      reason: "RolloutComplete",
      message: "",
      lastTransitionTime: at(T0),
      observedGeneration: 2,
    },
    {
      type: "Degraded",
      status: "False",
      reason: "AsExpected",
      message: "",
      lastTransitionTime: at(T0),
      observedGeneration: 2,
    },
    {
      type: "Stalled",
      status: "False",
      reason: "AsExpected",
      message: "",
      lastTransitionTime: at(T0),
      observedGeneration: 2,
    },
  ],
};
const recorded = engine.conditions;
const summary = (s: WrittenStatus) =>
  s.conditions.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime]);

describe("the conditions only the controller knows", () => {
  it("every condition reason written matches metav1.Condition's reason format", () => {
    // k8s.io/apimachinery: reason is CamelCase, "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", <= 1024.
    const format = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
    for (const reason of [
      ...Object.values(ConditionReason),
      INVALID_SPEC,
      SERVICE_CONFLICT,
      PERMISSION_DENIED,
    ]) {
      expect(reason, reason).toMatch(format);
      expect(reason.length).toBeLessThanOrEqual(1024);
    }
  });

  it("transitionTime keeps the recorded time unless the status flips", () => {
    expect(transitionTime(recorded, "Ready", "True", T1)).toBe(at(T0));
    expect(transitionTime(recorded, "Ready", "False", T1)).toBe(at(T1));
    expect(transitionTime([], "Ready", "True", T1)).toBe(at(T1));
  });

  it("a model's Service held by someone else: Degraded and Stalled, Ready untouched", () => {
    const status = withUnmadeObjects(
      engine,
      [{ message: "Service ml/ep-m1 is not ours" }],
      false,
      recorded,
      T1,
      SERVICE_CONFLICT,
    );
    expect(summary(status)).toEqual([
      ["Ready", "True", "AllReplicasAvailable", at(T0)],
      ["Progressing", "False", "RolloutComplete", at(T0)],
      ["Degraded", "True", "ServiceConflict", at(T1)],
      ["Stalled", "True", "ServiceConflict", at(T1)],
    ]);
  });

  it("the endpoint's own Service held by someone else: nothing is served, Ready=False too", () => {
    const status = withUnmadeObjects(engine, [{ message: "taken" }], true, recorded, T1, SERVICE_CONFLICT);
    expect(status.conditions.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "ServiceConflict",
      message: "taken",
    });
  });

  it("no conflict leaves the status as the engine made it", () => {
    expect(withUnmadeObjects(engine, [], true, recorded, T1, SERVICE_CONFLICT)).toBe(engine);
  });

  it("a forbidden write: Ready=False PermissionDenied with the message", () => {
    const status = withPermissionDenied(engine, "the operator may not do this", recorded, T1);
    expect(status.conditions[0]).toMatchObject({
      status: "False",
      reason: "PermissionDenied",
      message: "the operator may not do this",
      lastTransitionTime: at(T1),
    });
    expect(status.conditions.slice(1)).toEqual(engine.conditions.slice(1));
  });

  it("an invalid spec: four conditions with the issues, the rest of the status kept", () => {
    const message = describeInvalid([{ path: "spec.trafficSplit", message: "must sum to 100" }]);
    expect(message).toBe("spec is invalid: spec.trafficSplit: must sum to 100");
    const status = invalidSpecStatus({ trafficSplit: { m1: 100 } }, message, 3, T1);
    expect(status).toMatchObject({ trafficSplit: { m1: 100 }, observedGeneration: 3 });
    expect(
      (status["conditions"] as { type: string; status: string; reason: string }[]).map((c) => [
        c.type,
        c.status,
        c.reason,
      ]),
    ).toEqual([
      ["Ready", "False", "InvalidSpec"],
      ["Progressing", "False", "InvalidSpec"],
      ["Degraded", "True", "InvalidSpec"],
      ["Stalled", "True", "InvalidSpec"],
    ]);
  });

  it("describeInvalid lists ten issues and counts the rest", () => {
    const issues = Array.from({ length: 12 }, (_, i) => ({ path: `p${i}`, message: "bad" }));
    expect(describeInvalid(issues)).toMatch(/p9: bad; and 2 more$/);
  });
});
