/**
 * The Vertex AI REST API (src/vertex) as a process in local mode against the suite's control plane,
 * with the operator running: the documented rolling-deployment calls, sent as plain HTTP with the
 * documentation's bodies (string-typed numbers included), do on a ModelEndpoint what they do on
 * Vertex AI; predictions reach the reference model server running as the pods; bad requests get
 * specific errors and write nothing.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { MODEL_SERVER_IMAGE } from "../../src/testing/process-kubelet.ts";
import { eventually } from "./context.ts";
import { kubectl } from "./endpoints.ts";
import type { OperatorProcess } from "./operator-process.ts";
import { startSuite, stopSuite } from "./suite.ts";
import { get, VertexServers } from "./vertex-server.ts";

const LOCATION = "us-central1";

let ns = "";
let operator: OperatorProcess;
let api = "";
const servers = new VertexServers();

interface Operation {
  name: string;
  done?: boolean;
  error?: { code: number; message: string };
  response?: Record<string, unknown>;
  metadata?: { "@type": string; genericMetadata?: object };
}

beforeAll(async () => {
  ({ ns, operator } = await startSuite("vertex"));
  await kubectl(["wait", "--for=condition=Established", "crd/models.serving.modelendpoint.io"]);
  ({ url: api } = await servers.start(["--local"]));
});

afterAll(async () => {
  servers.stop();
  await stopSuite(operator);
});

/** The endpoint's resourceVersion: unchanged when nothing was written. */
const resourceVersion = (): Promise<string> =>
  kubectl(["get", "modelendpoint", "fraud", "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}"]);

const parent = (): string => `projects/${ns}/locations/${LOCATION}`;

