import { describe, expect, it } from "vitest";

import {
  aipEnvironment,
  buildEndpointService,
  buildModelService,
  buildReplicaSet,
  kubeProbe,
  LABEL_SERVING,
  splitModel,
  type ObjectInputs,
} from "./objects.ts";

const endpoint = { namespace: "ml", name: "fraud", uid: "uid-1" };
const dm: ObjectInputs = {
  id: "m2",
  model: "fraud-detector@2",
  revision: 2,
  containerSpec: {
    imageUri: "registry.example/fraud:2.0",
    args: ["--workers", "2"],
    env: [{ name: "LOG_LEVEL", value: "info" }],
    ports: [{ containerPort: 9000 }],
  },
  predictRoute: "/predict",
  healthRoute: "/health",
  resources: { requests: { cpu: "2", memory: "7.5Gi" }, limits: { memory: "7.5Gi" } },
  machineType: "n1-standard-2",
  serviceAccount: "fraud-sa",
  disableContainerLogging: false,
  enableAccessLogging: true,
};

describe("placement and env from Secrets in the pod template", () => {
  it("carries nodeSelector, tolerations and affinity, and no empty ones", () => {
    const affinity = {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
    };
    const placed = buildReplicaSet(
      endpoint,
      {
        ...dm,
        placement: {
          nodeSelector: { "cloud.google.com/gke-accelerator": "nvidia-l4" },
          tolerations: [
            { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule", value: undefined },
          ],
          affinity,
        },
      },
      1,
    ).spec?.template?.spec;
    expect(placed?.nodeSelector).toEqual({ "cloud.google.com/gke-accelerator": "nvidia-l4" });
    expect(placed?.tolerations).toEqual([
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
    ]);
    expect(placed?.affinity).toEqual(affinity);
    const plain = buildReplicaSet(endpoint, { ...dm, placement: {} }, 1).spec?.template?.spec;
    expect(plain).not.toHaveProperty("nodeSelector");
    expect(plain).not.toHaveProperty("tolerations");
    expect(plain).not.toHaveProperty("affinity");
  });

  it("maps env valueFrom to the container as Kubernetes' EnvVarSource", () => {
    const env = aipEnvironment("fraud", {
      ...dm,
      containerSpec: {
        ...dm.containerSpec,
        env: [
          { name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: "hf", key: "token" } } },
          { name: "CONFIG", valueFrom: { configMapKeyRef: { name: "cfg", key: "c.json", optional: true } } },
          { name: "EMPTY" },
        ],
      },
    });
    expect(env.slice(0, 3)).toEqual([
      { name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: "hf", key: "token" } } },
      { name: "CONFIG", valueFrom: { configMapKeyRef: { name: "cfg", key: "c.json", optional: true } } },
      { name: "EMPTY", value: "" },
    ]);
  });
});

