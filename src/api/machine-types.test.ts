/** The machine-type table and its accelerators. */
import { describe, expect, it } from "vitest";

import {
  ACCELERATOR_TYPES,
  allowedAccelerators,
  builtInGpu,
  describeAccelerators,
  describeCounts,
  isAcceleratorType,
  isMachineType,
  machineAccelerator,
  MACHINE_TYPE_NAMES,
  MACHINE_TYPES,
  orList,
} from "./machine-types.ts";
import { QUANTITY } from "./spec.ts";

describe("machine types", () => {
  it("every entry is made of valid Kubernetes quantities", () => {
    const quantity = new RegExp(QUANTITY);
    for (const name of MACHINE_TYPE_NAMES) {
      const shape = MACHINE_TYPES[name];
      expect(shape.cpu, name).toMatch(quantity);
      expect(shape.memory, name).toMatch(quantity);
    }
  });

  it("knows its names", () => {
    expect(isMachineType("n1-standard-2")).toBe(true);
    expect(isMachineType("n1-standard-3")).toBe(false);
    expect(isMachineType("toString")).toBe(false);
    expect(isAcceleratorType("NVIDIA_L4")).toBe(true);
    expect(isAcceleratorType("NVIDIA_TESLA_K80")).toBe(false);
  });

  it("gives every accelerator type a machine that takes it", () => {
    const taken = new Set(MACHINE_TYPE_NAMES.flatMap((m) => Object.keys(allowedAccelerators(m))));
    expect([...taken].sort()).toEqual([...ACCELERATOR_TYPES].sort());
  });
});

describe("accelerators each machine takes", () => {
  // Every machine of the table, and what it takes: [machine, {type: counts}].
  const expected: [string, Record<string, number[]>][] = [
    ...[
      "n1-standard-2",
      "n1-standard-4",
      "n1-standard-8",
      "n1-highmem-2",
      "n1-highmem-4",
      "n1-highmem-8",
    ].map((m): [string, Record<string, number[]>] => [
      m,
      {
        NVIDIA_TESLA_T4: [1, 2, 4],
        NVIDIA_TESLA_P4: [1, 2, 4],
        NVIDIA_TESLA_V100: [1, 2, 4, 8],
        NVIDIA_TESLA_P100: [1, 2, 4],
      },
    ]),
    ...["n1-highcpu-4", "n1-highcpu-8"].map((m): [string, Record<string, number[]>] => [
      m,
      {
        NVIDIA_TESLA_T4: [1, 2, 4],
        NVIDIA_TESLA_P4: [1, 2, 4],
        NVIDIA_TESLA_V100: [1, 2, 4, 8],
        NVIDIA_TESLA_P100: [1, 2, 4],
      },
    ]),
    ...["n1-standard-16", "n1-highmem-16", "n1-highcpu-16"].map((m): [string, Record<string, number[]>] => [
      m,
      {
        NVIDIA_TESLA_T4: [1, 2, 4],
        NVIDIA_TESLA_P4: [1, 2, 4],
        NVIDIA_TESLA_V100: [2, 4, 8],
        NVIDIA_TESLA_P100: [1, 2, 4],
      },
    ]),
    ...["n1-standard-32", "n1-highmem-32", "n1-highcpu-32"].map((m): [string, Record<string, number[]>] => [
      m,
      {
        NVIDIA_TESLA_T4: [2, 4],
        NVIDIA_TESLA_P4: [2, 4],
        NVIDIA_TESLA_V100: [4, 8],
        NVIDIA_TESLA_P100: [2, 4],
      },
    ]),
    ...MACHINE_TYPE_NAMES.filter((m) => /^(e2|n2)-/.test(m)).map((m): [string, Record<string, number[]>] => [
      m,
      {},
    ]),
    ["g2-standard-4", { NVIDIA_L4: [1] }],
    ["g2-standard-8", { NVIDIA_L4: [1] }],
    ["g2-standard-12", { NVIDIA_L4: [1] }],
    ["g2-standard-16", { NVIDIA_L4: [1] }],
    ["g2-standard-24", { NVIDIA_L4: [2] }],
    ["g2-standard-32", { NVIDIA_L4: [1] }],
    ["g2-standard-48", { NVIDIA_L4: [4] }],
    ["g2-standard-96", { NVIDIA_L4: [8] }],
    ["a2-highgpu-1g", { NVIDIA_TESLA_A100: [1] }],
    ["a2-highgpu-2g", { NVIDIA_TESLA_A100: [2] }],
    ["a2-highgpu-4g", { NVIDIA_TESLA_A100: [4] }],
    ["a2-highgpu-8g", { NVIDIA_TESLA_A100: [8] }],
    ["a2-megagpu-16g", { NVIDIA_TESLA_A100: [16] }],
    ["a2-ultragpu-1g", { NVIDIA_A100_80GB: [1] }],
    ["a2-ultragpu-2g", { NVIDIA_A100_80GB: [2] }],
    ["a2-ultragpu-4g", { NVIDIA_A100_80GB: [4] }],
    ["a2-ultragpu-8g", { NVIDIA_A100_80GB: [8] }],
    ["a3-highgpu-1g", { NVIDIA_H100_80GB: [1] }],
    ["a3-highgpu-2g", { NVIDIA_H100_80GB: [2] }],
    ["a3-highgpu-4g", { NVIDIA_H100_80GB: [4] }],
    ["a3-highgpu-8g", { NVIDIA_H100_80GB: [8] }],
    ["a3-megagpu-8g", { NVIDIA_H100_MEGA_80GB: [8] }],
    ["a3-ultragpu-8g", { NVIDIA_H200_141GB: [8] }],
    ["a4-highgpu-8g", { NVIDIA_B200: [8] }],
  ];

  it("covers the whole table", () => {
    expect(expected.map(([m]) => m).sort()).toEqual([...MACHINE_TYPE_NAMES].sort());
  });

  it.each(expected)("%s", (machine, accelerators) => {
    if (!isMachineType(machine)) throw new Error(machine);
    expect(allowedAccelerators(machine)).toEqual(accelerators);
  });
});

