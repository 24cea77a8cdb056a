/**
 * The Kubernetes objects a ModelEndpoint owns (docs/operator.md, "Objects it owns"), built by pure functions:
 *
 * - one ReplicaSet per deployed model, `<endpoint>-<id>`, whose pods carry the Vertex AI `AIP_*`
 *   environment and a readiness probe on the health route;
 * - one Service `<endpoint>` selecting the pods labelled to serve (the engine decides which, R6 and
 *   R11), so the EndpointSlice controller lists exactly the pods that receive traffic;
 * - one Service `<endpoint>-<id>` per deployed model, for direct access and debugging.
 *
 * Every object carries an ownerReference to the ModelEndpoint, so deleting the endpoint deletes
 * them (garbage collector), and the labels below, so the operator finds and adopts them after a
 * restart.
 */

import {
  API_VERSION,
  DEFAULT_CONTAINER_PORT,
  KIND,
  LABEL_DEPLOYED_MODEL,
  LABEL_ENDPOINT,
  LABEL_REVISION,
} from "../api/constants.ts";
import type { ContainerResources } from "../api/machine-types.ts";
import type { ContainerSpec, EnvVar, Probe } from "../api/spec.ts";
import type { OwnerReference, ReplicaSet, Service } from "../kube/objects.ts";
import type { RolloutSettings } from "../rollout/types.ts";
import type { PlacementProfile, PodPlacement, Toleration } from "./placement.ts";

/** Present ("true") on a pod while it should receive the endpoint's traffic. */
export const LABEL_SERVING = "serving.modelendpoint.io/serving";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "model-endpoint-operator";
/** The model name[@version] of a deployed model, on its ReplicaSet and pods. */
export const ANNOTATION_MODEL = "serving.modelendpoint.io/model";
/** Vertex's disableContainerLogging / enableAccessLogging, for log agents to honour. */
export const ANNOTATION_CONTAINER_LOGGING = "serving.modelendpoint.io/container-logging";
export const ANNOTATION_ACCESS_LOGGING = "serving.modelendpoint.io/access-logging";
/**
 * Fluent Bit's per-pod opt-out (its kubernetes filter with `K8S-Logging.Exclude On`, as most
 * Fluent Bit-based agents run it): set on the pods of a model with disableContainerLogging, so the
 * cluster's log pipeline drops their stdout and stderr as Vertex AI does.
 */
export const ANNOTATION_FLUENT_BIT_EXCLUDE = "fluentbit.io/exclude";
/** Vector's per-pod opt-out (the kubernetes_logs source skips pods with this label "true"). */
export const LABEL_VECTOR_EXCLUDE = "vector.dev/exclude";
/**
 * Set to "true" in the environment of a model with enableAccessLogging: a serving container that
 * honours it (the reference model server does) logs one line per request.
 */
export const ENV_ACCESS_LOGGING = "ENABLE_ACCESS_LOGGING";
/** The container's name in every model pod. */
export const CONTAINER_NAME = "model-server";
export const SERVICE_PORT = 80;

/**
 * Drain of a model pod being deleted: the container's preStop hook sleeps this long before the
 * container gets SIGTERM, so the endpoints controller and every load balancer or gateway drop the
 * pod while it still answers (its EndpointSlice entry turns not-ready the moment it is deleted).
 */
export const PRE_STOP_SLEEP_SECONDS = 5;

/**
 * Time a model pod has from deletion to SIGKILL, preStop included: long enough for in-flight
 * predictions of large models (tens of seconds) to finish after SIGTERM.
 */
export const TERMINATION_GRACE_PERIOD_SECONDS = 60;
/** The memory-backed volume at /dev/shm of a container with sharedMemorySizeMb. */
export const SHARED_MEMORY_VOLUME = "dshm";

/**
 * How model pods run, beyond what their entry says: operator configuration (`--model-pod-user`,
 * `--placement-*`). Every pod runs without privilege escalation, with every capability dropped and
 * the runtime's default seccomp profile (what Pod Security "restricted" asks, but for the user);
 * with `runAsUser` it also runs as that non-root user, and then passes "restricted". `placement`
 * sizes and places the pods (placement.ts; default: the generic profile).
 */
