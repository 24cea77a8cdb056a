/**
 * The official Node SDK (`@google-cloud/aiplatform`) against the Vertex AI API server: its
 * EndpointServiceClient, ModelServiceClient and PredictionServiceClient in REST mode, pointed at a
 * server beside the operator, authenticated with a Kubernetes ServiceAccount token. Every call goes
 * through the SDK's own request encoding, response decoding and long-running-operation polling;
 * failures must reach the caller as the SDK's errors with the right gRPC code.
 */
import {
  EndpointServiceClient,
  ModelServiceClient,
  PredictionServiceClient,
  v1beta1,
  type protos,
} from "@google-cloud/aiplatform";
import { OAuth2Client } from "google-auth-library";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { MODEL_SERVER_IMAGE } from "../../src/testing/process-kubelet.ts";
import { eventually } from "./context.ts";
import { kubectl } from "./endpoints.ts";
import type { OperatorProcess } from "./operator-process.ts";
import { startSuite, stopSuite } from "./suite.ts";
import { VertexServers } from "./vertex-server.ts";

type Endpoint = protos.google.cloud.aiplatform.v1beta1.IEndpoint;

const LOCATION = "us-central1";
/** The gRPC codes the SDK's errors carry. */
const CODE = {
  CANCELLED: 1,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  FAILED_PRECONDITION: 9,
  UNAUTHENTICATED: 16,
} as const;
/** Seconds a rolling deployment may make no progress before it reverts (the server's default). */
const DEADLINE_SECONDS = 10;

let ns = "";
let operator: OperatorProcess;
const servers = new VertexServers();
let port = 0;
let token = "";

/** An auth client that sends `bearer` (a Kubernetes token) as the SDK's access token. */
function bearerAuth(bearer: string): OAuth2Client {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: bearer });
  return auth;
}

/** The SDK's options for the local server: REST (fallback) over plain HTTP. */
function clientOptions(auth: OAuth2Client = bearerAuth(token)) {
  return { apiEndpoint: "127.0.0.1", port, protocol: "http", fallback: true, authClient: auth } as const;
}

let endpoints: EndpointServiceClient;
/** v1beta1: rolloutOptions is a v1beta1 field. */
let rollouts: v1beta1.EndpointServiceClient;
/**
 * GetEndpointRequest has no allDeploymentStates field, so the SDK cannot ask for it: this client's
 * auth adds the query parameter to every request it sends (a gaxios interceptor).
 */
let allStates: v1beta1.EndpointServiceClient;
let models: ModelServiceClient;
let predictions: PredictionServiceClient;

const parent = (): string => `projects/${ns}/locations/${LOCATION}`;
const endpointName = (): string => `${parent()}/endpoints/fraud`;
const modelName = (version?: number): string =>
  `${parent()}/models/fraud-detector${version === undefined ? "" : `@${String(version)}`}`;

/** The ServiceAccount the SDK acts as: it may manage endpoints and models, and read EndpointSlices. */
async function serviceAccountToken(): Promise<string> {
  await kubectl(["create", "serviceaccount", "sdk", "-n", ns]);
  const role = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "vertex-sdk", namespace: ns },
    rules: [
      {
        apiGroups: ["serving.modelendpoint.io"],
        resources: ["modelendpoints", "models"],
        verbs: ["get", "list", "create", "update", "delete"],
      },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list"] },
    ],
  };
  await kubectl(["apply", "-f", "-"], JSON.stringify(role));
  await kubectl([
    "create",
    "rolebinding",
    "vertex-sdk",
    "-n",
    ns,
    "--role=vertex-sdk",
    `--serviceaccount=${ns}:sdk`,
  ]);
  return (await kubectl(["create", "token", "sdk", "-n", ns])).trim();
}

beforeAll(async () => {
  ({ ns, operator } = await startSuite("vertex-sdk"));
  await kubectl(["wait", "--for=condition=Established", "crd/models.serving.modelendpoint.io"]);
  token = await serviceAccountToken();
  ({ port } = await servers.start([`--progress-deadline-seconds=${String(DEADLINE_SECONDS)}`]));
  endpoints = new EndpointServiceClient(clientOptions());
  rollouts = new v1beta1.EndpointServiceClient(clientOptions());
  const withAllStates = bearerAuth(token);
  withAllStates.transporter.interceptors.request.add({
    resolved: (request) => {
      request.url.searchParams.set("allDeploymentStates", "true");
      return Promise.resolve(request);
    },
  });
  allStates = new v1beta1.EndpointServiceClient(clientOptions(withAllStates));
  models = new ModelServiceClient(clientOptions());
  predictions = new PredictionServiceClient(clientOptions());
});

