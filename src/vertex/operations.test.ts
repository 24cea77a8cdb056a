import { describe, expect, it } from "vitest";

import { parseEndpoint } from "../edits/endpoint.ts";
import { endpointFixture } from "../edits/fixtures.ts";
import { toVertexEndpoint } from "./convert.ts";
import { resolveParent } from "./names.ts";
import { deriveOperation, operationId } from "./operations.ts";

const parent = resolveParent({ location: "us-central1", projectNamespaces: new Map() }, "ml", "us-central1");
const rolling = parseEndpoint(
  endpointFixture({
    models: [
      { id: "m1", state: "DEPLOYED", replicas: 2 },
      { id: "m2", previous: "m1", state: "BEING_DEPLOYED", replicas: 2, ready: 1 },
    ],
    effective: { m1: 67, m2: 33 },
    ready: "False",
  }),
);
const failed = parseEndpoint(
  endpointFixture({
    models: [
      { id: "m1", state: "DEPLOYED" },
      {
        id: "m2",
        previous: "m1",
        state: "FAILED",
        reason: "ProgressDeadlineExceeded",
        message: "0/3 became ready",
      },
    ],
  }),
);
const done = parseEndpoint(
  endpointFixture({
    models: [
      { id: "m1", state: "REPLACED" },
      { id: "m2", previous: "m1", state: "DEPLOYED" },
    ],
    effective: { m2: 100 },
  }),
);

const op = (kind: Parameters<typeof operationId>[0], model: string, endpoint: typeof rolling | undefined) =>
  deriveOperation("v1beta1", parent, "fraud", operationId(kind, model), endpoint);

describe("operations derived from the endpoint", () => {
  it("deployModel: pending while BEING_DEPLOYED, then the deployed model, typed for the version asked", () => {
    const pending = op("deployModel", "m2", rolling);
    expect(pending).toMatchObject({
      name: `projects/ml/locations/us-central1/endpoints/fraud/operations/${operationId("deployModel", "m2")}`,
      done: false,
      metadata: {
        "@type": "type.googleapis.com/google.cloud.aiplatform.v1beta1.DeployModelOperationMetadata",
      },
    });
    expect(op("deployModel", "m2", done)).toMatchObject({
      done: true,
      response: {
        "@type": "type.googleapis.com/google.cloud.aiplatform.v1beta1.DeployModelResponse",
        deployedModel: {
          id: "m2",
          model: "projects/ml/locations/us-central1/models/fraud-detector",
          modelVersionId: "m2",
        },
      },
    });
    // A model REPLACED since was deployed: its operation stays done.
    expect(op("deployModel", "m1", done).done).toBe(true);
  });

  it("deployModel of a FAILED model ends in error with the revert reason", () => {
    expect(op("deployModel", "m2", failed)).toMatchObject({
      done: true,
      error: { code: 4, message: expect.stringContaining("ProgressDeadlineExceeded") as unknown },
    });
  });

  it("undeployModel is done once the model is gone; deleteEndpoint once the endpoint is", () => {
    expect(op("undeployModel", "m1", done).done).toBe(false);
    expect(op("undeployModel", "m9", done)).toMatchObject({ done: true, response: {} });
    expect(op("deleteEndpoint", "", done).done).toBe(false);
    const deleted = op("deleteEndpoint", "", undefined);
    expect(deleted).toMatchObject({
      done: true,
      response: { "@type": "type.googleapis.com/google.protobuf.Empty" },
    });
    // Nothing to date it by: no timestamp at all ("" is not a Timestamp to the client libraries).
    expect(deleted.metadata["genericMetadata"]).toEqual({});
  });

  it("an operation on a model the endpoint does not have is NOT_FOUND", () => {
    expect(() => op("deployModel", "m9", done)).toThrow(/not in endpoint fraud/);
  });
});

describe("the Endpoint message", () => {
  it("lists only DEPLOYED models unless allDeploymentStates, with the effective split", () => {
    expect(toVertexEndpoint(parent, rolling, { allDeploymentStates: false })).toMatchObject({
      name: "projects/ml/locations/us-central1/endpoints/fraud",
      deployedModels: [{ id: "m1" }],
      trafficSplit: { m1: 67, m2: 33 },
      etag: "42",
    });
    const all = toVertexEndpoint(parent, rolling, { allDeploymentStates: true });
    expect((all["deployedModels"] as { id: string }[]).map((m) => m.id)).toEqual(["m1", "m2"]);
  });
});
