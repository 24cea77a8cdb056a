/**
 * Vertex AI machine types mapped to Kubernetes container resources.
 *
 * On Vertex AI, `dedicatedResources.machineSpec.machineType` picks the VM a replica runs on. On a
 * cluster, a replica is a pod, so a machine type stands for the container resources of one pod:
 * requests of the machine's vCPUs and memory, a memory limit equal to the request, and for GPU
 * machines `nvidia.com/gpu` in both requests and limits. No CPU limit is set (CPU limits throttle
 * latency-sensitive servers; the request already reserves the capacity).
 *
 *     n1-standard-2  =>  requests {cpu: "2", memory: "7.5Gi"}, limits {memory: "7.5Gi"}
 *
 * An explicit `containerSpec.resources` wins: when it is set the table is not used at all (the two
 * are not merged), so a small cluster can run a model with `requests: {cpu: 100m}`.
 */

/** The compute one machine type stands for. */
export interface MachineShape {
  /** vCPUs, as a Kubernetes quantity. */
  readonly cpu: string;
  /** Memory, as a Kubernetes quantity (binary units, as Compute Engine documents them). */
  readonly memory: string;
  /** NVIDIA GPUs attached to the machine, if any. */
  readonly gpus?: number;
}

/**
 * The supported machine types. The CRD's `machineType` enum is generated from these keys, so a
 * machine type the operator cannot map is refused at admission.
 */
export const MACHINE_TYPES = {
  "n1-standard-2": { cpu: "2", memory: "7.5Gi" },
  "n1-standard-4": { cpu: "4", memory: "15Gi" },
  "n1-standard-8": { cpu: "8", memory: "30Gi" },
  "n1-standard-16": { cpu: "16", memory: "60Gi" },
  "n1-standard-32": { cpu: "32", memory: "120Gi" },
  "n1-highmem-2": { cpu: "2", memory: "13Gi" },
  "n1-highmem-4": { cpu: "4", memory: "26Gi" },
  "n1-highmem-8": { cpu: "8", memory: "52Gi" },
  "n1-highmem-16": { cpu: "16", memory: "104Gi" },
  "n1-highmem-32": { cpu: "32", memory: "208Gi" },
  "n1-highcpu-4": { cpu: "4", memory: "3.6Gi" },
  "n1-highcpu-8": { cpu: "8", memory: "7.2Gi" },
  "n1-highcpu-16": { cpu: "16", memory: "14.4Gi" },
  "n1-highcpu-32": { cpu: "32", memory: "28.8Gi" },
  "e2-standard-2": { cpu: "2", memory: "8Gi" },
  "e2-standard-4": { cpu: "4", memory: "16Gi" },
  "e2-standard-8": { cpu: "8", memory: "32Gi" },
  "e2-standard-16": { cpu: "16", memory: "64Gi" },
  "e2-standard-32": { cpu: "32", memory: "128Gi" },
  "e2-highmem-2": { cpu: "2", memory: "16Gi" },
  "e2-highmem-4": { cpu: "4", memory: "32Gi" },
  "e2-highmem-8": { cpu: "8", memory: "64Gi" },
  "e2-highmem-16": { cpu: "16", memory: "128Gi" },
  "e2-highcpu-2": { cpu: "2", memory: "2Gi" },
  "e2-highcpu-4": { cpu: "4", memory: "4Gi" },
  "e2-highcpu-8": { cpu: "8", memory: "8Gi" },
  "e2-highcpu-16": { cpu: "16", memory: "16Gi" },
  "e2-highcpu-32": { cpu: "32", memory: "32Gi" },
  "n2-standard-2": { cpu: "2", memory: "8Gi" },
  "n2-standard-4": { cpu: "4", memory: "16Gi" },
  "n2-standard-8": { cpu: "8", memory: "32Gi" },
  "n2-standard-16": { cpu: "16", memory: "64Gi" },
  "n2-standard-32": { cpu: "32", memory: "128Gi" },
  "n2-highmem-2": { cpu: "2", memory: "16Gi" },
  "n2-highmem-4": { cpu: "4", memory: "32Gi" },
  "n2-highmem-8": { cpu: "8", memory: "64Gi" },
  "n2-highmem-16": { cpu: "16", memory: "128Gi" },
  "n2-highcpu-4": { cpu: "4", memory: "4Gi" },
  "n2-highcpu-8": { cpu: "8", memory: "8Gi" },
  "n2-highcpu-16": { cpu: "16", memory: "16Gi" },
  "n2-highcpu-32": { cpu: "32", memory: "32Gi" },
  "g2-standard-4": { cpu: "4", memory: "16Gi", gpus: 1 },
  "g2-standard-8": { cpu: "8", memory: "32Gi", gpus: 1 },
  "g2-standard-12": { cpu: "12", memory: "48Gi", gpus: 1 },
  "g2-standard-16": { cpu: "16", memory: "64Gi", gpus: 1 },
  "g2-standard-24": { cpu: "24", memory: "96Gi", gpus: 2 },
  "g2-standard-32": { cpu: "32", memory: "128Gi", gpus: 1 },
  "a2-highgpu-1g": { cpu: "12", memory: "85Gi", gpus: 1 },
  "a2-highgpu-2g": { cpu: "24", memory: "170Gi", gpus: 2 },
  "a2-highgpu-4g": { cpu: "48", memory: "340Gi", gpus: 4 },
} as const satisfies Record<string, MachineShape>;

export type MachineType = keyof typeof MACHINE_TYPES;

/** The machine types, in table order (the order of the CRD enum and of the docs). */
export const MACHINE_TYPE_NAMES = Object.keys(MACHINE_TYPES) as MachineType[];

/** The Kubernetes resource name a machine's GPUs are requested under. */
export const GPU_RESOURCE = "nvidia.com/gpu";

/** Container resources in Kubernetes' shape. */
export interface ContainerResources {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
}

export function isMachineType(name: string): name is MachineType {
  return Object.hasOwn(MACHINE_TYPES, name);
}

/** The container resources one replica of `machineType` gets (see the table above). */
export function machineTypeResources(machineType: MachineType): ContainerResources {
  const shape: MachineShape = MACHINE_TYPES[machineType];
  const requests: Record<string, string> = { cpu: shape.cpu, memory: shape.memory };
  const limits: Record<string, string> = { memory: shape.memory };
  if (shape.gpus !== undefined) {
    requests[GPU_RESOURCE] = String(shape.gpus);
    limits[GPU_RESOURCE] = String(shape.gpus);
  }
  return { requests, limits };
}

/**
 * The resources of a deployed model's container: its explicit `containerSpec.resources` when set
 * (the table is then ignored), otherwise those of the machine type its compute comes from (for a
 * rolling deployment, the inherited `dedicatedResources`), otherwise none.
 */
export function resolveContainerResources(
  explicit: ContainerResources | undefined,
  machineType: MachineType | undefined,
): ContainerResources {
  if (explicit !== undefined) return explicit;
  if (machineType !== undefined) return machineTypeResources(machineType);
  return {};
}