export interface ModelPodSettings {
  readonly runAsUser?: number | undefined;
  readonly placement?: PlacementProfile | undefined;
}

/** The ModelEndpoint that owns an object: what its ownerReference and names are made from. */
export interface OwnerEndpoint {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** What a deployed model's ReplicaSet and pods are built from: its spec with R2's inheritance and its routes resolved. */
export interface ObjectInputs {
  readonly id: string;
  readonly model: string;
  readonly revision: number;
  readonly containerSpec: ContainerSpec;
  readonly predictRoute: string;
  readonly healthRoute: string;
  readonly resources: ContainerResources;
  /** nodeSelector, tolerations and affinity of the pods: the profile's and the entry's, merged. */
  readonly placement?: PodPlacement | undefined;
  readonly machineType?: string | undefined;
  readonly serviceAccount?: string | undefined;
  readonly disableContainerLogging: boolean;
  readonly enableAccessLogging: boolean;
}

export function replicaSetName(endpoint: string, id: string): string {
  return `${endpoint}-${id}`;
}

export function modelServiceName(endpoint: string, id: string): string {
  return `${endpoint}-${id}`;
}

/** Vertex's default routes, used when containerSpec leaves them out. */
export function defaultPredictRoute(endpoint: string, id: string): string {
  return `/v1/endpoints/${endpoint}/deployedModels/${id}:predict`;
}

export function defaultHealthRoute(endpoint: string, id: string): string {
  return `/v1/endpoints/${endpoint}/deployedModels/${id}`;
}

export function servingPort(spec: ContainerSpec): number {
  return spec.ports?.[0]?.containerPort ?? DEFAULT_CONTAINER_PORT;
}

/** The container's gRPC port (containerSpec.grpcPorts), if it has one. */
export function grpcPort(spec: ContainerSpec): number | undefined {
  return spec.grpcPorts?.[0]?.containerPort;
}

export function ownerReference(endpoint: OwnerEndpoint): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: endpoint.name,
    uid: endpoint.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The labels that select one deployed model's pods (the ReplicaSet selector; immutable). */
export function modelSelector(endpoint: string, id: string): Record<string, string> {
  return { [LABEL_ENDPOINT]: endpoint, [LABEL_DEPLOYED_MODEL]: id };
}

/** "fraud-detector@2" -> name "fraud-detector", version "2" (empty when no @). */
export function splitModel(model: string): { name: string; version: string } {
  const at = model.lastIndexOf("@");
  return at < 0 ? { name: model, version: "" } : { name: model.slice(0, at), version: model.slice(at + 1) };
}

/**
 * The Vertex AI prediction container environment. The user's own env comes first; an AIP_*
 * variable the user set is not overridden (Vertex documents AIP_* as reserved, but a container
 * that reads its own value should get it).
 */
export function aipEnvironment(endpoint: string, dm: ObjectInputs): ContainerEnv[] {
  const { name, version } = splitModel(dm.model);
  const aip: [string, string][] = [
    ["AIP_HTTP_PORT", String(servingPort(dm.containerSpec))],
    ["AIP_HEALTH_ROUTE", dm.healthRoute],
    ["AIP_PREDICT_ROUTE", dm.predictRoute],
    ["AIP_DEPLOYED_MODEL_ID", dm.id],
    ["AIP_ENDPOINT_ID", endpoint],
    ["AIP_MODEL_NAME", name],
    ["AIP_VERSION_NAME", version],
    ["AIP_MODE", "PREDICTION"],
    ["AIP_MODE_VERSION", "1.0.0"],
    ["AIP_FRAMEWORK", "CUSTOM_CONTAINER"],
    ["AIP_MACHINE_TYPE", dm.machineType ?? ""],
    ...(dm.containerSpec.artifactUri === undefined
      ? []
      : ([["AIP_STORAGE_URI", dm.containerSpec.artifactUri]] as [string, string][])),
    ...(dm.enableAccessLogging ? ([[ENV_ACCESS_LOGGING, "true"]] as [string, string][]) : []),
  ];
  const user = (dm.containerSpec.env ?? []).map(containerEnv);
  const taken = new Set(user.map((e) => e.name));
  return [...user, ...aip.filter(([n]) => !taken.has(n)).map(([n, value]) => ({ name: n, value }))];
}

/** An environment variable of a container, in Kubernetes' shape. */
export interface ContainerEnv {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly secretKeyRef?: { readonly name: string; readonly key: string; readonly optional?: boolean };
    readonly configMapKeyRef?: { readonly name: string; readonly key: string; readonly optional?: boolean };
  };
}