afterAll(async () => {
  await Promise.all([endpoints, rollouts, allStates, models, predictions].map((c) => c.close()));
  servers.stop();
  await stopSuite(operator);
});

const ids = (endpoint: Endpoint): string[] => (endpoint.deployedModels ?? []).map((m) => m.id ?? "");

async function getEndpoint(client: v1beta1.EndpointServiceClient = rollouts): Promise<Endpoint> {
  const [endpoint] = await client.getEndpoint({ name: endpointName() });
  return endpoint;
}

/** A prediction through PredictionService: which deployed model answered, and its version. */
async function predict(): Promise<{ deployedModelId: string; modelVersionId: string; count: number }> {
  const [answer] = await predictions.predict({
    endpoint: endpointName(),
    instances: [{ listValue: { values: [{ numberValue: 1 }, { numberValue: 2 }] } }],
  });
  return {
    deployedModelId: answer.deployedModelId ?? "",
    modelVersionId: answer.modelVersionId ?? "",
    count: answer.predictions?.length ?? 0,
  };
}

/** Starts a rolling deployment of `version` onto `previous`; the operation, and the new model's id. */
async function rollOut(
  version: number,
  previous: string,
  budgets: Omit<protos.google.cloud.aiplatform.v1beta1.IRolloutOptions, "previousDeployedModel">,
) {
  const before = ids(await getEndpoint(allStates));
  const [operation] = await rollouts.deployModel({
    endpoint: endpointName(),
    deployedModel: {
      model: modelName(version),
      rolloutOptions: { previousDeployedModel: previous, ...budgets },
    },
  });
  const id = ids(await getEndpoint(allStates)).find((m) => !before.includes(m)) ?? "";
  return { operation, id };
}

