/** ModelEndpoint objects for the plugin's unit tests, shaped as the API server returns them. */
import type { RawEndpoint } from "./endpoint.ts";

export interface ModelFixture {
  readonly id: string;
  /** Undefined: the first revision of a chain (gets dedicatedResources with `pool` replicas). */
  readonly previous?: string;
  readonly image?: string;
  /** Absent from status when undefined (the operator has not seen it yet). */
  readonly state?: "BEING_DEPLOYED" | "DEPLOYED" | "FAILED" | "REPLACED";
  readonly revision?: number;
  readonly replicas?: number;
  readonly ready?: number;
  readonly reason?: string;
  readonly message?: string;
}

/**
 * An endpoint "fraud" in "ml" at generation `generation` (observed unless `observed` says
 * otherwise), with `models` in spec and status, and the given spec and effective splits.
 */
export function endpointFixture(options: {
  readonly models: readonly ModelFixture[];
  readonly split?: Record<string, number>;
  readonly effective?: Record<string, number>;
  readonly generation?: number;
  readonly observed?: number;
  readonly pool?: number;
  readonly ready?: "True" | "False";
}): RawEndpoint {
  const generation = options.generation ?? 2;
  const pool = options.pool ?? 3;
  const models = options.models;
  const condition = (type: string, status: string, reason: string): object => ({
    type,
    status,
    reason,
    message: "",
    lastTransitionTime: "2026-11-27T10:00:00Z",
    observedGeneration: options.observed ?? generation,
  });
  return {
    apiVersion: "serving.modelendpoint.io/v1alpha1",
    kind: "ModelEndpoint",
    metadata: { name: "fraud", namespace: "ml", generation, resourceVersion: "42", uid: "u1" },
    spec: {
      trafficSplit: options.split ?? { [models[0]?.id ?? "m1"]: 100 },
      deployedModels: models.map((m) => ({
        id: m.id,
        model: `fraud-detector@${m.id}`,
        containerSpec: {
          imageUri: m.image ?? `registry.example/fraud:${m.id}`,
          healthRoute: "/health",
          predictRoute: "/predict",
          ...(m.previous === undefined ? { args: ["--workers", "2"] } : {}),
        },
        ...(m.previous === undefined
          ? { dedicatedResources: { minReplicaCount: pool, maxReplicaCount: pool } }
          : { rolloutOptions: { previousDeployedModel: m.previous, progressDeadlineSeconds: 600 } }),
      })),
    },
    status: {
      observedGeneration: options.observed ?? generation,
      conditions: [
        condition(
          "Ready",
          options.ready ?? "True",
          options.ready === "False" ? "NewRevisionProgressing" : "AllReplicasAvailable",
        ),
        condition("Progressing", "False", "RolloutComplete"),
        condition("Degraded", "False", "AsExpected"),
      ],
      trafficSplit: options.effective ?? options.split ?? { [models[0]?.id ?? "m1"]: 100 },
      deployedModels: models
        .filter((m) => m.state !== undefined)
        .map((m, i) => ({
          id: m.id,
          revisionNumber: m.revision ?? i + 1,
          state: m.state,
          replicas: m.replicas ?? (m.state === "DEPLOYED" ? pool : 0),
          readyReplicas: m.ready ?? m.replicas ?? (m.state === "DEPLOYED" ? pool : 0),
          availableReplicaCount: m.ready ?? m.replicas ?? (m.state === "DEPLOYED" ? pool : 0),
          createTime: "2026-11-27T10:00:00Z",
          lastUpdateTime: "2026-11-27T10:01:00Z",
          ...(m.previous === undefined ? {} : { previousDeployedModel: m.previous }),
          ...(m.reason === undefined ? {} : { reason: m.reason }),
          ...(m.message === undefined ? {} : { message: m.message }),
          dedicatedResources: { minReplicaCount: pool, maxReplicaCount: pool },
        })),
    },
  };
}