/** A containerSpec env entry as the container's: its value, or where its value comes from. */
export function containerEnv(e: EnvVar): ContainerEnv {
  const from = e.valueFrom;
  if (from === undefined) return { name: e.name, value: e.value ?? "" };
  const ref = (r: { name: string; key: string; optional?: boolean | undefined }) => ({
    name: r.name,
    key: r.key,
    ...(r.optional === undefined ? {} : { optional: r.optional }),
  });
  return {
    name: e.name,
    valueFrom: {
      ...(from.secretKeyRef === undefined ? {} : { secretKeyRef: ref(from.secretKeyRef) }),
      ...(from.configMapKeyRef === undefined ? {} : { configMapKeyRef: ref(from.configMapKeyRef) }),
    },
  };
}

/** The chain pool size the engine asked for when it created a ReplicaSet (read back after a restart). */
export const ANNOTATION_POOL_SIZE = "serving.modelendpoint.io/pool-size";

/** The ids of a deployed model's chain ancestors, nearest first, comma-separated (engine memory). */
export const ANNOTATION_LINEAGE = "serving.modelendpoint.io/lineage";

/**
 * The rollout settings (budgets, deadline) of the rolling deployment that created a ReplicaSet, as
 * JSON (engine memory: a revert that removes the entry still rolls back within its budgets).
 */
export const ANNOTATION_ROLLOUT_SETTINGS = "serving.modelendpoint.io/rollout-settings";

/** What the engine asks to keep on a ReplicaSet (see CreateReplicaSet). */
export interface ReplicaSetMemory {
  readonly poolSize?: number;
  readonly lineage?: readonly string[];
  readonly rolloutSettings?: RolloutSettings | undefined;
}

/**
 * A deployed model's ReplicaSet with `replicas` pods. `memory` is what the engine asks to keep on
 * the object: the chain's N and the ancestors' ids (to rebuild a lost status) and the rollout
 * settings (to roll back within them once the entry left spec). `serving` puts the `serving` label
 * on the pod template, so its pods serve as soon as they are Ready.
 */
