/**
 * Request bodies of the Vertex AI API, in the proto3 JSON mapping: camelCase fields, int64 and
 * int32 as numbers or decimal strings (the documented bodies send "2"), unknown fields refused with
 * their name (a misspelt field must not be ignored silently). One zod schema per message; a body
 * that does not match is INVALID_ARGUMENT naming each field.
 */
import { z } from "zod";

import { RpcError } from "./status.ts";

/** int32/int64 as proto3 JSON carries it: a number or a decimal string. */
const Int = z.union([
  z.number().int(),
  z
    .string()
    .regex(/^-?\d+$/, "must be a whole number")
    .transform(Number),
]);
const NonNegativeInt = Int.pipe(z.number().int().min(0, "must not be negative"));

/**
 * AcceleratorType's numbers (google.cloud.aiplatform.v1beta1.AcceleratorType), for clients that
 * send enums as numbers (`$alt=json;enum-encoding=int`, the client libraries' REST mode).
 */
const ACCELERATOR_NUMBERS: Readonly<Record<number, string>> = {
  0: "ACCELERATOR_TYPE_UNSPECIFIED",
  1: "NVIDIA_TESLA_K80",
  2: "NVIDIA_TESLA_P100",
  3: "NVIDIA_TESLA_V100",
  4: "NVIDIA_TESLA_P4",
  5: "NVIDIA_TESLA_T4",
  6: "TPU_V2",
  7: "TPU_V3",
  8: "NVIDIA_TESLA_A100",
  9: "NVIDIA_A100_80GB",
  10: "TPU_V4_POD",
  11: "NVIDIA_L4",
  12: "TPU_V5_LITEPOD",
  13: "NVIDIA_H100_80GB",
  14: "NVIDIA_H100_MEGA_80GB",
  15: "NVIDIA_H200_141GB",
  16: "NVIDIA_B200",
  17: "NVIDIA_GB200",
  18: "NVIDIA_RTX_PRO_6000",
};

/**
 * An AcceleratorType by name or number; ACCELERATOR_TYPE_UNSPECIFIED ("no accelerator", what a
 * proto3 client may send for an unset enum) is left out. A name the cluster's table does not know
 * is kept, for the API server to refuse with the supported values.
 */
const AcceleratorTypeField = z.union([z.string(), z.number().int()]).transform((v, ctx) => {
  const name = typeof v === "number" ? ACCELERATOR_NUMBERS[v] : v;
  if (name === undefined) {
    ctx.addIssue({ code: "custom", message: `${String(v)} is not an AcceleratorType` });
    return z.NEVER;
  }
  return name === "ACCELERATOR_TYPE_UNSPECIFIED" ? undefined : name;
});

export const MachineSpec = z
  .strictObject({
    machineType: z.string().optional(),
    acceleratorType: AcceleratorTypeField.optional(),
    acceleratorCount: NonNegativeInt.optional(),
  })
  .transform(({ acceleratorType, acceleratorCount, ...rest }) => ({
    ...rest,
    ...(acceleratorType === undefined ? {} : { acceleratorType }),
    // 0 is proto3's unset count.
    ...(acceleratorCount === undefined || acceleratorCount === 0 ? {} : { acceleratorCount }),
  }));

/** A metric and its target; 0, proto3's unset target, is left out (the default, 60, applies). */
export const AutoscalingMetricSpec = z
  .strictObject({ metricName: z.string().min(1), target: NonNegativeInt.optional() })
  .transform(({ metricName, target }) => ({
    metricName,
    ...(target === undefined || target === 0 ? {} : { target }),
  }));

export const DedicatedResources = z.strictObject({
  machineSpec: MachineSpec.optional(),
  minReplicaCount: NonNegativeInt.optional(),
  maxReplicaCount: NonNegativeInt.optional(),
  autoscalingMetricSpecs: z.array(AutoscalingMetricSpec).optional(),
});

export const RolloutOptions = z.strictObject({
  previousDeployedModel: z.string().min(1),
  maxSurgeReplicas: NonNegativeInt.optional(),
  maxSurgePercentage: NonNegativeInt.optional(),
  maxUnavailableReplicas: NonNegativeInt.optional(),
  maxUnavailablePercentage: NonNegativeInt.optional(),
  /** Output only on Vertex; accepted and ignored as it comes back from a GET. */
  revisionNumber: NonNegativeInt.optional(),
  /** An extension: how long without progress before the rollout fails and reverts (default 600). */
  progressDeadlineSeconds: NonNegativeInt.optional(),
});