describe("the accelerator of a machine spec", () => {
  it.each([
    ["a machine without GPUs", { machineType: "n1-standard-8" }, undefined],
    ["built-in GPUs, implied", { machineType: "g2-standard-24" }, { type: "NVIDIA_L4", count: 2 }],
    [
      "built-in GPUs, named without a count",
      { machineType: "a3-highgpu-8g", acceleratorType: "NVIDIA_H100_80GB" },
      { type: "NVIDIA_H100_80GB", count: 8 },
    ],
    [
      "GPUs attached to n1",
      { machineType: "n1-standard-8", acceleratorType: "NVIDIA_TESLA_T4", acceleratorCount: 2 },
      { type: "NVIDIA_TESLA_T4", count: 2 },
    ],
    [
      "an n1 type without a count",
      { machineType: "n1-standard-8", acceleratorType: "NVIDIA_TESLA_T4" },
      undefined,
    ],
    ["an unknown machine", { machineType: "x1-huge" }, undefined],
  ] as const)("%s", (_, spec, accelerator) => {
    expect(machineAccelerator(spec)).toEqual(accelerator);
  });

  it("built-in GPUs are only on accelerator-optimized machines", () => {
    const withGpus = MACHINE_TYPE_NAMES.filter((m) => builtInGpu(m) !== undefined);
    expect(withGpus.every((m) => /^(g2|a2|a3|a4)-/.test(m))).toBe(true);
    expect(withGpus).toHaveLength(24);
  });
});

describe("what the admission messages say", () => {
  it("lists as people write lists", () => {
    expect(orList([])).toBe("");
    expect(orList([1])).toBe("1");
    expect(orList([1, 2])).toBe("1 or 2");
    expect(orList([1, 2, 4])).toBe("1, 2 or 4");
  });

  it.each([
    ["e2-standard-4", "no accelerator"],
    ["g2-standard-8", "only its built-in NVIDIA_L4 (1)"],
    ["n1-standard-2", "NVIDIA_TESLA_T4, NVIDIA_TESLA_P4, NVIDIA_TESLA_V100 or NVIDIA_TESLA_P100"],
  ] as const)("%s takes %s", (machine, text) => {
    expect(describeAccelerators(machine)).toBe(text);
  });

  it("counts", () => {
    expect(describeCounts("n1-standard-32", "NVIDIA_TESLA_V100")).toBe("4 or 8");
    expect(describeCounts("a2-megagpu-16g", "NVIDIA_TESLA_A100")).toBe("16, the GPUs built into the machine");
  });
});