export function buildReplicaSet(
  endpoint: OwnerEndpoint,
  dm: ObjectInputs,
  replicas: number,
  memory: ReplicaSetMemory = {},
  serving = false,
  pods: ModelPodSettings = {},
): ReplicaSet {
  const selector = modelSelector(endpoint.name, dm.id);
  const labels = { ...selector, [LABEL_REVISION]: String(dm.revision), [LABEL_MANAGED_BY]: MANAGED_BY };
  const annotations = {
    [ANNOTATION_MODEL]: dm.model,
    [ANNOTATION_CONTAINER_LOGGING]: String(!dm.disableContainerLogging),
    [ANNOTATION_ACCESS_LOGGING]: String(dm.enableAccessLogging),
  };
  const port = servingPort(dm.containerSpec);
  const grpc = grpcPort(dm.containerSpec);
  const c = dm.containerSpec;
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: replicaSetName(endpoint.name, dm.id),
      namespace: endpoint.namespace,
      labels,
      annotations: {
        ...annotations,
        ...(memory.poolSize === undefined ? {} : { [ANNOTATION_POOL_SIZE]: String(memory.poolSize) }),
        ...(memory.lineage === undefined ? {} : { [ANNOTATION_LINEAGE]: memory.lineage.join(",") }),
        ...(memory.rolloutSettings === undefined
          ? {}
          : { [ANNOTATION_ROLLOUT_SETTINGS]: JSON.stringify(memory.rolloutSettings) }),
      },
      ownerReferences: [ownerReference(endpoint)],
    },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: {
          labels: {
            ...labels,
            ...(serving ? { [LABEL_SERVING]: "true" } : {}),
            ...(dm.disableContainerLogging ? { [LABEL_VECTOR_EXCLUDE]: "true" } : {}),
          },
          annotations: {
            ...annotations,
            ...(dm.disableContainerLogging ? { [ANNOTATION_FLUENT_BIT_EXCLUDE]: "true" } : {}),
          },
        },
        spec: {
          ...(dm.serviceAccount === undefined ? {} : { serviceAccountName: dm.serviceAccount }),
          // A model server needs no API token unless its entry names a ServiceAccount for it.
          automountServiceAccountToken: dm.serviceAccount !== undefined,
          securityContext: {
            seccompProfile: { type: "RuntimeDefault" },
            ...(pods.runAsUser === undefined ? {} : { runAsNonRoot: true, runAsUser: pods.runAsUser }),
          },
          terminationGracePeriodSeconds: TERMINATION_GRACE_PERIOD_SECONDS,
          ...(dm.placement?.nodeSelector === undefined
            ? {}
            : { nodeSelector: { ...dm.placement.nodeSelector } }),
          ...(dm.placement?.tolerations === undefined
            ? {}
            : { tolerations: dm.placement.tolerations.map(kubeToleration) }),
          // Kept as the entry wrote it; the API server validates it when the ReplicaSet is created.
          ...(dm.placement?.affinity === undefined
            ? {}
            : { affinity: structuredClone(dm.placement.affinity) }),
          ...(c.sharedMemorySizeMb === undefined
            ? {}
            : {
                volumes: [
                  {
                    name: SHARED_MEMORY_VOLUME,
                    emptyDir: { medium: "Memory", sizeLimit: `${String(c.sharedMemorySizeMb)}Mi` },
                  },
                ],
              }),
          containers: [
            {
              name: CONTAINER_NAME,
              image: c.imageUri,
              ...(c.command === undefined ? {} : { command: [...c.command] }),
              ...(c.args === undefined ? {} : { args: [...c.args] }),
              env: aipEnvironment(endpoint.name, dm),
              ports: [
                { name: "http", containerPort: port, protocol: "TCP" },
                ...(grpc === undefined ? [] : [{ name: "grpc", containerPort: grpc, protocol: "TCP" }]),
              ],
              ...(dm.resources.requests || dm.resources.limits
                ? {
                    resources: {
                      ...(dm.resources.requests ? { requests: { ...dm.resources.requests } } : {}),
                      ...(dm.resources.limits ? { limits: { ...dm.resources.limits } } : {}),
                    },
                  }
                : {}),
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
              ...(c.sharedMemorySizeMb === undefined
                ? {}
                : { volumeMounts: [{ name: SHARED_MEMORY_VOLUME, mountPath: "/dev/shm" }] }),
              lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } } },
              readinessProbe: kubeProbe(c.healthProbe, dm.healthRoute, port, READINESS_TIMING),
              ...(c.startupProbe === undefined
                ? {}
                : { startupProbe: kubeProbe(c.startupProbe, dm.healthRoute, port) }),
              ...(c.livenessProbe === undefined
                ? {}
                : { livenessProbe: kubeProbe(c.livenessProbe, dm.healthRoute, port) }),
            },
          ],
        },
      },
    },
  };
}

type PodSpec = NonNullable<NonNullable<NonNullable<ReplicaSet["spec"]>["template"]>["spec"]>;
type PodToleration = NonNullable<PodSpec["tolerations"]>[number];

/** A toleration without its unset fields. */
function kubeToleration(t: Toleration): PodToleration {
  return {
    ...(t.key === undefined ? {} : { key: t.key }),
    ...(t.operator === undefined ? {} : { operator: t.operator }),
    ...(t.value === undefined ? {} : { value: t.value }),
    ...(t.effect === undefined ? {} : { effect: t.effect }),
    ...(t.tolerationSeconds === undefined ? {} : { tolerationSeconds: t.tolerationSeconds }),
  };
}

/** The readiness probe's timing where the entry's healthProbe says nothing. */
const READINESS_TIMING = { periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3, successThreshold: 1 };

/**
 * A Vertex AI Probe as a Kubernetes probe: its handler (none: an HTTP GET of the health route on
 * the serving port), and its timing over `timing` (Kubernetes' own defaults where both are silent).
 */
