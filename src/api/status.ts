/**
 * The ModelEndpoint status: written by the operator only (through the status subresource), read by
 * users, `kubectl get`, kstatus-based tools (Argo CD, Flux) and the operator itself.
 *
 * Besides the Vertex AI-shaped fields, four short strings summarise the endpoint for the printer
 * columns of `kubectl get modelendpoints` (a column's jsonPath cannot aggregate a list); see
 * docs/api.md for how they are formed.
 */
import { z } from "zod";

import {
  AUTOSCALING_METRIC_NAMES,
  CONDITION_STATUSES,
  DEPLOYED_MODEL_STATES,
  MAX_CONDITIONS,
  MAX_DEPLOYED_MODELS,
} from "./constants.ts";
import { boundedRecord, DedicatedResourcesBase, PlacementSchema } from "./spec.ts";

/** An RFC 3339 timestamp, as Kubernetes writes them (`2026-11-27T10:00:00Z`). */
export const Timestamp = z.iso.datetime({ offset: true });

const int64 = () => z.int().min(0);

export const ConditionSchema = z
  .object({
    type: z.string().min(1).max(316).describe("Condition type: Ready, Progressing, Degraded or Stalled."),
    status: z.enum(CONDITION_STATUSES).describe("True, False or Unknown."),
    observedGeneration: int64().optional().describe("metadata.generation the condition was computed from."),
    lastTransitionTime: Timestamp.describe("When status last changed."),
    reason: z.string().min(1).max(1024).describe("A CamelCase reason, stable and exported by the operator."),
    message: z.string().max(32768).describe("A human-readable explanation."),
  })
  .describe("A condition (metav1.Condition).");

export const AutoscalingStatusSchema = z
  .object({
    currentReplicaCount: int64().describe("Replicas the chain held when the autoscaler last looked."),
    desiredReplicaCount: int64().describe(
      "The chain's pool size N now, between minReplicaCount and maxReplicaCount.",
    ),
    metrics: z
      .array(
        z.object({
          metricName: z.enum(AUTOSCALING_METRIC_NAMES).describe("The metric."),
          target: z.int32().min(1).max(100).describe("Target utilization in percent."),
          currentValue: int64()
            .optional()
            .describe("Average utilization in percent over the chain's pods; unset without a reading."),
        }),
      )
      .max(AUTOSCALING_METRIC_NAMES.length)
      .describe("Each metric with its target and last reading."),
    lastScaleTime: Timestamp.optional().describe("When the autoscaler last changed the replica count."),
    message: z
      .string()
      .max(1024)
      .optional()
      .describe("Why the count is what it is, or why a metric has no reading."),
  })
  .describe("Autoscaling of a rollout chain (extension).");

export const DeployedModelStatusSchema = z
  .object({
    id: z.string().max(63).describe("The deployed model's id."),
    revisionNumber: int64()
      .optional()
      .describe(
        "Revision in its rollout chain: 1 without rolloutOptions, previous + 1 otherwise; never changes.",
      ),
    state: z.enum(DEPLOYED_MODEL_STATES).describe("BEING_DEPLOYED, DEPLOYED, FAILED or REPLACED."),
    replicas: int64().optional().describe("Pods of the model that exist."),
    readyReplicas: int64().optional().describe("Pods of the model that are Ready (receive traffic)."),
    availableReplicaCount: int64().optional().describe("Pods of the model that are available."),
    createTime: Timestamp.optional().describe("When the operator first saw the deployed model."),
    lastUpdateTime: Timestamp.optional().describe("When this entry last changed."),
    message: z
      .string()
      .max(4096)
      .optional()
      .describe("Progress or failure, e.g. '3/5 new replicas available'."),
    previousDeployedModel: z
      .string()
      .max(63)
      .optional()
      .describe(
        "The chain link: the model this one rolls onto, or, once that model left spec, its nearest ancestor still in spec.",
      ),
    reason: z
      .string()
      .max(1024)
      .optional()
      .describe("CamelCase reason of the state, e.g. ProgressDeadlineExceeded."),
    progressTime: Timestamp.optional().describe("When the rollout last made progress."),
    dedicatedResources: DedicatedResourcesBase.optional().describe(
      "The compute the model runs on: its own, or the one inherited along its rollout chain.",
    ),
    serviceAccount: z
      .string()
      .max(253)
      .optional()
      .describe("The ServiceAccount its pods run as (own or inherited)."),
    placement: PlacementSchema.optional().describe(
      "Where its pods may run, as its entry says or inherited along its rollout chain (extension).",
    ),
    autoscaling: AutoscalingStatusSchema.optional().describe(
      "On the first member of an autoscaled rollout chain: the chain's replica count and the metrics it scales by.",
    ),
  })
  .describe("The observed state of one deployed model.");

export const ModelEndpointStatusSchema = z
  .object({
    observedGeneration: int64().optional().describe("metadata.generation the status was computed from."),
    conditions: z
      .array(ConditionSchema)
      .max(MAX_CONDITIONS)
      .optional()
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
      .describe("Ready, Progressing, Degraded and Stalled (kstatus' name for Degraded)."),
    trafficSplit: boundedRecord(z.int32().min(0).max(100), MAX_DEPLOYED_MODELS)
      .optional()
      .describe("The effective traffic split right now (deployed-model id -> percent)."),
    deployedModels: z
      .array(DeployedModelStatusSchema)
      .max(MAX_DEPLOYED_MODELS)
      .optional()
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"] })
      .describe("Observed state of each deployed model."),
    latestRevisionNumber: int64()
      .optional()
      .describe(
        "The highest revision number the endpoint has given; a new rolling deployment's number is above it, so numbers are never reused.",
      ),
    revision: z
      .string()
      .max(1024)
      .optional()
      .describe("Summary for printing: <id>@<revision> of each chain's intended model, e.g. 'm2@2'."),
    state: z
      .string()
      .max(1024)
      .optional()
      .describe("Summary for printing: the state of each chain's intended model, e.g. 'BEING_DEPLOYED'."),
    ready: z
      .string()
      .max(64)
      .optional()
      .describe("Summary for printing: ready replicas / desired replicas of the endpoint, e.g. '3/5'."),
    traffic: z
      .string()
      .max(2048)
      .optional()
      .describe("Summary for printing: the effective split, e.g. 'm1=40,m2=60'."),
  })
  .describe("Observed state of the endpoint, written by the operator.");

export type Condition = z.output<typeof ConditionSchema>;
export type DeployedModelStatus = z.output<typeof DeployedModelStatusSchema>;
export type ModelEndpointStatus = z.output<typeof ModelEndpointStatusSchema>;
