/**
 * Where a deployed model's pods run and what they ask for, from its machine spec, its own
 * `placement` and the operator's placement profile (`--placement-profile`). Pure functions.
 *
 * Resources. A machine type stands for one replica, so its pod asks for what a node of that type
 * can give a pod: the machine's *allocatable* CPU and memory, not its capacity, less an allowance
 * for the DaemonSet pods every node runs. Allocatable follows GKE's documented reservation for
 * Standard nodes ("Plan GKE Standard node sizes", Node allocatable resources):
 *
 *   CPU:    6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% of every core above 4;
 *   memory: 255 MiB on a machine under 1 GiB, else 25% of the first 4 GiB, 20% of the next 4,
 *           10% of the next 8, 6% of the next 112 and 2% of everything above 128 GiB,
 *           plus the kubelet's eviction threshold of 100 MiB.
 *
 *     n1-standard-2 (2 CPU, 7.5 GiB), allowance 200m / 256Mi:
 *       CPU    2000m - (60m + 10m) - 200m                                    = 1730m
 *       memory 7680Mi - (1024Mi + 716.8Mi) - 100Mi - 256Mi = 5583.2Mi, down to 5583Mi
 *
 * so its pod fits an n1-standard-2 node, where the whole 2 CPU / 7.5Gi fits only a bigger one. The
 * memory limit equals the request; no CPU limit (it throttles latency-sensitive servers). GPUs go
 * to `nvidia.com/gpu` in requests and limits. An explicit `containerSpec.resources` wins for
 * everything but the GPUs: its pods still get the machine spec's `nvidia.com/gpu`.
 *
 * Placement. The `generic` profile (default) adds nothing: the pods go wherever the scheduler finds
 * room. The `gke` profile requires the node pool the machine spec names, as GKE labels and taints
 * GPU node pools:
 *
 *     nodeSelector  cloud.google.com/gke-accelerator: nvidia-l4     (with an accelerator)
 *                   node.kubernetes.io/instance-type: g2-standard-8  (unless switched off)
 *     tolerations   nvidia.com/gpu Exists NoSchedule                 (with an accelerator)
 *
 * The entry's own placement is merged over it: its nodeSelector wins on a key both set, its
 * tolerations come after the profile's, its affinity is the pods' affinity.
 */
import {
  GPU_RESOURCE,
  isMachineType,
  machineAccelerator,
  machineShape,
  type AcceleratorType,
  type ContainerResources,
  type MachineShape,
  type MachineSpecInput,
} from "../api/machine-types.ts";
import { quantityValue } from "../api/spec.ts";

export const PLACEMENT_PROFILES = ["generic", "gke"] as const;
export type PlacementProfileName = (typeof PLACEMENT_PROFILES)[number];

/** The node label GKE puts the accelerator of a GPU node pool in. */
export const LABEL_GKE_ACCELERATOR = "cloud.google.com/gke-accelerator";
/** The well-known node label holding the node's machine type. */
export const LABEL_INSTANCE_TYPE = "node.kubernetes.io/instance-type";
/** GKE's taint on GPU node pools (nvidia.com/gpu=present:NoSchedule). */
export const GPU_TAINT_KEY = "nvidia.com/gpu";
/** The kubelet's hard eviction threshold on GKE (memory.available < 100Mi). */
export const EVICTION_THRESHOLD_MI = 100;

/** GKE's `cloud.google.com/gke-accelerator` value of each accelerator type. */
export const GKE_ACCELERATOR_LABELS: Readonly<Record<AcceleratorType, string>> = {
  NVIDIA_TESLA_T4: "nvidia-tesla-t4",
  NVIDIA_TESLA_V100: "nvidia-tesla-v100",
  NVIDIA_TESLA_P4: "nvidia-tesla-p4",
  NVIDIA_TESLA_P100: "nvidia-tesla-p100",
  NVIDIA_L4: "nvidia-l4",
  NVIDIA_TESLA_A100: "nvidia-tesla-a100",
  NVIDIA_A100_80GB: "nvidia-a100-80gb",
  NVIDIA_H100_80GB: "nvidia-h100-80gb",
  NVIDIA_H100_MEGA_80GB: "nvidia-h100-mega-80gb",
  NVIDIA_H200_141GB: "nvidia-h200-141gb",
  NVIDIA_B200: "nvidia-b200",
};

/** How model pods are sized and placed: operator configuration (docs/install.md, "Placement"). */
export interface PlacementProfile {
  readonly name: PlacementProfileName;
  /** gke: also require `node.kubernetes.io/instance-type` = the machine type. */
  readonly instanceTypeSelector: boolean;
  /** What each node's DaemonSet pods are taken to request: kept free of a replica's request. */
  readonly daemonSetReserve: { readonly cpuMillis: number; readonly memoryMi: number };
  /** gke: the `cloud.google.com/gke-accelerator` value of each accelerator type. */
  readonly acceleratorLabels: Readonly<Record<AcceleratorType, string>>;
}

export const DEFAULT_PLACEMENT_PROFILE: PlacementProfile = {
  name: "generic",
  instanceTypeSelector: true,
  daemonSetReserve: { cpuMillis: 200, memoryMi: 256 },
  acceleratorLabels: GKE_ACCELERATOR_LABELS,
};

/** A toleration in Kubernetes' shape. */
export interface Toleration {
  readonly key?: string | undefined;
  readonly operator?: string | undefined;
  readonly value?: string | undefined;
  readonly effect?: string | undefined;
  readonly tolerationSeconds?: number | undefined;
}