describe("owned objects", () => {
  it("builds the ReplicaSet <endpoint>-<id> with labels, owner, probe, resources and the AIP environment", () => {
    const rs = buildReplicaSet(endpoint, dm, 3, { poolSize: 5, lineage: ["m1"] });
    expect(rs.metadata?.name).toBe("fraud-m2");
    expect(rs.metadata?.ownerReferences).toEqual([
      {
        apiVersion: "serving.modelendpoint.io/v1alpha1",
        kind: "ModelEndpoint",
        name: "fraud",
        uid: "uid-1",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(rs.spec?.replicas).toBe(3);
    // The engine's memory, read back after a lost status.
    expect(rs.metadata?.annotations).toMatchObject({
      "serving.modelendpoint.io/pool-size": "5",
      "serving.modelendpoint.io/lineage": "m1",
    });
    expect(rs.spec?.selector.matchLabels).toEqual({
      "serving.modelendpoint.io/endpoint": "fraud",
      "serving.modelendpoint.io/deployed-model": "m2",
    });
    expect(rs.spec?.template?.metadata?.labels).toMatchObject({ "serving.modelendpoint.io/revision": "2" });
    // The serving label is the operator's to set per pod; the template never carries it.
    expect(rs.spec?.template?.metadata?.labels?.[LABEL_SERVING]).toBeUndefined();
    const pod = rs.spec?.template?.spec;
    expect(pod?.serviceAccountName).toBe("fraud-sa");
    const c = pod?.containers[0];
    expect(c?.image).toBe("registry.example/fraud:2.0");
    expect(c?.args).toEqual(["--workers", "2"]);
    expect(c?.readinessProbe?.httpGet).toEqual({ path: "/health", port: 9000 });
    expect(c?.ports).toEqual([{ name: "http", containerPort: 9000, protocol: "TCP" }]);
    expect(c?.resources).toEqual({ requests: { cpu: "2", memory: "7.5Gi" }, limits: { memory: "7.5Gi" } });
    expect(Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]))).toEqual({
      LOG_LEVEL: "info",
      AIP_HTTP_PORT: "9000",
      AIP_HEALTH_ROUTE: "/health",
      AIP_PREDICT_ROUTE: "/predict",
      AIP_DEPLOYED_MODEL_ID: "m2",
      AIP_ENDPOINT_ID: "fraud",
      AIP_MODEL_NAME: "fraud-detector",
      AIP_VERSION_NAME: "2",
      AIP_MODE: "PREDICTION",
      AIP_MODE_VERSION: "1.0.0",
      AIP_FRAMEWORK: "CUSTOM_CONTAINER",
      AIP_MACHINE_TYPE: "n1-standard-2",
      ENABLE_ACCESS_LOGGING: "true",
    });
  });

  it("gives the logging flags their meaning: log agents' opt-outs, and the access-log switch", () => {
    const quiet = buildReplicaSet(
      endpoint,
      { ...dm, disableContainerLogging: true, enableAccessLogging: false },
      1,
    );
    const template = quiet.spec?.template?.metadata;
    expect(template?.annotations?.["fluentbit.io/exclude"]).toBe("true");
    expect(template?.labels?.["vector.dev/exclude"]).toBe("true");
    expect(template?.annotations?.["serving.modelendpoint.io/container-logging"]).toBe("false");
    expect(quiet.spec?.selector.matchLabels).not.toHaveProperty("vector.dev/exclude");
    expect(
      quiet.spec?.template?.spec?.containers[0]?.env?.some((e) => e.name === "ENABLE_ACCESS_LOGGING"),
    ).toBe(false);
    const logged = buildReplicaSet(endpoint, dm, 1).spec?.template?.metadata;
    expect(logged?.annotations).not.toHaveProperty("fluentbit.io/exclude");
    expect(logged?.labels).not.toHaveProperty("vector.dev/exclude");
  });

  it("puts the serving label on the pod template only when asked, never on the selector", () => {
    const serving = buildReplicaSet(endpoint, dm, 3, {}, true);
    expect(serving.spec?.template?.metadata?.labels?.["serving.modelendpoint.io/serving"]).toBe("true");
    expect(serving.spec?.selector.matchLabels).not.toHaveProperty("serving.modelendpoint.io/serving");
    expect(serving.metadata?.labels).not.toHaveProperty("serving.modelendpoint.io/serving");
    const plain = buildReplicaSet(endpoint, dm, 3);
    expect(plain.spec?.template?.metadata?.labels).not.toHaveProperty("serving.modelendpoint.io/serving");
  });

  it("hardens every model pod, mounts an API token only for a named ServiceAccount, and runs as a configured non-root user", () => {
    const named = buildReplicaSet(endpoint, dm, 1).spec?.template?.spec;
    expect(named?.securityContext).toEqual({ seccompProfile: { type: "RuntimeDefault" } });
    expect(named?.containers[0]?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(named?.automountServiceAccountToken).toBe(true);
    const anonymous = buildReplicaSet(endpoint, { ...dm, serviceAccount: undefined }, 1).spec?.template?.spec;
    expect(anonymous?.automountServiceAccountToken).toBe(false);
    const asUser = buildReplicaSet(endpoint, dm, 1, {}, false, { runAsUser: 1000 }).spec?.template?.spec;
    expect(asUser?.securityContext).toEqual({
      seccompProfile: { type: "RuntimeDefault" },
      runAsNonRoot: true,
      runAsUser: 1000,
    });
  });

  it("gives a container with sharedMemorySizeMb a memory-backed /dev/shm of that size", () => {
    const pod = buildReplicaSet(
      endpoint,
      { ...dm, containerSpec: { ...dm.containerSpec, sharedMemorySizeMb: 2048 } },
      1,
    ).spec?.template?.spec;
    expect(pod?.volumes).toEqual([{ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "2048Mi" } }]);
    expect(pod?.containers[0]?.volumeMounts).toEqual([{ name: "dshm", mountPath: "/dev/shm" }]);
    const plain = buildReplicaSet(endpoint, dm, 1).spec?.template?.spec;
    expect(plain?.volumes).toBeUndefined();
    expect(plain?.containers[0]?.volumeMounts).toBeUndefined();
  });

  it("maps Vertex's probes: healthProbe is the readiness probe, startupProbe and livenessProbe only when given", () => {
    const plain = buildReplicaSet(endpoint, dm, 1).spec?.template?.spec?.containers[0];
    expect(plain?.readinessProbe).toEqual({
      httpGet: { path: "/health", port: 9000 },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 3,
      successThreshold: 1,
    });
    expect(plain?.startupProbe).toBeUndefined();
    expect(plain?.livenessProbe).toBeUndefined();
    const probed = buildReplicaSet(
      endpoint,
      {
        ...dm,
        containerSpec: {
          ...dm.containerSpec,
          healthProbe: { exec: { command: ["/bin/ready"] }, periodSeconds: 10 },
          startupProbe: { httpGet: { path: "/loaded" }, failureThreshold: 60 },
          livenessProbe: { grpc: { port: 9001, service: "health" } },
        },
      },
      1,
    ).spec?.template?.spec?.containers[0];
    expect(probed?.readinessProbe).toEqual({
      exec: { command: ["/bin/ready"] },
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
      successThreshold: 1,
    });
    expect(probed?.startupProbe).toEqual({ httpGet: { path: "/loaded", port: 9000 }, failureThreshold: 60 });
    expect(probed?.livenessProbe).toEqual({ grpc: { port: 9001, service: "health" } });
    expect(kubeProbe({ tcpSocket: {} }, "/h", 8080)).toEqual({ tcpSocket: { port: 8080 } });
    expect(
      kubeProbe(
        { httpGet: { port: 8443, scheme: "HTTPS", httpHeaders: [{ name: "x", value: "1" }] } },
        "/h",
        80,
      ),
    ).toEqual({
      httpGet: { path: "/h", port: 8443, scheme: "HTTPS", httpHeaders: [{ name: "x", value: "1" }] },
    });
  });

  it("names a gRPC port on the container and on the model's Service (h2c), when the container has one", () => {
    const container = buildReplicaSet(
      endpoint,
      { ...dm, containerSpec: { ...dm.containerSpec, grpcPorts: [{ containerPort: 8500 }] } },
      1,
    ).spec?.template?.spec?.containers[0];
    expect(container?.ports).toEqual([
      { name: "http", containerPort: 9000, protocol: "TCP" },
      { name: "grpc", containerPort: 8500, protocol: "TCP" },
    ]);
    expect(buildModelService(endpoint, "m2", { grpc: 8500 }).spec?.ports).toEqual([
      { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
      { name: "grpc", port: 8500, targetPort: "grpc", protocol: "TCP", appProtocol: "kubernetes.io/h2c" },
    ]);
    expect(buildModelService(endpoint, "m2").spec?.ports).toHaveLength(1);
  });

  it("leaves out what the spec leaves out and defaults the port to 8080", () => {
    const rs = buildReplicaSet(
      endpoint,
      { ...dm, containerSpec: { imageUri: "x:1" }, resources: {}, serviceAccount: undefined },
      1,
    );
    const c = rs.spec?.template?.spec?.containers[0];
    expect(rs.spec?.template?.spec?.serviceAccountName).toBeUndefined();
    expect(c?.resources).toBeUndefined();
    expect(c?.command).toBeUndefined();
    expect(c?.ports?.[0]?.containerPort).toBe(8080);
  });

  it("keeps an AIP_* value the user set", () => {
    const env = aipEnvironment("fraud", {
      ...dm,
      containerSpec: { ...dm.containerSpec, env: [{ name: "AIP_MODE", value: "CUSTOM" }] },
    });
    expect(env.filter((e) => e.name === "AIP_MODE")).toEqual([{ name: "AIP_MODE", value: "CUSTOM" }]);
  });

  it("passes containerSpec.artifactUri as AIP_STORAGE_URI, and nothing without one", () => {
    const env = aipEnvironment("fraud", {
      ...dm,
      containerSpec: { ...dm.containerSpec, artifactUri: "gs://models/fraud/2" },
    });
    expect(env.filter((e) => e.name === "AIP_STORAGE_URI")).toEqual([
      { name: "AIP_STORAGE_URI", value: "gs://models/fraud/2" },
    ]);
    expect(aipEnvironment("fraud", dm).some((e) => e.name === "AIP_STORAGE_URI")).toBe(false);
  });

  it("splits model name and version", () => {
    expect(splitModel("fraud-detector@2")).toEqual({ name: "fraud-detector", version: "2" });
    expect(splitModel("fraud-detector")).toEqual({ name: "fraud-detector", version: "" });
  });

  it("builds the endpoint Service over serving pods and a Service per model", () => {
    const svc = buildEndpointService(endpoint);
    expect(svc.metadata?.name).toBe("fraud");
    expect(svc.spec?.selector).toEqual({
      "serving.modelendpoint.io/endpoint": "fraud",
      [LABEL_SERVING]: "true",
    });
    expect(svc.spec?.ports).toEqual([{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
    const per = buildModelService(endpoint, "m2");
    expect(per.metadata?.name).toBe("fraud-m2");
    expect(per.metadata?.labels?.["serving.modelendpoint.io/deployed-model"]).toBe("m2");
    expect(per.spec?.selector).toEqual({
      "serving.modelendpoint.io/endpoint": "fraud",
      "serving.modelendpoint.io/deployed-model": "m2",
    });
  });
});