const Labels = z.record(z.string(), z.string());

/**
 * DeployedModel.systemLabels: Model Garden's, managed by Google. The client libraries send every
 * map field, so an empty one comes with each request; anything in it is refused.
 */
const SystemLabels = Labels.refine(
  (labels) => Object.keys(labels).length === 0,
  "system labels (Model Garden's) are not supported",
);

export const DeployedModel = z.strictObject({
  id: z.string().optional(),
  model: z.string().min(1),
  displayName: z.string().max(128).optional(),
  dedicatedResources: DedicatedResources.optional(),
  rolloutOptions: RolloutOptions.optional(),
  serviceAccount: z.string().optional(),
  disableContainerLogging: z.boolean().optional(),
  enableAccessLogging: z.boolean().optional(),
  systemLabels: SystemLabels.optional(),
});

const TrafficSplit = z.record(z.string(), NonNegativeInt.pipe(z.number().max(100, "must be at most 100")));

/**
 * deployModel's and undeployModel's trafficSplit: empty is absent (proto3 cannot tell them apart,
 * and the client libraries send `{}` when none is given); Vertex: "if this field is empty, the
 * Endpoint's trafficSplit is not updated".
 */
const RequestTrafficSplit = TrafficSplit.transform((split) =>
  Object.keys(split).length === 0 ? undefined : split,
);

export const DeployModelRequest = z.strictObject({
  deployedModel: DeployedModel,
  trafficSplit: RequestTrafficSplit.optional(),
});

export const UndeployModelRequest = z.strictObject({
  deployedModelId: z.string().min(1),
  trafficSplit: RequestTrafficSplit.optional(),
});

export const Endpoint = z.strictObject({
  name: z.string().optional(),
  displayName: z.string().min(1).max(128),
  description: z.string().max(2048).optional(),
  labels: Labels.optional(),
  trafficSplit: TrafficSplit.optional(),
  etag: z.string().optional(),
});

export const EndpointPatch = Endpoint.partial();

export const MutateDeployedModelRequest = z.strictObject({
  deployedModel: z.strictObject({
    id: z.string().min(1),
    dedicatedResources: DedicatedResources.optional(),
    disableContainerLogging: z.boolean().optional(),
    enableAccessLogging: z.boolean().optional(),
    systemLabels: SystemLabels.optional(),
  }),
  updateMask: z.string().optional(),
});

export const PredictRequest = z.strictObject({
  instances: z.array(z.unknown()),
  parameters: z.unknown().optional(),
  /** Request labels (Vertex bills by them); accepted and not passed to the model. */
  labels: Labels.optional(),
});

/** Parses `body` with `schema`, or throws INVALID_ARGUMENT naming every offending field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const violations = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
    return keys.length > 0
      ? {
          field: keys.map((k) => (path === "" ? k : `${path}.${k}`)).join(", "),
          description: `unknown field${keys.length > 1 ? "s" : ""} ${keys.map((k) => JSON.stringify(k)).join(", ")}`,
        }
      : { field: path, description: issue.message };
  });
  throw new RpcError(
    "INVALID_ARGUMENT",
    `invalid ${what}: ${violations.map((v) => (v.field === "" ? v.description : `${v.field}: ${v.description}`)).join("; ")}`,
    violations,
  );
}

/**
 * An updateMask ("displayName,labels" or "display_name") as camelCase paths, each checked against
 * the ones the method can change.
 */
export function parseUpdateMask(mask: string | undefined, allowed: readonly string[]): string[] {
  if (mask === undefined || mask.trim() === "") {
    throw new RpcError("INVALID_ARGUMENT", `updateMask is required: one or more of ${allowed.join(", ")}`, [
      { field: "updateMask", description: "required" },
    ]);
  }
  const paths = mask.split(",").map((p) => p.trim().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));
  const unknown = paths.filter((p) => !allowed.includes(p));
  if (unknown.length > 0) {
    throw new RpcError(
      "INVALID_ARGUMENT",
      `updateMask: ${unknown.join(", ")} cannot be updated here; the fields are ${allowed.join(", ")}`,
      [{ field: "updateMask", description: `unknown or immutable: ${unknown.join(", ")}` }],
    );
  }
  return paths;
}
