/** Sizing and placing model pods: the allocatable arithmetic, each machine, each profile. */
import { describe, expect, it } from "vitest";

import { GPU_RESOURCE, MACHINE_TYPE_NAMES, MACHINE_TYPES } from "../api/machine-types.ts";
import { quantityValue } from "../api/spec.ts";
import {
  allocatable,
  containerResources,
  DEFAULT_PLACEMENT_PROFILE,
  GKE_ACCELERATOR_LABELS,
  machineResources,
  podPlacement,
  reservedCpuMillis,
  reservedMemoryMi,
  type PlacementProfile,
} from "./placement.ts";

const generic = DEFAULT_PLACEMENT_PROFILE;
const gke: PlacementProfile = { ...DEFAULT_PLACEMENT_PROFILE, name: "gke" };
const GPU_TOLERATION = { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" };

describe("GKE's reservation", () => {
  // The worked examples of GKE's documentation of node allocatable resources.
  it.each([
    [1000, 60],
    [2000, 70],
    [4000, 80],
    [8000, 90],
    [96000, 310],
  ])("CPU: %d millicores reserve %d", (cpu, reserved) => {
    expect(reservedCpuMillis(cpu)).toBeCloseTo(reserved, 6);
  });

  it.each([
    [512, 255],
    [4096, 1024],
    [8192, 1024 + 819.2],
    [16384, 1024 + 819.2 + 819.2],
    [131072, 1024 + 819.2 + 819.2 + 6881.28],
    [262144, 1024 + 819.2 + 819.2 + 6881.28 + 2621.44],
  ])("memory: %d MiB reserve %d", (memory, reserved) => {
    expect(reservedMemoryMi(memory)).toBeCloseTo(reserved, 6);
  });

  it("n1-standard-2: 1930m and 5839.2Mi allocatable", () => {
    const a = allocatable(MACHINE_TYPES["n1-standard-2"]);
    expect(a.cpuMillis).toBeCloseTo(1930, 6);
    expect(a.memoryMi).toBeCloseTo(7680 - 1740.8 - 100, 6);
  });
});

describe("resources of a machine spec", () => {
  it("n1-standard-2 fits its own node: 1730m, 5583Mi (allowance 200m, 256Mi)", () => {
    expect(machineResources({ machineType: "n1-standard-2" }, generic)).toEqual({
      requests: { cpu: "1730m", memory: "5583Mi" },
      limits: { memory: "5583Mi" },
    });
  });

  it("the DaemonSet allowance is configurable", () => {
    const none = { ...generic, daemonSetReserve: { cpuMillis: 0, memoryMi: 0 } };
    expect(machineResources({ machineType: "n1-standard-2" }, none)).toEqual({
      requests: { cpu: "1930m", memory: "5839Mi" },
      limits: { memory: "5839Mi" },
    });
  });

  it.each(MACHINE_TYPE_NAMES.map((m) => [m]))("%s asks less than its capacity, and at least half", (m) => {
    const shape = MACHINE_TYPES[m];
    const r = machineResources({ machineType: m }, generic);
    const cpu = quantityValue(r.requests?.["cpu"] ?? "");
    const memory = quantityValue(r.requests?.["memory"] ?? "");
    expect(cpu).toBeLessThan(quantityValue(shape.cpu));
    expect(cpu).toBeGreaterThan(quantityValue(shape.cpu) / 2);
    expect(memory).toBeLessThan(quantityValue(shape.memory));
    expect(memory).toBeGreaterThan(quantityValue(shape.memory) / 2);
    expect(r.limits?.["memory"]).toBe(r.requests?.["memory"]);
    expect(r.limits?.["cpu"]).toBeUndefined();
  });

  it.each([
    ["g2-standard-24 (built in)", { machineType: "g2-standard-24" }, "2"],
    ["a2-megagpu-16g (built in)", { machineType: "a2-megagpu-16g" }, "16"],
    [
      "n1 with 4 T4",
      { machineType: "n1-standard-8", acceleratorType: "NVIDIA_TESLA_T4", acceleratorCount: 4 },
      "4",
    ],
    [
      "n1 with 8 V100",
      { machineType: "n1-standard-32", acceleratorType: "NVIDIA_TESLA_V100", acceleratorCount: 8 },
      "8",
    ],
  ])("%s: nvidia.com/gpu %s in requests and limits", (_, spec, count) => {
    const r = machineResources(spec, generic);
    expect(r.requests?.[GPU_RESOURCE]).toBe(count);
    expect(r.limits?.[GPU_RESOURCE]).toBe(count);
  });

  it("a machine without GPUs asks for none", () => {
    const r = machineResources({ machineType: "e2-standard-4" }, gke);
    expect(r.requests?.[GPU_RESOURCE]).toBeUndefined();
    expect(r.limits?.[GPU_RESOURCE]).toBeUndefined();
  });

  it("both profiles size alike", () => {
    for (const m of MACHINE_TYPE_NAMES) {
      expect(machineResources({ machineType: m }, gke), m).toEqual(
        machineResources({ machineType: m }, generic),
      );
    }
  });
});

describe("explicit containerSpec.resources", () => {
  const explicit = { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } };

  it("win whole over a machine without GPUs", () => {
    expect(containerResources(explicit, { machineType: "n1-standard-8" }, generic)).toBe(explicit);
  });

  it("still get the machine spec's GPUs as a limit", () => {
    expect(containerResources(explicit, { machineType: "g2-standard-8" }, generic)).toEqual({
      requests: { cpu: "100m", memory: "256Mi" },
      limits: { memory: "512Mi", [GPU_RESOURCE]: "1" },
    });
  });

  it("cannot ask for other GPU counts than the machine spec's", () => {
    const asking = { requests: { cpu: "1", [GPU_RESOURCE]: "3" }, limits: { [GPU_RESOURCE]: "3" } };
    const spec = { machineType: "n1-standard-4", acceleratorType: "NVIDIA_TESLA_T4", acceleratorCount: 2 };
    expect(containerResources(asking, spec, generic)).toEqual({
      requests: { cpu: "1", [GPU_RESOURCE]: "2" },
      limits: { [GPU_RESOURCE]: "2" },
    });
  });

  it("without a machine spec, stay as written; without both, nothing", () => {
    expect(containerResources(explicit, undefined, gke)).toBe(explicit);
    expect(containerResources(undefined, undefined, gke)).toEqual({});
  });
});