/** A deployed model's own placement (its entry's, or inherited). */
export interface EntryPlacement {
  readonly nodeSelector?: Readonly<Record<string, string>> | undefined;
  readonly tolerations?: readonly Toleration[] | undefined;
  readonly affinity?: Readonly<Record<string, unknown>> | undefined;
}

/** The placement fields of a pod spec; a field with nothing in it is left out. */
export interface PodPlacement {
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly tolerations?: readonly Toleration[];
  readonly affinity?: Readonly<Record<string, unknown>>;
}

/** Sums `rate` of each band of `amount`: bands are [upper bound, rate], in increasing order. */
function banded(amount: number, bands: readonly (readonly [number, number])[]): number {
  let reserved = 0;
  let lower = 0;
  for (const [upper, rate] of bands) {
    if (amount <= lower) break;
    reserved += (Math.min(amount, upper) - lower) * rate;
    lower = upper;
  }
  return reserved;
}

/** CPU GKE reserves on a node of `cpuMillis` (see the module comment). */
export function reservedCpuMillis(cpuMillis: number): number {
  return banded(cpuMillis, [
    [1000, 0.06],
    [2000, 0.01],
    [4000, 0.005],
    [Number.POSITIVE_INFINITY, 0.0025],
  ]);
}

/** Memory GKE reserves on a node of `memoryMi`, eviction threshold not included. */
export function reservedMemoryMi(memoryMi: number): number {
  if (memoryMi < 1024) return 255;
  return banded(memoryMi, [
    [4 * 1024, 0.25],
    [8 * 1024, 0.2],
    [16 * 1024, 0.1],
    [128 * 1024, 0.06],
    [Number.POSITIVE_INFINITY, 0.02],
  ]);
}

/** A node's allocatable CPU (millicores) and memory (MiB) for pods, before any DaemonSet. */
export function allocatable(shape: MachineShape): { readonly cpuMillis: number; readonly memoryMi: number } {
  const cpuMillis = quantityValue(shape.cpu) * 1000;
  const memoryMi = quantityValue(shape.memory) / 2 ** 20;
  return {
    cpuMillis: cpuMillis - reservedCpuMillis(cpuMillis),
    memoryMi: memoryMi - reservedMemoryMi(memoryMi) - EVICTION_THRESHOLD_MI,
  };
}

/** The container resources one replica of a machine spec gets (see the module comment). */
export function machineResources(
  spec: MachineSpecInput,
  profile: PlacementProfile = DEFAULT_PLACEMENT_PROFILE,
): ContainerResources {
  if (!isMachineType(spec.machineType)) return {};
  const free = allocatable(machineShape(spec.machineType));
  const cpu = Math.max(1, Math.floor(free.cpuMillis - profile.daemonSetReserve.cpuMillis));
  const memory = Math.max(1, Math.floor(free.memoryMi - profile.daemonSetReserve.memoryMi));
  const requests: Record<string, string> = { cpu: `${String(cpu)}m`, memory: `${String(memory)}Mi` };
  const limits: Record<string, string> = { memory: `${String(memory)}Mi` };
  const gpu = machineAccelerator(spec);
  if (gpu !== undefined) {
    requests[GPU_RESOURCE] = String(gpu.count);
    limits[GPU_RESOURCE] = String(gpu.count);
  }
  return { requests, limits };
}

/**
 * The resources of a deployed model's container: its explicit `containerSpec.resources` when set,
 * with the machine spec's GPUs forced into them (a request the user gave for them too); otherwise
 * those of its machine spec (for a rolling deployment, the inherited one); otherwise none.
 */
export function containerResources(
  explicit: ContainerResources | undefined,
  spec: MachineSpecInput | undefined,
  profile: PlacementProfile = DEFAULT_PLACEMENT_PROFILE,
): ContainerResources {
  if (explicit === undefined) return spec === undefined ? {} : machineResources(spec, profile);
  const gpu = machineAccelerator(spec);
  if (gpu === undefined) return explicit;
  const count = String(gpu.count);
  return {
    ...(explicit.requests === undefined
      ? {}
      : {
          requests:
            GPU_RESOURCE in explicit.requests
              ? { ...explicit.requests, [GPU_RESOURCE]: count }
              : explicit.requests,
        }),
    limits: { ...explicit.limits, [GPU_RESOURCE]: count },
  };
}

/** The placement of a deployed model's pods: the profile's, with the entry's merged over it. */
export function podPlacement(
  spec: MachineSpecInput | undefined,
  entry: EntryPlacement | undefined,
  profile: PlacementProfile = DEFAULT_PLACEMENT_PROFILE,
): PodPlacement {
  const selector: Record<string, string> = {};
  const tolerations: Toleration[] = [];
  if (profile.name === "gke" && spec !== undefined) {
    const gpu = machineAccelerator(spec);
    if (gpu !== undefined) {
      selector[LABEL_GKE_ACCELERATOR] = profile.acceleratorLabels[gpu.type];
      tolerations.push({ key: GPU_TAINT_KEY, operator: "Exists", effect: "NoSchedule" });
    }
    if (profile.instanceTypeSelector) selector[LABEL_INSTANCE_TYPE] = spec.machineType;
  }
  Object.assign(selector, entry?.nodeSelector ?? {});
  tolerations.push(...(entry?.tolerations ?? []).map((t) => ({ ...t })));
  return {
    ...(Object.keys(selector).length === 0 ? {} : { nodeSelector: selector }),
    ...(tolerations.length === 0 ? {} : { tolerations }),
    ...(entry?.affinity === undefined ? {} : { affinity: structuredClone(entry.affinity) }),
  };
}
