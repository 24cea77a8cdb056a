/**
 * The objects the systems of a comparison run: a ModelEndpoint with one deployed model (and the
 * rolling deployments that replace it), and a plain Deployment or an Argo Rollouts Rollout (each with
 * the Service a user would put in front of it) whose pods look like the ModelEndpoint's pods: same
 * container, environment, readiness probe and resource requests. Requests are small so thousands of pods fit on the
 * simulated nodes. The data-plane benchmark uses the same ModelEndpoint with the reference model
 * server's image and a Gateway (`EndpointOptions`).
 */
import type { V1Deployment, V1Namespace, V1PodSpec, V1PodTemplateSpec } from "@kubernetes/client-node";

import { API_VERSION, KIND, LABEL_DEPLOYED_MODEL, LABEL_ENDPOINT } from "../../src/api/constants.ts";
import type { ResourceType } from "../../src/kube/client.ts";
import type { KubeObject, Service, Wire } from "../../src/kube/objects.ts";

export type Deployment = Wire<V1Deployment>;
export type Namespace = Wire<V1Namespace>;

export const DEPLOYMENTS: ResourceType<Deployment> = {
  group: "apps",
  version: "v1",
  plural: "deployments",
  kind: "Deployment",
  namespaced: true,
};

export const NAMESPACES: ResourceType<Namespace> = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};

/** Argo Rollouts' Rollout: a Deployment-like object its own controller rolls (rollouts-controller). */
export const ARGO_ROLLOUTS: ResourceType<ArgoRolloutObject> = {
  group: "argoproj.io",
  version: "v1alpha1",
  plural: "rollouts",
  kind: "Rollout",
  namespaced: true,
};

/** The label the bench puts on a Deployment's pods; its value is the Deployment's name. */
export const LABEL_APP = "bench.modelendpoint.io/app";

/** A budget as a count ("2") or a percentage of N ("25%"), like a Deployment's IntOrString. */
export type Budget = number | `${number}%`;

export interface RolloutBudgets {
  readonly maxSurge: Budget;
  readonly maxUnavailable: Budget;
}

export const RESOURCES = { requests: { cpu: "10m", memory: "16Mi" } } as const;
const ROUTES = { predictRoute: "/predict", healthRoute: "/health" } as const;

/** The comparison's image: kwok simulates its pods. */
const BENCH_MODEL = "registry.example/bench-model";

export function image(version: number, repository = BENCH_MODEL): string {
  return `${repository}:${String(version)}`;
}

/** What the data-plane benchmark changes in a ModelEndpoint. */
export interface EndpointOptions {
  /** The image repository; `:<version>` is appended (default: the simulated bench model). */
  readonly repository?: string;
  /** Route the endpoint through this Gateway (`spec.gateway.parentRefs`). */
  readonly gateway?: { readonly namespace: string; readonly name: string };
}

/** A ModelEndpoint status as the bench reads it. */
export interface EndpointStatus {
  readonly observedGeneration?: number;
  readonly conditions?: readonly { readonly type: string; readonly status: string }[];
  readonly deployedModels?: readonly {
    readonly id: string;
    readonly state?: string;
    readonly readyReplicas?: number;
  }[];
}

export interface ModelEndpointObject extends KubeObject {
  spec?: unknown;
  status?: EndpointStatus;
}

/** A Rollout status as the bench reads it (argoproj.io/v1alpha1 RolloutStatus). */
export interface ArgoRolloutStatus {
  /** The generation the controller acted on, as a string ("2"). */
  readonly observedGeneration?: string;
  /** Healthy, Progressing, Paused or Degraded, computed by the controller. */
  readonly phase?: string;
  readonly replicas?: number;
  readonly updatedReplicas?: number;
  readonly availableReplicas?: number;
  /** The pod-template hash of the stable ReplicaSet, and of the current template's. */
  readonly stableRS?: string;
  readonly currentPodHash?: string;
}

export interface ArgoRolloutObject extends KubeObject {
  spec?: unknown;
  status?: ArgoRolloutStatus;
}

function modelEntry(id: string, version: number, replicas: number, repository?: string): object {
  return {
    id,
    model: `bench-model@${String(version)}`,
    containerSpec: { imageUri: image(version, repository), ...ROUTES, resources: RESOURCES },
    dedicatedResources: {
      machineSpec: { machineType: "n1-standard-2" },
      minReplicaCount: replicas,
      maxReplicaCount: replicas,
    },
  };
}

function rolloutOptions(previous: string, b: RolloutBudgets, deadlineSeconds?: number): object {
  const budget = (name: "Surge" | "Unavailable", value: Budget): object =>
    typeof value === "number"
      ? { [`max${name}Replicas`]: value }
      : { [`max${name}Percentage`]: Number(value.slice(0, -1)) };
  return {
    previousDeployedModel: previous,
    ...budget("Surge", b.maxSurge),
    ...budget("Unavailable", b.maxUnavailable),
    ...(deadlineSeconds === undefined ? {} : { progressDeadlineSeconds: deadlineSeconds }),
  };
}

/** A ModelEndpoint serving deployed model m1 (version 1) on `replicas` replicas. */
export function modelEndpoint(
  namespace: string,
  name: string,
  replicas: number,
  options: EndpointOptions = {},
): ModelEndpointObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace },
    spec: {
      trafficSplit: { m1: 100 },
      deployedModels: [modelEntry("m1", 1, replicas, options.repository)],
      ...(options.gateway === undefined ? {} : { gateway: { parentRefs: [options.gateway] } }),
    },
  };
}