export function kubeProbe(
  probe: Probe | undefined,
  healthRoute: string,
  port: number,
  timing: Readonly<Record<string, number>> = {},
): Record<string, unknown> {
  const handler =
    probe?.exec !== undefined
      ? { exec: { command: [...probe.exec.command] } }
      : probe?.grpc !== undefined
        ? {
            grpc: {
              port: probe.grpc.port,
              ...(probe.grpc.service === undefined ? {} : { service: probe.grpc.service }),
            },
          }
        : probe?.tcpSocket !== undefined
          ? { tcpSocket: { port: probe.tcpSocket.port ?? port } }
          : {
              httpGet: {
                path: probe?.httpGet?.path ?? healthRoute,
                port: probe?.httpGet?.port ?? port,
                ...(probe?.httpGet?.scheme === undefined ? {} : { scheme: probe.httpGet.scheme }),
                ...(probe?.httpGet?.httpHeaders === undefined
                  ? {}
                  : { httpHeaders: probe.httpGet.httpHeaders.map((h) => ({ ...h })) }),
              },
            };
  const fields = [
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "failureThreshold",
    "successThreshold",
  ] as const;
  const times = Object.fromEntries(
    fields.flatMap((f) => {
      const value = probe?.[f] ?? timing[f];
      return value === undefined ? [] : [[f, value]];
    }),
  );
  return { ...handler, ...times };
}

/** What sets one of the endpoint's Services apart besides its name and selector. */
interface ServiceShape {
  readonly extraLabels?: Record<string, string>;
  /** No ClusterIP (`clusterIP: None`), its `http` port the pods' own. */
  readonly headlessPort?: number;
  /** A second port, `grpc`, for the pods' gRPC port. */
  readonly grpc?: number | undefined;
}

/**
 * A Service whose `http` port targets the pods' port named "http", so models of one endpoint may
 * listen on different container ports behind the same Service: port 80 on a ClusterIP, or, when
 * headless, the pods' own port (a headless Service's DNS name resolves to the pods, and nothing
 * forwards port 80 to them).
 */
function service(
  endpoint: OwnerEndpoint,
  name: string,
  selector: Record<string, string>,
  shape: ServiceShape = {},
): Service {
  const http = {
    name: "http",
    port: shape.headlessPort ?? SERVICE_PORT,
    targetPort: "http",
    protocol: "TCP",
  };
  // gRPC over cleartext HTTP/2, which gateways and meshes read from appProtocol.
  const grpc =
    shape.grpc === undefined
      ? []
      : [
          {
            name: "grpc",
            port: shape.grpc,
            targetPort: "grpc",
            protocol: "TCP",
            appProtocol: "kubernetes.io/h2c",
          },
        ];
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: endpoint.namespace,
      labels: { [LABEL_ENDPOINT]: endpoint.name, [LABEL_MANAGED_BY]: MANAGED_BY, ...shape.extraLabels },
      ownerReferences: [ownerReference(endpoint)],
    },
    spec: {
      type: "ClusterIP",
      ...(shape.headlessPort === undefined ? {} : { clusterIP: "None" }),
      selector,
      ports: [http, ...grpc],
    },
  };
}

/**
 * The endpoint's Service: selects the pods the engine labelled `serving`, so its ready endpoints are
 * exactly the pods that receive traffic.
 */
export function buildEndpointService(endpoint: OwnerEndpoint): Service {
  return service(endpoint, endpoint.name, { [LABEL_ENDPOINT]: endpoint.name, [LABEL_SERVING]: "true" });
}

/**
 * A Service for one deployed model's pods (all of them, serving or not), for direct access, with
 * the model's gRPC port if it has one. `headlessPort`: no ClusterIP, for a model no Gateway routes
 * to (docs/dataplane.md); its EndpointSlices are the same, it takes no address from the cluster's
 * Service range, and the API server does no allocation for it (an allocation lists every address
 * in use, so each costs more in a cluster of many Services).
 */
export function buildModelService(
  endpoint: OwnerEndpoint,
  id: string,
  options: Pick<ServiceShape, "grpc" | "headlessPort"> = {},
): Service {
  return service(endpoint, modelServiceName(endpoint.name, id), modelSelector(endpoint.name, id), {
    ...options,
    extraLabels: { [LABEL_DEPLOYED_MODEL]: id },
  });
}