describe("placement profiles", () => {
  it("generic: nothing but the entry's own", () => {
    expect(podPlacement({ machineType: "g2-standard-8" }, undefined, generic)).toEqual({});
    expect(podPlacement({ machineType: "g2-standard-8" }, { nodeSelector: { pool: "a" } }, generic)).toEqual({
      nodeSelector: { pool: "a" },
    });
  });

  it.each(
    Object.entries(GKE_ACCELERATOR_LABELS).map(([type, label]) => {
      const machine = MACHINE_TYPE_NAMES.find((m) => {
        const shape = MACHINE_TYPES[m] as { gpu?: { type: string }; attachable?: Record<string, unknown> };
        return shape.gpu?.type === type || (shape.attachable !== undefined && type in shape.attachable);
      });
      return [type, label, machine ?? ""] as const;
    }),
  )("gke: %s selects the pool labelled %s", (type, label, machine) => {
    const spec = machine.startsWith("n1-")
      ? { machineType: machine, acceleratorType: type, acceleratorCount: 1 }
      : { machineType: machine, acceleratorType: type };
    expect(podPlacement(spec, undefined, gke)).toEqual({
      nodeSelector: {
        "cloud.google.com/gke-accelerator": label,
        "node.kubernetes.io/instance-type": machine,
      },
      tolerations: [GPU_TOLERATION],
    });
  });

  it("gke: a machine with built-in GPUs selects its accelerator without naming it", () => {
    expect(podPlacement({ machineType: "a3-highgpu-8g" }, undefined, gke)).toEqual({
      nodeSelector: {
        "cloud.google.com/gke-accelerator": "nvidia-h100-80gb",
        "node.kubernetes.io/instance-type": "a3-highgpu-8g",
      },
      tolerations: [GPU_TOLERATION],
    });
  });

  it("gke: a machine without GPUs selects its instance type only, and tolerates nothing", () => {
    expect(podPlacement({ machineType: "n1-standard-2" }, undefined, gke)).toEqual({
      nodeSelector: { "node.kubernetes.io/instance-type": "n1-standard-2" },
    });
  });

  it("gke without the instance-type selector", () => {
    const noType = { ...gke, instanceTypeSelector: false };
    expect(podPlacement({ machineType: "n1-standard-2" }, undefined, noType)).toEqual({});
    expect(podPlacement({ machineType: "g2-standard-4" }, undefined, noType)).toEqual({
      nodeSelector: { "cloud.google.com/gke-accelerator": "nvidia-l4" },
      tolerations: [GPU_TOLERATION],
    });
  });

  it("gke: the accelerator labels are configurable", () => {
    const renamed = { ...gke, acceleratorLabels: { ...GKE_ACCELERATOR_LABELS, NVIDIA_L4: "l4-pool" } };
    expect(podPlacement({ machineType: "g2-standard-4" }, undefined, renamed).nodeSelector).toMatchObject({
      "cloud.google.com/gke-accelerator": "l4-pool",
    });
  });

  it("merges the entry's placement: its nodeSelector wins a clash, tolerations are concatenated", () => {
    const affinity = { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } };
    const entry = {
      nodeSelector: { "node.kubernetes.io/instance-type": "g2-standard-12", zone: "a" },
      tolerations: [{ key: "dedicated", operator: "Equal", value: "ml", effect: "NoSchedule" }],
      affinity,
    };
    const placed = podPlacement({ machineType: "g2-standard-8" }, entry, gke);
    expect(placed).toEqual({
      nodeSelector: {
        "cloud.google.com/gke-accelerator": "nvidia-l4",
        "node.kubernetes.io/instance-type": "g2-standard-12",
        zone: "a",
      },
      tolerations: [
        GPU_TOLERATION,
        { key: "dedicated", operator: "Equal", value: "ml", effect: "NoSchedule" },
      ],
      affinity,
    });
    // A copy: building pods never shares (or mutates) the entry's objects.
    expect(placed.affinity).not.toBe(affinity);
  });
});