/** Deployed model m<version> (image version <version>) rolling onto m<version - 1> within `budgets`. */
function rollingEntry(
  version: number,
  budgets: RolloutBudgets,
  repository?: string,
  deadlineSeconds?: number,
): object {
  return {
    id: `m${String(version)}`,
    model: `bench-model@${String(version)}`,
    containerSpec: { imageUri: image(version, repository), ...ROUTES, resources: RESOURCES },
    rolloutOptions: rolloutOptions(`m${String(version - 1)}`, budgets, deadlineSeconds),
  };
}

/**
 * The merge patch of a chain of rolling deployments: m2 onto m1 within `steps[0]`, m3 onto m2
 * within `steps[1]`, and so on. Each step's patch repeats the ones before, as a user's manifest does.
 */
export function rollModelEndpoint(
  replicas: number,
  steps: readonly RolloutBudgets[],
  repository?: string,
  deadlineSeconds?: number,
): object {
  return {
    spec: {
      deployedModels: [
        modelEntry("m1", 1, replicas, repository),
        ...steps.map((budgets, i) => rollingEntry(i + 2, budgets, repository, deadlineSeconds)),
      ],
    },
  };
}

function podSpec(name: string, version: number): Wire<V1PodSpec> {
  const env: [string, string][] = [
    ["AIP_HTTP_PORT", "8080"],
    ["AIP_HEALTH_ROUTE", ROUTES.healthRoute],
    ["AIP_PREDICT_ROUTE", ROUTES.predictRoute],
    ["AIP_DEPLOYED_MODEL_ID", name],
    ["AIP_ENDPOINT_ID", name],
    ["AIP_MODEL_NAME", "bench-model"],
    ["AIP_VERSION_NAME", String(version)],
    ["AIP_MODE", "PREDICTION"],
    ["AIP_MODE_VERSION", "1.0.0"],
    ["AIP_FRAMEWORK", "CUSTOM_CONTAINER"],
    ["AIP_MACHINE_TYPE", "n1-standard-2"],
  ];
  return {
    containers: [
      {
        name: "model-server",
        image: image(version),
        env: env.map(([n, value]) => ({ name: n, value })),
        ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
        resources: RESOURCES,
        readinessProbe: {
          httpGet: { path: ROUTES.healthRoute, port: 8080 },
          periodSeconds: 5,
          timeoutSeconds: 2,
          failureThreshold: 3,
          successThreshold: 1,
        },
      },
    ],
  };
}

/** The pod template of version `version` of a Deployment or a Rollout. */
function podTemplate(name: string, version: number): Wire<V1PodTemplateSpec> {
  return {
    metadata: { labels: { [LABEL_APP]: name, version: String(version) } },
    spec: podSpec(name, version),
  };
}

/** A Deployment of version 1 with `replicas` pods and a RollingUpdate strategy of `budgets`. */
export function deployment(
  namespace: string,
  name: string,
  replicas: number,
  budgets: RolloutBudgets,
): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { [LABEL_APP]: name } },
      strategy: {
        type: "RollingUpdate",
        rollingUpdate: { maxSurge: budgets.maxSurge, maxUnavailable: budgets.maxUnavailable },
      },
      template: podTemplate(name, 1),
    },
  };
}

/**
 * The PodDisruptionBudget a production Deployment would carry, the same as the operator gives a
 * rollout chain of one model with surge 1 / unavailable 0: maxUnavailable 1 over its pods, and
 * unhealthy pods always evictable. For `--deployment-pdb`: the same work for both fleets.
 */
export function deploymentDisruptionBudget(namespace: string, name: string): KubeObject {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name, namespace },
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: { [LABEL_APP]: name } },
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    },
  } as KubeObject;
}

/**
 * An Argo Rollouts Rollout of version 1 with `replicas` pods: a canary strategy with no steps and
 * no traffic routing, so a new template goes to 100% at once within `budgets`, a rolling update as a
 * Deployment's (the same pods, the same budgets).
 */
export function argoRollout(
  namespace: string,
  name: string,
  replicas: number,
  budgets: RolloutBudgets,
): ArgoRolloutObject {
  return {
    apiVersion: `${ARGO_ROLLOUTS.group}/${ARGO_ROLLOUTS.version}`,
    kind: ARGO_ROLLOUTS.kind,
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { [LABEL_APP]: name } },
      strategy: { canary: { maxSurge: budgets.maxSurge, maxUnavailable: budgets.maxUnavailable } },
      template: podTemplate(name, 1),
    },
  };
}

/** The merge patch that rolls a Deployment or a Rollout to version 2 (a new pod template). */
export function rollDeployment(name: string): object {
  return { spec: { template: podTemplate(name, 2) } };
}

/**
 * A Service over the pods of one version of a Deployment, `<name>-v<version>`: what the operator
 * keeps per deployed model (`<endpoint>-<id>`) beside the endpoint's own. For
 * `--deployment-model-services`: a fleet of Deployments with the Services a fleet of endpoints has
 * (two each, a third from the rollout on). Headless, as a model's Service is where no Gateway
 * routes to the endpoint (the bench's fleet has none): a ClusterIP would cost the Deployments an
 * address allocation the endpoints do not pay.
 */
export function deploymentVersionService(namespace: string, name: string, version: number): Service {
  const service = deploymentService(namespace, `${name}-v${String(version)}`);
  return {
    ...service,
    spec: { ...service.spec, clusterIP: "None", selector: { [LABEL_APP]: name, version: String(version) } },
  };
}

/** The Service a user puts in front of a Deployment or a Rollout (the ModelEndpoint makes its own). */
export function deploymentService(namespace: string, name: string): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace },
    spec: {
      type: "ClusterIP",
      selector: { [LABEL_APP]: name },
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
    },
  };
}

export { LABEL_DEPLOYED_MODEL, LABEL_ENDPOINT };