describe("the official Node SDK against the Vertex AI API server", () => {
  /** The deployed models, in the order they are deployed. */
  let first = "";
  let second = "";
  let third = "";
  let rollback = "";
  let other = "";

  it("refuses a token the cluster does not accept with UNAUTHENTICATED", async () => {
    const stranger = new EndpointServiceClient(clientOptions(bearerAuth("not-a-kubernetes-token")));
    await expect(stranger.listEndpoints({ parent: parent() })).rejects.toMatchObject({
      code: CODE.UNAUTHENTICATED,
    });
    await stranger.close();
  });

  it("uploads a model and three more versions (parentModel), each through its operation", async () => {
    const container = (tag: string, env: { name: string; value: string }[] = []) => ({
      imageUri: `${MODEL_SERVER_IMAGE}:${tag}`,
      predictRoute: "/predict",
      healthRoute: "/health",
      // Probed every second (the default is 5 s): a replica is Ready about a second after its
      // server listens, well inside the 10 s progress deadline even when a probe misses the start.
      healthProbe: { periodSeconds: 1 },
      env,
    });
    const versions = [
      container("1.0"),
      container("2.0"),
      container("3.0", [{ name: "MODEL_SERVER_UNHEALTHY", value: "true" }]),
      container("4.0"),
    ];
    for (const [i, containerSpec] of versions.entries()) {
      const [operation] = await models.uploadModel({
        parent: parent(),
        ...(i === 0 ? { modelId: "fraud-detector" } : { parentModel: modelName() }),
        model: { displayName: "Fraud detector", containerSpec },
      });
      const [uploaded] = await operation.promise();
      expect(uploaded).toMatchObject({ model: modelName(), modelVersionId: String(i + 1) });
    }
    const [listed] = await models.listModelVersions({ name: modelName() });
    expect(listed.map((m) => m.versionId)).toEqual(["1", "2", "3", "4"]);
    const [version] = await models.getModel({ name: modelName(3) });
    expect(version).toMatchObject({
      versionId: "3",
      containerSpec: { env: [{ name: "MODEL_SERVER_UNHEALTHY", value: "true" }] },
    });
  });

  it("creates an endpoint and deploys version 1 on 2 replicas, waiting on both operations", async () => {
    const [created] = await endpoints.createEndpoint({
      parent: parent(),
      endpointId: "fraud",
      endpoint: { displayName: "Fraud scoring" },
    });
    const [endpoint] = await created.promise();
    expect(endpoint).toMatchObject({ name: endpointName(), displayName: "Fraud scoring" });

    const [deploy] = await endpoints.deployModel({
      endpoint: endpointName(),
      deployedModel: {
        model: modelName(1),
        dedicatedResources: {
          machineSpec: { machineType: "n1-standard-2" },
          minReplicaCount: 2,
          maxReplicaCount: 2,
        },
      },
      trafficSplit: { "0": 100 },
    });
    const [deployed, metadata] = await deploy.promise();
    expect(deployed.deployedModel).toMatchObject({ model: modelName(), modelVersionId: "1" });
    expect(metadata.genericMetadata?.createTime).toBeTruthy();
    first = deployed.deployedModel?.id ?? "";
    expect(first).toMatch(/^\d{16}$/);
    expect((await getEndpoint()).trafficSplit).toEqual({ [first]: 100 });
  });

  it("rolls out version 2 with replica budgets: hidden from getEndpoint until DEPLOYED, listed with allDeploymentStates", async () => {
    const { operation, id } = await rollOut(2, first, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    second = id;
    expect(second).not.toBe("");
    expect(operation.done).toBe(false);
    expect(ids(await getEndpoint())).toEqual([first]);
    expect(ids(await getEndpoint(allStates))).toEqual([first, second]);

    const [result] = await operation.promise();
    expect(result.deployedModel).toMatchObject({
      id: second,
      modelVersionId: "2",
      rolloutOptions: { previousDeployedModel: first, revisionNumber: 2 },
    });
    expect((await getEndpoint()).trafficSplit).toEqual({ [second]: 100 });
    expect(await predict()).toEqual({ deployedModelId: second, modelVersionId: "2", count: 1 });
    const [model] = await models.getModel({ name: modelName(2) });
    expect(model.deployedModels).toEqual([
      expect.objectContaining({ endpoint: endpointName(), deployedModelId: second }),
    ]);
  });

  it("rolls out version 4 with percentage budgets, waiting on the operation", async () => {
    const { operation, id } = await rollOut(4, second, {
      maxSurgePercentage: 50,
      maxUnavailablePercentage: 0,
    });
    third = id;
    const [result] = await operation.promise();
    expect(result.deployedModel).toMatchObject({
      id: third,
      modelVersionId: "4",
      rolloutOptions: { revisionNumber: 3 },
    });
    expect(await predict()).toMatchObject({ deployedModelId: third, modelVersionId: "4" });
  });

  it("a version that never becomes Ready: the operation rejects with the revert reason, the previous model keeps serving", async () => {
    const { operation } = await rollOut(3, third, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    await expect(operation.promise()).rejects.toMatchObject({
      code: CODE.DEADLINE_EXCEEDED,
      message: expect.stringContaining("ProgressDeadlineExceeded"),
    });
    expect(await predict()).toMatchObject({ deployedModelId: third, modelVersionId: "4" });
    expect(ids(await getEndpoint())).toEqual([third]);
  });

  it("rolls back onto an in-progress rolling deployment", async () => {
    const stuck = await rollOut(3, third, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    // The operator has taken up the never-Ready version: it is in progress.
    await eventually(`deployed model ${stuck.id} in progress`, async () => {
      const model = (await getEndpoint(allStates)).deployedModels?.find((m) => m.id === stuck.id);
      return model?.createTime !== undefined && model.createTime !== null;
    });
    const back = await rollOut(4, stuck.id, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    rollback = back.id;
    const [result] = await back.operation.promise();
    expect(result.deployedModel).toMatchObject({
      id: rollback,
      modelVersionId: "4",
      rolloutOptions: { previousDeployedModel: stuck.id },
    });
    expect(await predict()).toMatchObject({ deployedModelId: rollback, modelVersionId: "4" });
    expect((await getEndpoint()).trafficSplit).toEqual({ [rollback]: 100 });
  });

  it("cancelling a rolling deployment's operation rolls it back: the promise rejects CANCELLED, the previous model serves", async () => {
    const stuck = await rollOut(3, rollback, { maxSurgeReplicas: 1, maxUnavailableReplicas: 0 });
    await eventually(`deployed model ${stuck.id} in progress`, async () => {
      const model = (await getEndpoint(allStates)).deployedModels?.find((m) => m.id === stuck.id);
      return model?.createTime !== undefined && model.createTime !== null;
    });
    await stuck.operation.cancel();
    await expect(stuck.operation.promise()).rejects.toMatchObject({
      code: CODE.CANCELLED,
      message: expect.stringContaining(`deployed model ${stuck.id} was cancelled`),
    });
    // The rollback the cancel started: version 4 again, onto the cancelled deployment.
    let serving: string[] = [];
    await eventually("the rollback of the cancelled deployment DEPLOYED", async () => {
      serving = ids(await getEndpoint());
      return serving.length === 1 && serving[0] !== rollback;
    });
    const [heir] = (await getEndpoint()).deployedModels ?? [];
    expect(heir).toMatchObject({ modelVersionId: "4", rolloutOptions: { previousDeployedModel: stuck.id } });
    rollback = heir?.id ?? "";
    expect(await predict()).toMatchObject({ deployedModelId: rollback, modelVersionId: "4" });
  });

  it("mutateDeployedModel changes the replicas of a chain through its first model only", async () => {
    const mutate = (id: string, replicas: number) =>
      endpoints.mutateDeployedModel({
        endpoint: endpointName(),
        deployedModel: { id, dedicatedResources: { minReplicaCount: replicas, maxReplicaCount: replicas } },
        updateMask: {
          paths: ["dedicated_resources.min_replica_count", "dedicated_resources.max_replica_count"],
        },
      });
    await expect(mutate(rollback, 1)).rejects.toMatchObject({
      code: CODE.FAILED_PRECONDITION,
      message: expect.stringContaining("mutate the chain's first model"),
    });
    const [operation] = await mutate(first, 1);
    const [result] = await operation.promise();
    expect(result.deployedModel).toMatchObject({ id: first, dedicatedResources: { minReplicaCount: 1 } });
    await eventually(`the chain at 1 replica`, async () => {
      const serving = (await getEndpoint()).deployedModels?.find((m) => m.id === rollback);
      return (
        serving?.dedicatedResources?.minReplicaCount === 1 && serving.status?.availableReplicaCount === 1
      );
    });
  });

  it("updateEndpoint splits the traffic between deployed models, keyed by their ids", async () => {
    const [deploy] = await endpoints.deployModel({
      endpoint: endpointName(),
      deployedModel: { model: modelName(2), dedicatedResources: { minReplicaCount: 1, maxReplicaCount: 1 } },
      trafficSplit: { "0": 0, [rollback]: 100 },
    });
    const [deployed] = await deploy.promise();
    other = deployed.deployedModel?.id ?? "";
    const [updated] = await endpoints.updateEndpoint({
      endpoint: { name: endpointName(), trafficSplit: { [rollback]: 50, [other]: 50 } },
      updateMask: { paths: ["traffic_split"] },
    });
    expect(ids(updated)).toEqual(expect.arrayContaining([rollback, other]));
    await eventually("the effective split at 50/50", async () => {
      const split = (await getEndpoint()).trafficSplit;
      return split?.[rollback] === 50 && split[other] === 50;
    });
    const answered = new Set<string>();
    await eventually("predictions answered by both models", async () => {
      answered.add((await predict()).deployedModelId);
      return answered.size === 2;
    });
    expect([...answered].sort()).toEqual([rollback, other].sort());
  });

  it("undeployModel is refused while the model has traffic, and allowed with a trafficSplit that moves it", async () => {
    await expect(
      endpoints.undeployModel({ endpoint: endpointName(), deployedModelId: other }),
    ).rejects.toMatchObject({ code: CODE.FAILED_PRECONDITION, message: expect.stringContaining("50%") });
    const [operation] = await endpoints.undeployModel({
      endpoint: endpointName(),
      deployedModelId: other,
      trafficSplit: { [rollback]: 100 },
    });
    await operation.promise();
    const endpoint = await getEndpoint(allStates);
    expect(ids(endpoint)).not.toContain(other);
    expect(endpoint.trafficSplit).toEqual({ [rollback]: 100 });
    expect(await predict()).toMatchObject({ deployedModelId: rollback });
  });

  it("deleteEndpoint is refused while a model is deployed; the last model undeploys whatever its share, its chain with it; then the delete", async () => {
    await expect(endpoints.deleteEndpoint({ name: endpointName() })).rejects.toMatchObject({
      code: CODE.FAILED_PRECONDITION,
      message: expect.stringContaining(`${rollback}: DEPLOYED`),
    });
    const [undeploy] = await endpoints.undeployModel({ endpoint: endpointName(), deployedModelId: rollback });
    await undeploy.promise();
    // The REPLACED and FAILED revisions of its chain went with it: none is deployed again.
    const empty = await getEndpoint(allStates);
    expect(ids(empty)).toEqual([]);
    expect(empty.trafficSplit ?? {}).toEqual({});
    const [operation] = await endpoints.deleteEndpoint({ name: endpointName() });
    await operation.promise();
    await expect(endpoints.getEndpoint({ name: endpointName() })).rejects.toMatchObject({
      code: CODE.NOT_FOUND,
    });
  });
});
