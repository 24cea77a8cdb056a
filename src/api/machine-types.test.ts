/** The machine-type table. */
import { describe, expect, it } from "vitest";

import {
  GPU_RESOURCE,
  MACHINE_TYPE_NAMES,
  MACHINE_TYPES,
  isMachineType,
  machineTypeResources,
  resolveContainerResources,
} from "./machine-types.ts";
import { QUANTITY } from "./spec.ts";

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
