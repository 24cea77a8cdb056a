import { describe, expect, it } from "vitest";

import {
  resolveParent,
  checkEndpointId,
  newDeployedModelId,
  newEndpointId,
  parseModelName,
} from "./names.ts";
import { operationId, parseOperationId } from "./operations.ts";
import { drawWeighted } from "./predict.ts";
import { ForbiddenError } from "../kube/errors.ts";
import { fromKubeError, RpcError } from "./status.ts";
import { DeployModelRequest, parseBody, parseUpdateMask } from "./wire.ts";

const settings = { location: "us-central1", projectNamespaces: new Map([["acme-prod", "ml"]]) };
const parent = resolveParent(settings, "ml", "us-central1");

function rpc(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  throw new Error("no RpcError thrown");
}

describe("proto3 JSON bodies", () => {
  it("takes int64 and int32 fields as numbers or decimal strings, as the documented bodies send them", () => {
    const body = parseBody(
      DeployModelRequest,
      {
        deployedModel: {
          model: "projects/ml/locations/us-central1/models/m@2",
          rolloutOptions: {
            previousDeployedModel: "123",
            maxSurgeReplicas: "2",
            maxUnavailablePercentage: 25,
          },
        },
        trafficSplit: { "0": "100" },
      },
      "DeployModelRequest",
    );
    expect(body.deployedModel.rolloutOptions).toEqual({
      previousDeployedModel: "123",
      maxSurgeReplicas: 2,
      maxUnavailablePercentage: 25,
    });
    expect(body.trafficSplit).toEqual({ "0": 100 });
  });

  it("takes acceleratorType by name or by number (enum-encoding=int), and leaves proto3's unset values out", () => {
    const machineSpec = (spec: Record<string, unknown>) =>
      parseBody(
        DeployModelRequest,
        { deployedModel: { model: "m", dedicatedResources: { minReplicaCount: 1, machineSpec: spec } } },
        "DeployModelRequest",
      ).deployedModel.dedicatedResources?.machineSpec;
    expect(
      machineSpec({ machineType: "g2-standard-8", acceleratorType: "NVIDIA_L4", acceleratorCount: 1 }),
    ).toEqual({
      machineType: "g2-standard-8",
      acceleratorType: "NVIDIA_L4",
      acceleratorCount: 1,
    });
    expect(machineSpec({ machineType: "n1-standard-4", acceleratorType: 5, acceleratorCount: "2" })).toEqual({
      machineType: "n1-standard-4",
      acceleratorType: "NVIDIA_TESLA_T4",
      acceleratorCount: 2,
    });
    expect(machineSpec({ machineType: "n1-standard-4", acceleratorType: 0, acceleratorCount: 0 })).toEqual({
      machineType: "n1-standard-4",
    });
    expect(
      machineSpec({ machineType: "n1-standard-4", acceleratorType: "ACCELERATOR_TYPE_UNSPECIFIED" }),
    ).toEqual({ machineType: "n1-standard-4" });
    const unknown = rpc(() => machineSpec({ machineType: "n1-standard-4", acceleratorType: 99 }));
    expect(unknown.message).toContain(
      "deployedModel.dedicatedResources.machineSpec.acceleratorType: 99 is not an AcceleratorType",
    );
  });

  it("takes autoscalingMetricSpecs with a target as a number or a string, and 0 as unset", () => {
    const CPU = "aiplatform.googleapis.com/prediction/online/cpu/utilization";
    const specs = parseBody(
      DeployModelRequest,
      {
        deployedModel: {
          model: "m",
          dedicatedResources: {
            minReplicaCount: 2,
            maxReplicaCount: "6",
            autoscalingMetricSpecs: [
              { metricName: CPU, target: "70" },
              { metricName: "x", target: 0 },
            ],
          },
        },
      },
      "DeployModelRequest",
    ).deployedModel.dedicatedResources;
    expect(specs).toEqual({
      minReplicaCount: 2,
      maxReplicaCount: 6,
      autoscalingMetricSpecs: [{ metricName: CPU, target: 70 }, { metricName: "x" }],
    });
  });

  it("refuses an unknown field by its name, and a wrong type by its path", () => {
    const unknown = rpc(() =>
      parseBody(
        DeployModelRequest,
        { deployedModel: { model: "x", displayNmae: "typo" } },
        "DeployModelRequest",
      ),
    );
    expect(unknown.status).toBe("INVALID_ARGUMENT");
    expect(unknown.message).toContain("deployedModel.displayNmae");
    expect(unknown.toJSON().error["details"]).toEqual([
      {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        fieldViolations: [{ field: "deployedModel.displayNmae", description: 'unknown field "displayNmae"' }],
      },
    ]);
    const typed = rpc(() =>
      parseBody(
        DeployModelRequest,
        {
          deployedModel: {
            model: "x",
            rolloutOptions: { previousDeployedModel: "a", maxSurgeReplicas: "two" },
          },
        },
        "DeployModelRequest",
      ),
    );
    expect(typed.message).toContain("deployedModel.rolloutOptions.maxSurgeReplicas");
    expect(rpc(() => parseBody(DeployModelRequest, { trafficSplit: { "0": 101 } }, "x")).message).toContain(
      "trafficSplit.0: must be at most 100",
    );
  });

  it("takes an empty trafficSplit on deployModel as none, as the client libraries send one", () => {
    const body = parseBody(
      DeployModelRequest,
      { deployedModel: { model: "m", systemLabels: {} }, trafficSplit: {} },
      "DeployModelRequest",
    );
    expect(body.trafficSplit).toBeUndefined();
  });

  it("reads an updateMask in either case and refuses fields the method cannot change", () => {
    expect(parseUpdateMask("display_name,trafficSplit", ["displayName", "trafficSplit"])).toEqual([
      "displayName",
      "trafficSplit",
    ]);
    expect(rpc(() => parseUpdateMask("deployedModels", ["displayName"])).message).toContain("deployedModels");
    expect(rpc(() => parseUpdateMask(undefined, ["displayName"])).message).toContain("required");
  });
});

