import { describe, expect, it } from "vitest";

import type { RawEndpoint } from "../edits/endpoint.ts";
import { endpointFixture } from "../edits/fixtures.ts";
import { ENDPOINTSLICES } from "../kube/client.ts";
import {
  modelEndpoints,
  NotFoundError,
  ResourceClient,
  type HttpRequest,
  type KubeObject,
  type Transport,
} from "../kube/index.ts";
import { createApp, type AppOptions } from "./app.ts";
import { MODELS } from "./models.ts";
import { operationId } from "./operations.ts";

/**
 * An API server holding the endpoint "fraud" in "ml" (or nothing): a GET answers it as it is, a PUT
 * replaces it with what `operator` makes of the write (the operator's next status).
 */
class FakeApi implements Transport {
  current: RawEndpoint | undefined;
  readonly writes: RawEndpoint[] = [];
  readonly #operator: (written: RawEndpoint) => RawEndpoint;

  constructor(current: RawEndpoint | undefined, operator: (written: RawEndpoint) => RawEndpoint = (e) => e) {
    this.current = current;
    this.#operator = operator;
  }

  request(req: HttpRequest): Promise<unknown> {
    if (req.method === "PUT") {
      const written = structuredClone(req.body) as RawEndpoint;
      this.writes.push(written);
      this.current = this.#operator(structuredClone(written));
      return Promise.resolve(written);
    }
    if (this.current === undefined) return Promise.reject(new NotFoundError("not found", { code: 404 }));
    return Promise.resolve(structuredClone(this.current));
  }

  stream(): AsyncIterable<unknown> {
    throw new Error("no watch in these tests");
  }
}

/** The operator moving the effective split to spec's at once. */
const followsSpec = (e: RawEndpoint): RawEndpoint => ({
  ...e,
  status: { ...(e["status"] as object), trafficSplit: { ...e.spec?.trafficSplit } },
});

function app(api: FakeApi, options: Partial<AppOptions> = {}) {
  const endpoints = new ResourceClient<KubeObject>(api, modelEndpoints());
  return createApp({
    location: "us-central1",
    projectNamespaces: new Map(),
    identify: () => ({
      cluster: {
        endpoints,
        resolveModel: (_namespace, model, version) =>
          Promise.resolve({
            ref: `${model}@${version}`,
            containerSpec: {
              imageUri: `registry.example/fraud:${version}`,
              healthRoute: "/health",
              predictRoute: "/predict",
            },
          }),
      },
      models: { models: new ResourceClient<KubeObject>(api, MODELS), endpoints },
      view: {
        endpoints,
        models: new ResourceClient<KubeObject>(api, MODELS),
        slices: new ResourceClient<KubeObject>(api, ENDPOINTSLICES),
      },
    }),
    ...options,
  });
}

const BASE = "projects/ml/locations/us-central1/endpoints/fraud";

