/**
 * The conditions the controller adds to the engine's: what only the controller can know (an
 * endpoint that does not validate, a Service name someone else holds, a write the API server
 * forbids). Pure functions of the engine's status, what is recorded and `now`, next to the engine's
 * own condition logic (rollout/status.ts) in spirit: a condition's lastTransitionTime moves only
 * when its status flips.
 */
import type { ValidationIssue } from "../api/parse.ts";
import type { ForbiddenError } from "../kube/errors.ts";
import type { EndpointStatus } from "../rollout/types.ts";

/** Ready/Progressing False, Degraded/Stalled True: the endpoint does not validate. */
export const INVALID_SPEC = "InvalidSpec";

/**
 * Degraded (and, for the endpoint's own Service, Ready=False) while a Service the endpoint needs
 * exists under its name and belongs to someone else.
 */
export const SERVICE_CONFLICT = "ServiceConflict";

/**
 * Degraded while the endpoint's HTTPRoute or a PodDisruptionBudget cannot be made: the cluster
 * does not serve the Gateway API, or someone else's object holds the name. Replicas and the status
 * go on; only what the object adds (routing through the gateway, drain protection) is missing.
 */
export const DATA_PLANE_UNAVAILABLE = "DataPlaneUnavailable";

/**
 * Ready=False while the API server forbids a write the endpoint needs (RBAC): the operator's
 * identity lacks a permission of docs/operator.md "Permissions".
 */
export const PERMISSION_DENIED = "PermissionDenied";

/** A condition as written: the engine's, or one with a reason of the controller's own. */
export type WrittenCondition = Omit<EndpointStatus["conditions"][number], "reason"> & {
  readonly reason: string;
};

/** The status as written: the engine's, with conditions the controller may have overridden. */
export type WrittenStatus = Omit<EndpointStatus, "conditions"> & {
  readonly conditions: readonly WrittenCondition[];
};

/** A condition as read back from the object. */
export interface RecordedCondition {
  readonly type?: string;
  readonly status?: string;
  readonly lastTransitionTime?: string;
}

/**
 * A condition's lastTransitionTime: kept from the recorded condition of that type when its status
 * does not flip, else now (RFC 3339 in whole seconds, as the engine writes it).
 */
export function transitionTime(
  recorded: readonly RecordedCondition[],
  type: string,
  status: string,
  nowMs: number,
): string {
  const old = recorded.find((c) => c.type === type);
  if (old?.status === status && old.lastTransitionTime) return old.lastTransitionTime;
  return new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The status with objects the endpoint needs and cannot have reported: Degraded=True and
 * Stalled=True (`reason`: ServiceConflict for Services someone else holds, DataPlaneUnavailable for
 * the route and disruption budgets; the problems first, then what Degraded already said), and
 * Ready=False when nothing is served because of it (`servesNothing`: the endpoint's own Service).
 */
export function withUnmadeObjects(
  status: WrittenStatus,
  conflicts: readonly { readonly message: string }[],
  servesNothing: boolean,
  recorded: readonly RecordedCondition[],
  nowMs: number,
  reason: string,
): WrittenStatus {
  if (conflicts.length === 0) return status;
  const message = conflicts.map((c) => c.message).join("; ");
  const override = (c: WrittenCondition, value: "True" | "False", text: string): WrittenCondition => ({
    ...c,
    status: value,
    reason,
    message: text,
    lastTransitionTime: transitionTime(recorded, c.type, value, nowMs),
  });
  return {
    ...status,
    conditions: status.conditions.map((c): WrittenCondition => {
      if (c.type === "Degraded" || c.type === "Stalled")
        return override(c, "True", c.status === "True" ? `${message}; ${c.message}` : message);
      if (c.type === "Ready" && servesNothing) return override(c, "False", message);
      return c;
    }),
  };
}

/** The status with Ready=False (reason PermissionDenied, `message`) while a write is forbidden. */
export function withPermissionDenied(
  status: WrittenStatus,
  message: string,
  recorded: readonly RecordedCondition[],
  nowMs: number,
): WrittenStatus {
  return {
    ...status,
    conditions: status.conditions.map((c): WrittenCondition =>
      c.type === "Ready"
        ? {
            ...c,
            status: "False",
            reason: PERMISSION_DENIED,
            message,
            lastTransitionTime: transitionTime(recorded, c.type, "False", nowMs),
          }
        : c,
    ),
  };
}

/**
 * What a 403 means for the user, with the API server's own words, e.g. 'the operator may not do
 * this: pods "fraud-m1-x7k2p" is forbidden: User "system:serviceaccount:ops:meo" cannot patch
 * resource "pods" in API group "" in the namespace "ml"; grant what docs/operator.md
 * "Permissions" lists'.
 */
export function describeForbidden(err: ForbiddenError): string {
  return `the operator may not do this: ${err.status?.message ?? err.message}; grant what docs/operator.md "Permissions" lists`;
}

/** "spec is invalid: <path>: <message>; ..." (the first ten issues). */
export function describeInvalid(issues: readonly ValidationIssue[]): string {
  return `spec is invalid: ${issues
    .slice(0, 10)
    .map((i) => `${i.path}: ${i.message}`)
    .join("; ")}${issues.length > 10 ? `; and ${issues.length - 10} more` : ""}`;
}

/**
 * The status of an endpoint that does not validate: what was recorded, with observedGeneration and
 * the four conditions saying exactly what is wrong (Ready and Progressing False, Degraded and
 * Stalled True, reason InvalidSpec). Everything else the status held is kept.
 */
export function invalidSpecStatus(
  current: Readonly<Record<string, unknown>>,
  message: string,
  generation: number,
  nowMs: number,
): Record<string, unknown> {
  const recorded = (current["conditions"] ?? []) as readonly RecordedCondition[];
  const condition = (type: string, status: "True" | "False") => ({
    type,
    status,
    reason: INVALID_SPEC,
    message,
    lastTransitionTime: transitionTime(recorded, type, status, nowMs),
    observedGeneration: generation,
  });
  return {
    ...current,
    observedGeneration: generation,
    conditions: [
      condition("Ready", "False"),
      condition("Progressing", "False"),
      condition("Degraded", "True"),
      condition("Stalled", "True"),
    ],
  };
}
