/** The machine-type table, the defaults the operator resolves, and the printer-column summaries. */
import { describe, expect, it } from "vitest";

import {
  GPU_RESOURCE,
  MACHINE_TYPE_NAMES,
  MACHINE_TYPES,
  isMachineType,
  machineTypeResources,
  resolveContainerResources,
} from "./machine-types.ts";
import { resolveRoutes, servingPort, splitModelName } from "./defaults.ts";
import { QUANTITY } from "./spec.ts";
import { summarizeStatus } from "./summary.ts";

describe("machine types", () => {
  it.each([
    ["n1-standard-2", { requests: { cpu: "2", memory: "7.5Gi" }, limits: { memory: "7.5Gi" } }],
    ["e2-highcpu-16", { requests: { cpu: "16", memory: "16Gi" }, limits: { memory: "16Gi" } }],
    [
      "g2-standard-24",
      {
        requests: { cpu: "24", memory: "96Gi", [GPU_RESOURCE]: "2" },
        limits: { memory: "96Gi", [GPU_RESOURCE]: "2" },
      },
    ],
  ] as const)("%s", (machineType, resources) => {
    expect(machineTypeResources(machineType)).toEqual(resources);
  });

  it("every entry is made of valid Kubernetes quantities", () => {
    const quantity = new RegExp(QUANTITY);
    for (const name of MACHINE_TYPE_NAMES) {
      const shape = MACHINE_TYPES[name];
      expect(shape.cpu, name).toMatch(quantity);
      expect(shape.memory, name).toMatch(quantity);
    }
  });

  it("explicit containerSpec.resources win over the table, whole", () => {
    const explicit = { requests: { cpu: "100m" } };
    expect(resolveContainerResources(explicit, "n1-standard-8")).toBe(explicit);
    expect(resolveContainerResources(undefined, "n1-standard-2")).toEqual(
      machineTypeResources("n1-standard-2"),
    );
    expect(resolveContainerResources(undefined, undefined)).toEqual({});
  });

  it("knows its names", () => {
    expect(isMachineType("n1-standard-2")).toBe(true);
    expect(isMachineType("n1-standard-3")).toBe(false);
    expect(isMachineType("toString")).toBe(false);
  });
});

describe("defaults the operator resolves", () => {
  it("serves on the first port, 8080 when none is listed", () => {
    expect(servingPort({ imageUri: "i" })).toBe(8080);
    expect(servingPort({ imageUri: "i", ports: [] })).toBe(8080);
    expect(servingPort({ imageUri: "i", ports: [{ containerPort: 9000 }, { containerPort: 9001 }] })).toBe(
      9000,
    );
  });

  it("routes: the containerSpec's, else Vertex AI's defaults named after the chain's first model", () => {
    expect(resolveRoutes("fraud", "m1", { imageUri: "i" })).toEqual({
      predictRoute: "/v1/endpoints/fraud/deployedModels/m1:predict",
      healthRoute: "/v1/endpoints/fraud/deployedModels/m1",
    });
    expect(resolveRoutes("fraud", "m1", { imageUri: "i", predictRoute: "/p", healthRoute: "/h" })).toEqual({
      predictRoute: "/p",
      healthRoute: "/h",
    });
  });

  it.each([
    ["fraud-detector@2", "fraud-detector", "2"],
    ["projects/p/locations/l/models/123@4", "projects/p/locations/l/models/123", "4"],
    ["fraud-detector", "fraud-detector", ""],
    ["@3", "@3", ""],
  ])("model %s -> name %s, version %s", (model, name, version) => {
    expect(splitModelName(model)).toEqual({ name, version });
  });
});

describe("printer-column summaries", () => {
  it("mid-rollout: the intended revision, its state, ready/desired and the effective split", () => {
    expect(
      summarizeStatus({
        heads: [{ id: "m2", revisionNumber: 2, state: "BEING_DEPLOYED" }],
        readyReplicas: 3,
        desiredReplicas: 5,
        trafficSplit: { m2: 60, m1: 40 },
      }),
    ).toEqual({ revision: "m2@2", state: "BEING_DEPLOYED", ready: "3/5", traffic: "m1=40,m2=60" });
  });

  it("two chains, by id; zero shares left out; no traffic reads none", () => {
    expect(
      summarizeStatus({
        heads: [
          { id: "x1", revisionNumber: 1, state: "DEPLOYED" },
          { id: "a3", revisionNumber: 3, state: "BEING_DEPLOYED" },
        ],
        readyReplicas: 7,
        desiredReplicas: 7,
        trafficSplit: { x1: 0, a3: 0 },
      }),
    ).toEqual({ revision: "a3@3,x1@1", state: "BEING_DEPLOYED,DEPLOYED", ready: "7/7", traffic: "none" });
  });
});