async function call(
  method: string,
  path: string,
  body?: unknown,
  options: { base?: string; token?: string } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${options.base ?? api}/${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Waits for a long-running operation to be done (polling GET, as the client libraries do). */
async function done(operation: Operation): Promise<Operation> {
  let last = operation;
  await eventually(
    `operation ${operation.name} done`,
    async () => {
      last = (await call("GET", `v1/${operation.name}`)).json as unknown as Operation;
      return last.done === true;
    },
    { timeoutMs: 120_000, describe: () => Promise.resolve(JSON.stringify(last)) },
  );
  return last;
}

/**
 * Uploads fraud-detector with three versions of the reference model server (ModelService.upload,
 * the second and third with parentModel); version 3 never passes its health check.
 */
async function uploadModel(): Promise<void> {
  const container = (tag: string, env: object[] = []) => ({
    imageUri: `${MODEL_SERVER_IMAGE}:${tag}`,
    predictRoute: "/predict",
    healthRoute: "/health",
    ...(env.length === 0 ? {} : { env }),
  });
  const versions = [
    container("1.0"),
    container("2.0"),
    container("3.0", [{ name: "MODEL_SERVER_UNHEALTHY", value: "true" }]),
  ];
  for (const [i, containerSpec] of versions.entries()) {
    const uploaded = await call("POST", `v1/${parent()}/models:upload`, {
      ...(i === 0 ? { modelId: "fraud-detector" } : { parentModel: `${parent()}/models/fraud-detector` }),
      model: { displayName: "Fraud detector", containerSpec },
    });
    expect(uploaded.status).toBe(200);
    expect(uploaded.json).toMatchObject({
      done: true,
      response: { model: `${parent()}/models/fraud-detector`, modelVersionId: String(i + 1) },
    });
  }
}

describe("the Vertex AI REST API", () => {
  let first = "";

  it("creates an endpoint and deploys a model on it: the operations end done", async () => {
    await uploadModel();
    const versions = await call("GET", `v1/${parent()}/models/fraud-detector:listVersions`);
    expect((versions.json["models"] as { versionId: string }[]).map((m) => m.versionId)).toEqual([
      "1",
      "2",
      "3",
    ]);
    const created = await call("POST", `v1/${parent()}/endpoints?endpointId=fraud`, {
      displayName: "Fraud scoring",
    });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({
      done: true,
      response: { name: `${parent()}/endpoints/fraud`, displayName: "Fraud scoring" },
    });

    const deployed = await call("POST", `v1/${parent()}/endpoints/fraud:deployModel`, {
      deployedModel: {
        model: `${parent()}/models/fraud-detector@1`,
        dedicatedResources: {
          machineSpec: { machineType: "n1-standard-2" },
          minReplicaCount: "2",
          maxReplicaCount: "2",
        },
      },
      trafficSplit: { "0": 100 },
    });
    expect(deployed.status).toBe(200);
    const op = deployed.json as unknown as Operation;
    expect(op.name).toMatch(new RegExp(`^${parent()}/endpoints/fraud/operations/\\d+$`));
    expect(op.metadata?.["@type"]).toBe(
      "type.googleapis.com/google.cloud.aiplatform.v1.DeployModelOperationMetadata",
    );
    const end = await done(op);
    const model = (end.response as { deployedModel: { id: string; model: string; modelVersionId: string } })
      .deployedModel;
    expect(model).toMatchObject({ model: `${parent()}/models/fraud-detector`, modelVersionId: "1" });
    expect(model.id).toMatch(/^\d{16}$/);
    first = model.id;
    const endpoint = await call("GET", `v1/${parent()}/endpoints/fraud`);
    expect(endpoint.json).toMatchObject({ trafficSplit: { [first]: 100 }, deployedModels: [{ id: first }] });
  });

  it("rolls out version 2 with the documented body; GET hides it until it is DEPLOYED unless allDeploymentStates", async () => {
    const rolled = await call("POST", `v1beta1/${parent()}/endpoints/fraud:deployModel`, {
      deployedModel: {
        model: `${parent()}/models/fraud-detector@2`,
        rolloutOptions: { previousDeployedModel: first, maxSurgeReplicas: "1", maxUnavailableReplicas: "0" },
      },
    });
    expect(rolled.status).toBe(200);
    const op = rolled.json as unknown as Operation;
    expect(op.done).toBe(false);
    const all = await call("GET", `v1beta1/${parent()}/endpoints/fraud?allDeploymentStates=true`);
    const ids = (all.json["deployedModels"] as { id: string }[]).map((m) => m.id);
    expect(ids).toHaveLength(2);
    const second = ids.find((id) => id !== first) ?? "";
    const visible = await call("GET", `v1beta1/${parent()}/endpoints/fraud`);
    expect((visible.json["deployedModels"] as { id: string }[]).map((m) => m.id)).toEqual([first]);
    const end = await done(op);
    expect(end.error).toBeUndefined();
    expect(end.response).toMatchObject({
      deployedModel: { id: second, modelVersionId: "2", rolloutOptions: { revisionNumber: 2 } },
    });
    const after = await call("GET", `v1/${parent()}/endpoints/fraud`);
    expect(after.json).toMatchObject({ trafficSplit: { [second]: 100 } });

    // Predictions reach the pods of the model with traffic (the reference model server).
    const predicted = await call("POST", `v1/${parent()}/endpoints/fraud:predict`, { instances: [[1, 2]] });
    expect(predicted.status).toBe(200);
    expect(predicted.json).toMatchObject({
      deployedModelId: second,
      model: `${parent()}/models/fraud-detector`,
      modelVersionId: "2",
    });
    expect(predicted.json["predictions"]).toHaveLength(1);
  });

  it("a version that never becomes Ready: the operation ends in error and the previous model keeps serving", async () => {
    const current = (await call("GET", `v1/${parent()}/endpoints/fraud`)).json["deployedModels"] as {
      id: string;
    }[];
    const previous = current[0]?.id ?? "";
    const rolled = await call("POST", `v1/${parent()}/endpoints/fraud:deployModel`, {
      deployedModel: {
        model: `${parent()}/models/fraud-detector@3`,
        rolloutOptions: {
          previousDeployedModel: previous,
          maxSurgeReplicas: 1,
          progressDeadlineSeconds: "10",
        },
      },
    });
    expect(rolled.status).toBe(200);
    const end = await done(rolled.json as unknown as Operation);
    expect(end.error?.code).toBe(4);
    expect(end.error?.message).toContain("ProgressDeadlineExceeded");
    const predicted = await call("POST", `v1/${parent()}/endpoints/fraud:predict`, { instances: [[1]] });
    expect(predicted.json).toMatchObject({ deployedModelId: previous });
  });

  it("refuses bad requests with a specific error and writes nothing", async () => {
    const before = await resourceVersion();
    const cases: [string, string, unknown, number, string, RegExp][] = [
      [
        "POST",
        `v1/${parent()}/endpoints/fraud:deployModel`,
        "{not json",
        400,
        "INVALID_ARGUMENT",
        /not JSON/,
      ],
      [
        "POST",
        `v1/${parent()}/endpoints/fraud:deployModel`,
        {
          deployedModel: {
            model: `${parent()}/models/fraud-detector@1`,
            rolloutOptions: { previousDeployedModel: "x", maxSurgeReplica: 1 },
          },
        },
        400,
        "INVALID_ARGUMENT",
        /maxSurgeReplica/,
      ],
      [
        "POST",
        `v1/${parent()}/endpoints/fraud:deployModel`,
        {
          deployedModel: {
            model: `${parent()}/models/fraud-detector@9`,
            rolloutOptions: { previousDeployedModel: "x" },
          },
        },
        404,
        "NOT_FOUND",
        /9/,
      ],
      ["POST", `v1/${parent()}/endpoints/fraud:explain`, {}, 501, "UNIMPLEMENTED", /explain/],
      [
        "GET",
        `v1/projects/${ns}/locations/europe-west4/endpoints/fraud`,
        undefined,
        404,
        "NOT_FOUND",
        /europe-west4/,
      ],
      [
        "POST",
        `v1/${parent()}/endpoints?endpointId=Bad_Id`,
        { displayName: "x" },
        400,
        "INVALID_ARGUMENT",
        /endpointId/,
      ],
      ["GET", `v1/${parent()}/endpoints/nope`, undefined, 404, "NOT_FOUND", /nope/],
      [
        "POST",
        `v1/${parent()}/endpoints/fraud:deployModel`,
        "x".repeat(2_000_000),
        400,
        "INVALID_ARGUMENT",
        /larger than/,
      ],
    ];
    for (const [method, path, body, status, code, message] of cases) {
      const res = await call(method, path, body);
      const error = res.json["error"] as { status: string; message: string; code: number };
      expect({ path, status: res.status, code: error.status }).toEqual({ path, status, code });
      expect(error.message).toMatch(message);
    }
    expect(await resourceVersion()).toBe(before);
  });

  it("acts as the caller's bearer token: 401 without one, PERMISSION_DENIED outside what its RBAC allows", async () => {
    const { url: shared } = await servers.start([]);
    // A ServiceAccount that may read endpoints in this namespace only.
    await kubectl(["create", "serviceaccount", "reader", "-n", ns]);
    await kubectl([
      "create",
      "role",
      "endpoint-reader",
      "-n",
      ns,
      "--verb=get,list",
      "--resource=modelendpoints.serving.modelendpoint.io",
    ]);
    await kubectl([
      "create",
      "rolebinding",
      "endpoint-reader",
      "-n",
      ns,
      "--role=endpoint-reader",
      `--serviceaccount=${ns}:reader`,
    ]);
    const token = (await kubectl(["create", "token", "reader", "-n", ns])).trim();

    const anonymous = await call("GET", `v1/${parent()}/endpoints/fraud`, undefined, { base: shared });
    expect(anonymous.status).toBe(401);
    expect(anonymous.json["error"]).toMatchObject({ status: "UNAUTHENTICATED" });

    const read = await call("GET", `v1/${parent()}/endpoints/fraud`, undefined, { base: shared, token });
    expect(read.status).toBe(200);
    expect(read.json["name"]).toBe(`${parent()}/endpoints/fraud`);

    const elsewhere = await call("GET", `v1/projects/default/locations/${LOCATION}/endpoints`, undefined, {
      base: shared,
      token,
    });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.json["error"]).toMatchObject({ status: "PERMISSION_DENIED" });

    const version = await resourceVersion();
    const write = await call(
      "PATCH",
      `v1/${parent()}/endpoints/fraud?updateMask=displayName`,
      { displayName: "renamed" },
      { base: shared, token },
    );
    expect(write.status).toBe(403);
    expect(write.json["error"]).toMatchObject({ status: "PERMISSION_DENIED" });
    expect(await resourceVersion()).toBe(version);
  });

  it("tells where a model version is deployed, and refuses to delete a deployed model", async () => {
    const endpoint = await call("GET", `v1/${parent()}/endpoints/fraud`);
    const [serving] = endpoint.json["deployedModels"] as { id: string; modelVersionId: string }[];
    const model = await call("GET", `v1/${parent()}/models/fraud-detector@${serving?.modelVersionId ?? ""}`);
    expect(model.json).toMatchObject({
      name: `${parent()}/models/fraud-detector`,
      deployedModels: [{ endpoint: `${parent()}/endpoints/fraud`, deployedModelId: serving?.id }],
    });
    const refused = await call("DELETE", `v1/${parent()}/models/fraud-detector`);
    expect(refused.status).toBe(400);
    expect(refused.json["error"]).toMatchObject({ status: "FAILED_PRECONDITION" });
    expect((refused.json["error"] as { message: string }).message).toContain("undeploy it first");
    expect((await call("GET", `v1/${parent()}/models/fraud-detector`)).status).toBe(200);
  });

  it("deploys onto GPUs: acceleratorType by name or number is stored and shown back, and one the machine does not take is refused", async () => {
    const created = await call("POST", `v1/${parent()}/endpoints?endpointId=gpu`, { displayName: "GPU" });
    expect(created.status).toBe(200);
    // As the client libraries send it with enum-encoding=int: NVIDIA_TESLA_T4 is 5.
    const deployed = await call(
      "POST",
      `v1/${parent()}/endpoints/gpu:deployModel?$alt=json;enum-encoding=int`,
      {
        deployedModel: {
          model: `${parent()}/models/fraud-detector@1`,
          dedicatedResources: {
            machineSpec: { machineType: "n1-standard-4", acceleratorType: 5, acceleratorCount: "2" },
            minReplicaCount: "1",
          },
        },
      },
    );
    expect(deployed.status).toBe(200);
    const stored = await kubectl([
      "get",
      "modelendpoint",
      "gpu",
      "-n",
      ns,
      "-o",
      "jsonpath={.spec.deployedModels[0].dedicatedResources.machineSpec}",
    ]);
    expect(JSON.parse(stored)).toEqual({
      machineType: "n1-standard-4",
      acceleratorType: "NVIDIA_TESLA_T4",
      acceleratorCount: 2,
    });
    const shown = await call("GET", `v1/${parent()}/endpoints/gpu?allDeploymentStates=true`);
    expect(shown.json["deployedModels"]).toMatchObject([
      {
        dedicatedResources: {
          machineSpec: {
            machineType: "n1-standard-4",
            acceleratorType: "NVIDIA_TESLA_T4",
            acceleratorCount: 2,
          },
        },
      },
    ]);

    const before = await kubectl([
      "get",
      "modelendpoint",
      "gpu",
      "-n",
      ns,
      "-o",
      "jsonpath={.metadata.resourceVersion}",
    ]);
    const refused = await call("POST", `v1/${parent()}/endpoints/gpu:deployModel`, {
      deployedModel: {
        model: `${parent()}/models/fraud-detector@1`,
        dedicatedResources: {
          machineSpec: { machineType: "n1-standard-2", acceleratorType: "NVIDIA_L4", acceleratorCount: 1 },
          minReplicaCount: 1,
        },
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.json["error"]).toMatchObject({ status: "INVALID_ARGUMENT" });
    expect((refused.json["error"] as { message: string }).message).toContain(
      "acceleratorType NVIDIA_L4 cannot be used on n1-standard-2",
    );
    expect(
      await kubectl(["get", "modelendpoint", "gpu", "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}"]),
    ).toBe(before);
    await kubectl(["delete", "modelendpoint", "gpu", "-n", ns]);
  });

  it("serves HTTPS with --tls-cert and --tls-key, and refuses one without the other", async () => {
    const dir = mkdtempSync(join(tmpdir(), "meo-vertex-tls-"));
    const [cert, key] = [join(dir, "tls.crt"), join(dir, "tls.key")];
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        key,
        "-out",
        cert,
      ],
      { stdio: "ignore" },
    );
    const ca = readFileSync(cert);
    const { url } = await servers.start([`--tls-cert=${cert}`, `--tls-key=${key}`], { ca });
    expect(url.startsWith("https://")).toBe(true);
    const answer = await get(`${url}/v1/${parent()}/endpoints/fraud`, ca);
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { status: "UNAUTHENTICATED" } });
    await expect(servers.start([`--tls-cert=${cert}`])).rejects.toThrow(
      /--tls-cert and --tls-key go together/,
    );
  });
});
