import { describe, expectTypeOf, it } from "vitest";
import type { Budgets } from "./budgets.ts";
import { plan } from "./index.ts";
import type {
  Action,
  ActionError,
  ConditionReason,
  DeployedModelSpec,
  DeployedModelState,
  DeployedModelStatus,
  EndpointStatus,
  EventReason,
  FailureReason,
  Instant,
  Plan,
  PlanEvent,
  RecordedDeployedModelStatus,
  Snapshot,
} from "./index.ts";

/**
 * Type-level checks (run by `tsc` over the tests; at run time they are no-ops): the shapes the
 * controller is written against.
 */

/** Every action kind handled: adding a kind to the union breaks this function's `never`. */
function describeAction(action: Action): string {
  switch (action.kind) {
    case "createReplicaSet":
      return `create ${action.deployedModelId} ${action.replicas}`;
    case "scaleReplicaSet":
      return `scale ${action.replicaSetName} ${action.from} -> ${action.to}`;
    case "deleteReplicaSet":
      return `delete ${action.replicaSetName}`;
    case "setPodServing":
      return `label ${action.podName} ${action.serving}`;
    default: {
      const unreachable: never = action;
      return unreachable;
    }
  }
}

describe("rollout engine types", () => {
  it("plan takes a snapshot and an instant and returns a plan", () => {
    expectTypeOf(plan).parameters.toEqualTypeOf<[Snapshot, Instant]>();
    expectTypeOf(plan).returns.toEqualTypeOf<Plan>();
    expectTypeOf<Instant>().toEqualTypeOf<Date | number>();
  });

  it("actions are a closed, discriminated union", () => {
    expectTypeOf<Action["kind"]>().toEqualTypeOf<
      "createReplicaSet" | "scaleReplicaSet" | "deleteReplicaSet" | "setPodServing"
    >();
    expectTypeOf(describeAction).returns.toBeString();
    expectTypeOf<Extract<Action, { kind: "scaleReplicaSet" }>>().toHaveProperty("from").toBeNumber();
    expectTypeOf<ActionError["action"]>().toEqualTypeOf<Action["kind"]>();
  });

  it("states and reasons are string unions, not strings", () => {
    expectTypeOf<DeployedModelState>().toEqualTypeOf<"BEING_DEPLOYED" | "DEPLOYED" | "FAILED" | "REPLACED">();
    expectTypeOf<DeployedModelStatus["reason"]>().toEqualTypeOf<FailureReason | undefined>();
    expectTypeOf<FailureReason>().toExtend<ConditionReason>();
    expectTypeOf<PlanEvent["reason"]>().toEqualTypeOf<EventReason>();
    expectTypeOf<PlanEvent["type"]>().toEqualTypeOf<"Normal" | "Warning">();
  });

  it("inputs accept explicit undefined (zod output), outputs never carry it", () => {
    const parsed: {
      id: string;
      model: string;
      containerSpec: { predictRoute?: string | undefined };
      serviceAccount?: string | undefined;
    } = {
      id: "m1",
      model: "m",
      containerSpec: {},
      serviceAccount: undefined,
    };
    expectTypeOf(parsed).toExtend<DeployedModelSpec>();
    expectTypeOf<{ id: string; state?: string | undefined }>().toExtend<RecordedDeployedModelStatus>();
    expectTypeOf<{ serviceAccount: undefined }>().not.toExtend<Partial<DeployedModelStatus>>();
  });

  it("status is what the API schema mirrors", () => {
    expectTypeOf<EndpointStatus["trafficSplit"]>().toEqualTypeOf<Readonly<Record<string, number>>>();
    expectTypeOf<EndpointStatus["conditions"][number]["type"]>().toEqualTypeOf<
      "Ready" | "Progressing" | "Degraded" | "Stalled"
    >();
    expectTypeOf<Plan["requeueAfterMs"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Budgets>().toEqualTypeOf<{ readonly maxSurge: number; readonly maxUnavailable: number }>();
  });
});