describe("names", () => {
  it("maps a project to its namespace and answers one location", () => {
    expect(resolveParent(settings, "acme-prod", "us-central1").namespace).toBe("ml");
    expect(rpc(() => resolveParent(settings, "ml", "europe-west4")).status).toBe("NOT_FOUND");
    expect(rpc(() => resolveParent(settings, "Acme_Prod", "us-central1")).status).toBe("INVALID_ARGUMENT");
  });

  it("takes endpoint ids that can name a ModelEndpoint, and says why a numeric one cannot", () => {
    expect(checkEndpointId("fraud-1")).toBe("fraud-1");
    expect(rpc(() => checkEndpointId("1234")).message).toContain("e1234");
    expect(rpc(() => checkEndpointId("Fraud")).status).toBe("INVALID_ARGUMENT");
    expect(checkEndpointId(newEndpointId())).toMatch(/^e\d{15}$/);
    expect(newDeployedModelId()).toMatch(/^[1-9]\d{15}$/);
  });

  it("parses a model reference with a version or an alias", () => {
    expect(parseModelName(parent, "projects/ml/locations/us-central1/models/fraud@3")).toEqual({
      model: "fraud",
      version: "3",
    });
    // Aliases may have capitals after their first letter (goldenV2), as Vertex AI's do.
    expect(parseModelName(parent, "projects/ml/locations/us-central1/models/fraud@goldenV2")).toEqual({
      model: "fraud",
      version: "goldenV2",
    });
    expect(parseModelName(parent, "projects/ml/locations/us-central1/models/fraud")).toEqual({
      model: "fraud",
      version: "",
    });
    expect(
      rpc(() => parseModelName(parent, "projects/other/locations/us-central1/models/fraud")).status,
    ).toBe("INVALID_ARGUMENT");
  });
});

describe("operation ids", () => {
  it("are digits that give back their kind and deployed model", () => {
    for (const model of ["", "m1", "1234567890123456", "a-b-c", "zz", "-"]) {
      const id = operationId("deployModel", model);
      expect(id).toMatch(/^\d+$/);
      expect(parseOperationId(id)).toEqual({ kind: "deployModel", model });
    }
    expect(parseOperationId(operationId("undeployModel", "m2")).kind).toBe("undeployModel");
    expect(rpc(() => parseOperationId("9123")).status).toBe("NOT_FOUND");
    expect(rpc(() => parseOperationId("2abc")).status).toBe("NOT_FOUND");
  });
});

describe("drawWeighted", () => {
  it("draws each key in proportion to its weight, never one at 0", () => {
    const weights = { a: 70, b: 30, c: 0 };
    const draws = Array.from({ length: 100 }, (_, i) => drawWeighted(weights, i / 100));
    expect(draws.filter((d) => d === "a")).toHaveLength(70);
    expect(draws.filter((d) => d === "b")).toHaveLength(30);
    expect(drawWeighted({}, 0.5)).toBeUndefined();
  });
});

describe("errors", () => {
  it("carry the HTTP status over HTTP, and the canonical code in an operation", () => {
    const error = new RpcError("DEADLINE_EXCEEDED", "too slow");
    expect(error.toJSON()).toEqual({
      error: { code: 504, message: "too slow", status: "DEADLINE_EXCEEDED" },
    });
    expect(error.toStatus()).toEqual({ code: 4, message: "too slow" });
  });

  it("tell a refused token (401) from a refused request (403)", () => {
    expect(fromKubeError(new ForbiddenError("Unauthorized", { code: 401 }), "x").status).toBe(
      "UNAUTHENTICATED",
    );
    expect(fromKubeError(new ForbiddenError("forbidden", { code: 403 }), "x").status).toBe(
      "PERMISSION_DENIED",
    );
  });
});
