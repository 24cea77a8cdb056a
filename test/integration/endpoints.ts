/**
 * ModelEndpoints in integration tests, written the way users write them: `kubectl apply` of a
 * manifest (server-side apply, so several steps of a scenario merge like GitOps tools do).
 */
import { join, resolve } from "node:path";

import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";

import { runKubectl } from "../../src/testing/harness.ts";
import { controlPlane, eventually } from "./context.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

export interface DeployedModelStatus {
  readonly id: string;
  readonly revisionNumber: number;
  readonly state: "BEING_DEPLOYED" | "DEPLOYED" | "FAILED" | "REPLACED";
  readonly replicas: number;
  readonly readyReplicas: number;
  readonly availableReplicaCount: number;
  readonly message?: string;
  readonly reason?: string;
}

export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
}

export interface EndpointObject {
  readonly metadata: { readonly name: string; readonly generation: number; readonly uid: string };
  readonly spec: {
    readonly trafficSplit: Record<string, number>;
    readonly deployedModels: readonly { id: string }[];
  };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly conditions?: readonly Condition[];
    readonly trafficSplit?: Record<string, number>;
    readonly latestRevisionNumber?: number;
    readonly deployedModels?: readonly DeployedModelStatus[];
  };
}

export async function kubectl(args: readonly string[], input?: string): Promise<string> {
  return runKubectl(controlPlane().kubectl, controlPlane().kubeconfig, args, input);
}

/** Installs the CRD (idempotent) and waits until it is Established. */
export async function installCrd(): Promise<void> {
  await kubectl(["apply", "--server-side", "-f", join(ROOT, "crds")]);
  await kubectl(["wait", "--for=condition=Established", "crd/modelendpoints.serving.modelendpoint.io"]);
}

/** Applies a ModelEndpoint manifest (an object) with server-side apply. */
export async function applyEndpoint(namespace: string, manifest: object): Promise<void> {
  const body = { apiVersion: "serving.modelendpoint.io/v1alpha1", kind: "ModelEndpoint", ...manifest };
  await kubectl(
    ["apply", "--server-side", "--field-manager=test", "-n", namespace, "-f", "-"],
    JSON.stringify(body),
  );
}

export class Endpoints {
  readonly #api: CustomObjectsApi;
  readonly namespace: string;

  constructor(kc: KubeConfig, namespace: string) {
    this.#api = kc.makeApiClient(CustomObjectsApi);
    this.namespace = namespace;
  }

  async get(name: string): Promise<EndpointObject> {
    return (await this.#api.getNamespacedCustomObject({
      group: "serving.modelendpoint.io",
      version: "v1alpha1",
      namespace: this.namespace,
      plural: "modelendpoints",
      name,
    })) as EndpointObject;
  }

  async delete(name: string): Promise<void> {
    await this.#api.deleteNamespacedCustomObject({
      group: "serving.modelendpoint.io",
      version: "v1alpha1",
      namespace: this.namespace,
      plural: "modelendpoints",
      name,
    });
  }

  /** The status entry of a deployed model, if any. */
  async model(name: string, id: string): Promise<DeployedModelStatus | undefined> {
    return (await this.get(name)).status?.deployedModels?.find((m) => m.id === id);
  }

  /** Awaits a deployed model's state (and returns its status entry). */
  async waitForState(
    name: string,
    id: string,
    state: DeployedModelStatus["state"],
    timeoutMs = 90_000,
  ): Promise<DeployedModelStatus> {
    return eventually(
      `${this.namespace}/${name} ${id} ${state}`,
      async () => {
        const m = await this.model(name, id);
        return m?.state === state && m;
      },
      { timeoutMs, describe: async () => JSON.stringify((await this.get(name)).status) },
    );
  }

  /** Awaits a condition of the endpoint with this status (observedGeneration current). */
  async waitForCondition(name: string, type: string, status: string, timeoutMs = 90_000): Promise<Condition> {
    return eventually(
      `${this.namespace}/${name} ${type}=${status}`,
      async () => {
        const obj = await this.get(name);
        const c = obj.status?.conditions?.find((x) => x.type === type);
        return c?.status === status && obj.status?.observedGeneration === obj.metadata.generation && c;
      },
      { timeoutMs, describe: async () => JSON.stringify((await this.get(name)).status) },
    );
  }
}

/** A first deployment of `id` with N replicas (the manifest of docs/api.md). */
export function firstDeployment(
  name: string,
  id: string,
  n: number,
  image = "registry.example/fraud:1.0",
): object {
  return {
    metadata: { name },
    spec: {
      trafficSplit: { [id]: 100 },
      deployedModels: [
        {
          id,
          model: `fraud-detector@${id}`,
          containerSpec: { imageUri: image, healthRoute: "/health", predictRoute: "/predict" },
          dedicatedResources: {
            machineSpec: { machineType: "n1-standard-2" },
            minReplicaCount: n,
            maxReplicaCount: n,
          },
        },
      ],
    },
  };
}

/** A rolling deployment entry of `id` onto `previous`. */
export function rollingEntry(
  id: string,
  previous: string,
  image: string,
  budgets: Record<string, number> = {},
): object {
  return {
    id,
    model: `fraud-detector@${id}`,
    containerSpec: { imageUri: image, healthRoute: "/health", predictRoute: "/predict" },
    rolloutOptions: { previousDeployedModel: previous, ...budgets },
  };
}