async function call(
  target: ReturnType<typeof app>,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await target.request(`/${path}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("the REST surface the client libraries use", () => {
  it("answers operations under /ui, with v1beta1's messages, and nothing else there", async () => {
    const api = new FakeApi(endpointFixture({ models: [{ id: "m1", state: "DEPLOYED" }] }));
    const op = await call(app(api), "GET", `ui/${BASE}/operations/${operationId("deployModel", "m1")}`);
    expect(op.status).toBe(200);
    expect(op.json).toMatchObject({
      done: true,
      metadata: {
        "@type": "type.googleapis.com/google.cloud.aiplatform.v1beta1.DeployModelOperationMetadata",
      },
      response: { deployedModel: { id: "m1" } },
    });
    const endpoint = await call(app(api), "GET", `ui/${BASE}`);
    expect(endpoint).toEqual({
      status: 404,
      json: { error: { code: 404, status: "NOT_FOUND", message: "API version ui not found: v1 or v1beta1" } },
    });
  });

  it("gives an error's HTTP status as its code, and its canonical name as its status", async () => {
    const missing = await call(app(new FakeApi(undefined)), "GET", `v1/${BASE}`);
    expect(missing).toEqual({
      status: 404,
      json: { error: { code: 404, status: "NOT_FOUND", message: "endpoint fraud not found" } },
    });
  });
});

describe("undeployModel", () => {
  const serving = () =>
    endpointFixture({
      models: [
        { id: "m1", state: "DEPLOYED" },
        { id: "m2", state: "DEPLOYED" },
      ],
      split: { m1: 50, m2: 50 },
    });

  it("refuses a model with a share when the request does not move it (an empty split is none)", async () => {
    const api = new FakeApi(serving(), followsSpec);
    for (const body of [{ deployedModelId: "m2" }, { deployedModelId: "m2", trafficSplit: {} }]) {
      const refused = await call(app(api), "POST", `v1/${BASE}:undeployModel`, body);
      expect(refused.status).toBe(400);
      expect(refused.json["error"]).toMatchObject({
        status: "FAILED_PRECONDITION",
        message: expect.stringContaining("50%"),
      });
    }
    expect(api.writes).toEqual([]);
  });

  it("moves a serving model's traffic first, and removes it once the operator has moved it", async () => {
    const api = new FakeApi(serving(), followsSpec);
    const done = await call(app(api), "POST", `v1/${BASE}:undeployModel`, {
      deployedModelId: "m2",
      trafficSplit: { m1: 100 },
    });
    expect(done.status).toBe(200);
    expect(api.writes.map((w) => [w.spec?.trafficSplit, w.spec?.deployedModels?.map((m) => m.id)])).toEqual([
      [{ m1: 100 }, ["m1", "m2"]],
      [{ m1: 100 }, ["m1"]],
    ]);
  });

  it("keeps a model whose traffic has not moved within the wait, saying it still serves", async () => {
    const api = new FakeApi(serving());
    const refused = await call(app(api, { trafficMoveWaitMs: 0 }), "POST", `v1/${BASE}:undeployModel`, {
      deployedModelId: "m2",
      trafficSplit: { m1: 100 },
    });
    expect(refused.json["error"]).toMatchObject({
      status: "FAILED_PRECONDITION",
      message: expect.stringContaining("serves 50% of the traffic right now"),
    });
    expect(api.writes.map((w) => w.spec?.deployedModels?.map((m) => m.id))).toEqual([["m1", "m2"]]);
  });
});

describe("deployModel with rolloutOptions", () => {
  it("replaces a FAILED rolling deployment onto the same model, as Vertex keeps none", async () => {
    const api = new FakeApi(
      endpointFixture({
        models: [
          { id: "m1", state: "DEPLOYED" },
          { id: "m2", previous: "m1", state: "FAILED", reason: "ProgressDeadlineExceeded" },
        ],
      }),
    );
    const started = await call(app(api), "POST", `v1beta1/${BASE}:deployModel`, {
      deployedModel: {
        id: "m3",
        model: "projects/ml/locations/us-central1/models/fraud-detector@3",
        rolloutOptions: { previousDeployedModel: "m1", maxSurgeReplicas: 1 },
        // What the client libraries send for every map field.
        systemLabels: {},
      },
      trafficSplit: {},
    });
    expect(started.status).toBe(200);
    expect(api.writes.map((w) => w.spec?.deployedModels?.map((m) => m.id))).toEqual([["m1", "m3"]]);
    expect(api.writes[0]?.spec?.trafficSplit).toEqual({ m1: 100 });
  });

  it("refuses system labels", async () => {
    const api = new FakeApi(endpointFixture({ models: [{ id: "m1", state: "DEPLOYED" }] }));
    const refused = await call(app(api), "POST", `v1beta1/${BASE}:deployModel`, {
      deployedModel: {
        model: "projects/ml/locations/us-central1/models/fraud-detector@3",
        rolloutOptions: { previousDeployedModel: "m1" },
        systemLabels: { "goog-model-garden": "x" },
      },
    });
    expect(refused.json["error"]).toMatchObject({
      status: "INVALID_ARGUMENT",
      message: expect.stringContaining("deployedModel.systemLabels"),
    });
    expect(api.writes).toEqual([]);
  });
});

describe("undeployModel of a rolling deployment's last revision", () => {
  it("takes the REPLACED revisions of its chain with it, so that none is deployed again", async () => {
    const api = new FakeApi(
      endpointFixture({
        models: [
          { id: "m1", state: "REPLACED" },
          { id: "m2", previous: "m1", state: "DEPLOYED" },
          { id: "x1", state: "DEPLOYED" },
        ],
        split: { x1: 100 },
      }),
      followsSpec,
    );
    const done = await call(app(api), "POST", `v1/${BASE}:undeployModel`, { deployedModelId: "m2" });
    expect(done.status, JSON.stringify(done.json)).toBe(200);
    expect(api.writes.map((w) => w.spec?.deployedModels?.map((m) => m.id))).toEqual([["x1"]]);
  });

  it("undeploys the last model whatever its share, as Vertex does: the split ends empty", async () => {
    const api = new FakeApi(
      endpointFixture({
        models: [
          { id: "m1", state: "REPLACED" },
          { id: "m2", previous: "m1", state: "DEPLOYED" },
        ],
        split: { m2: 100 },
      }),
      followsSpec,
    );
    const done = await call(app(api), "POST", `v1/${BASE}:undeployModel`, { deployedModelId: "m2" });
    expect(done.status, JSON.stringify(done.json)).toBe(200);
    expect(api.writes.map((w) => [w.spec?.trafficSplit, w.spec?.deployedModels?.map((m) => m.id)])).toEqual([
      [{}, ["m1", "m2"]],
      [{}, []],
    ]);
  });

  it("keeps the chain's serving revision when an in-progress one is undeployed", async () => {
    const api = new FakeApi(
      endpointFixture({
        models: [
          { id: "m1", state: "DEPLOYED" },
          { id: "m2", previous: "m1", state: "BEING_DEPLOYED" },
        ],
        split: { m1: 100 },
        effective: { m1: 100 },
      }),
    );
    await call(app(api), "POST", `v1/${BASE}:undeployModel`, { deployedModelId: "m2" });
    expect(api.writes.map((w) => w.spec?.deployedModels?.map((m) => m.id))).toEqual([["m1"]]);
  });
});

describe("deleteEndpoint", () => {
  it("is refused while the endpoint has deployed models, naming them; REPLACED and FAILED ones do not count", async () => {
    const api = new FakeApi(
      endpointFixture({
        models: [
          { id: "m1", state: "REPLACED" },
          { id: "m2", previous: "m1", state: "DEPLOYED" },
          { id: "m3", previous: "m2", state: "FAILED" },
        ],
      }),
    );
    const refused = await call(app(api), "DELETE", `v1/${BASE}`);
    expect(refused.json["error"]).toEqual({
      code: 400,
      status: "FAILED_PRECONDITION",
      message: "endpoint fraud has deployed models (m2: DEPLOYED): undeploy them first",
    });
    const retired = new FakeApi(
      endpointFixture({
        models: [
          { id: "m1", state: "REPLACED" },
          { id: "m3", previous: "m1", state: "FAILED" },
        ],
      }),
    );
    expect((await call(app(retired), "DELETE", `v1/${BASE}`)).status).toBe(200);
  });
});

describe("operations.cancel", () => {
  const rolling = () =>
    endpointFixture({
      models: [
        { id: "m1", state: "DEPLOYED" },
        { id: "m2", previous: "m1", state: "BEING_DEPLOYED" },
      ],
      split: { m1: 100 },
    });
  const cancel = (api: FakeApi, model: string, kind: "deployModel" | "undeployModel" = "deployModel") =>
    call(app(api), "POST", `ui/${BASE}/operations/${operationId(kind, model)}:cancel`);

  it("rolls an in-progress rolling deployment back, and its operation ends CANCELLED naming the rollback", async () => {
    const api = new FakeApi(rolling());
    const cancelled = await cancel(api, "m2");
    expect(cancelled).toEqual({ status: 200, json: {} });
    const [written] = api.writes;
    const rollback = written?.spec?.deployedModels?.find((m) => m.id !== "m1" && m.id !== "m2");
    expect(rollback?.rolloutOptions).toMatchObject({ previousDeployedModel: "m2" });
    expect(rollback?.containerSpec).toEqual(written?.spec?.deployedModels?.[0]?.containerSpec);
    expect(written?.metadata?.["annotations"]).toMatchObject({
      "serving.modelendpoint.io/cancelled-deployments": "m2",
    });
    const op = await call(app(api), "GET", `v1/${BASE}/operations/${operationId("deployModel", "m2")}`);
    expect(op.json).toMatchObject({
      done: true,
      error: {
        code: 1,
        message: `the rolling deployment of deployed model m2 was cancelled: deployed model ${rollback?.id ?? ""} rolls the previous model back onto it`,
      },
    });
  });

  it("leaves an operation that is done as it is, and writes nothing", async () => {
    const api = new FakeApi(endpointFixture({ models: [{ id: "m1", state: "DEPLOYED" }] }));
    expect(await cancel(api, "m1")).toEqual({ status: 200, json: {} });
    expect(api.writes).toEqual([]);
  });

  it("refuses a first deployment and other kinds of operation, writing nothing", async () => {
    const api = new FakeApi(endpointFixture({ models: [{ id: "m1", state: "BEING_DEPLOYED" }] }));
    const first = await cancel(api, "m1");
    expect(first.json["error"]).toMatchObject({
      status: "FAILED_PRECONDITION",
      message: "deployed model m1 is a first deployment, not a rolling deployment: undeployModel stops it",
    });
    const undeploy = await cancel(new FakeApi(rolling()), "m2", "undeployModel");
    expect(undeploy.json["error"]).toMatchObject({
      status: "FAILED_PRECONDITION",
      message: expect.stringContaining("only a deployModel operation can"),
    });
    expect(api.writes).toEqual([]);
  });
});
