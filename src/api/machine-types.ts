/**
 * Vertex AI machine types and accelerators: what each machine is, and which accelerators it takes.
 *
 * On Vertex AI, `dedicatedResources.machineSpec` picks the VM a replica runs on: `machineType`, and
 * for GPUs `acceleratorType` and `acceleratorCount`. On a cluster a replica is a pod, so a machine
 * spec stands for the container resources of one pod (sized to fit the machine's allocatable
 * resources: src/controller/placement.ts) and, with a placement profile, for the nodes it may run on.
 *
 * Sources of the figures (Google Cloud documentation):
 * - vCPUs and memory: Compute Engine's machine families ("General-purpose machine family" for
 *   n1, n2, e2; "Accelerator-optimized machine family" for g2, a2, a3, a4), memory in GiB as
 *   Compute Engine means its "GB";
 * - the GPUs built into accelerator-optimized machines: the same page (g2: NVIDIA L4; a2-highgpu
 *   and a2-megagpu: A100 40GB; a2-ultragpu: A100 80GB; a3-highgpu: H100 80GB; a3-megagpu: H100
 *   Mega 80GB; a3-ultragpu: H200 141GB; a4-highgpu: B200);
 * - the GPUs an n1 machine may take and how many: Vertex AI's "Configure compute resources for
 *   inference" (T4, P4 and P100: 1, 2 or 4; V100: 1, 2, 4 or 8; a 32-vCPU machine needs at least 2
 *   T4, P4 or P100 and at least 4 V100, a 16-vCPU machine at least 2 V100), which follows Compute
 *   Engine's vCPU limits per GPU count on N1.
 *
 *     g2-standard-8                                   =>  1 NVIDIA_L4 (built in; acceleratorType may be left out)
 *     n1-standard-8 + NVIDIA_TESLA_T4 x 2             =>  2 GPUs attached
 *     n1-standard-32 + NVIDIA_TESLA_V100 x 2          =>  refused: 4 or 8
 *     e2-standard-4 + NVIDIA_TESLA_T4 x 1             =>  refused: e2 machines take no accelerator
 */

/** Vertex AI's AcceleratorType names of the NVIDIA GPUs the table knows. */
export const ACCELERATOR_TYPES = [
  "NVIDIA_TESLA_T4",
  "NVIDIA_TESLA_V100",
  "NVIDIA_TESLA_P4",
  "NVIDIA_TESLA_P100",
  "NVIDIA_L4",
  "NVIDIA_TESLA_A100",
  "NVIDIA_A100_80GB",
  "NVIDIA_H100_80GB",
  "NVIDIA_H100_MEGA_80GB",
  "NVIDIA_H200_141GB",
  "NVIDIA_B200",
] as const;

export type AcceleratorType = (typeof ACCELERATOR_TYPES)[number];

/** A machine's GPUs: which, and how many. */
export interface Accelerator {
  readonly type: AcceleratorType;
  readonly count: number;
}

/** The compute one machine type stands for. */
export interface MachineShape {
  /** vCPUs, as a Kubernetes quantity. */
  readonly cpu: string;
  /** Memory, as a Kubernetes quantity (binary units, as Compute Engine documents them). */
  readonly memory: string;
  /** The GPUs built into the machine: the only accelerator it takes, always this many. */
  readonly gpu?: Accelerator;
  /** GPUs that may be attached to it (n1), with the counts allowed for each. */
  readonly attachable?: Readonly<Partial<Record<AcceleratorType, readonly number[]>>>;
}

/** What an n1 machine with `vcpus` vCPUs may take (see the sources above). */
function n1Gpus(vcpus: number): Readonly<Partial<Record<AcceleratorType, readonly number[]>>> {
  const small = vcpus >= 32 ? [2, 4] : [1, 2, 4];
  const v100 = vcpus >= 32 ? [4, 8] : vcpus >= 16 ? [2, 4, 8] : [1, 2, 4, 8];
  return {
    NVIDIA_TESLA_T4: small,
    NVIDIA_TESLA_P4: small,
    NVIDIA_TESLA_V100: v100,
    NVIDIA_TESLA_P100: small,
  };
}

const n1 = (cpu: number, memory: string): MachineShape => ({
  cpu: String(cpu),
  memory,
  attachable: n1Gpus(cpu),
});

const withGpu = (cpu: number, memory: string, type: AcceleratorType, count: number): MachineShape => ({
  cpu: String(cpu),
  memory,
  gpu: { type, count },
});

/**
 * The supported machine types. The CRD's `machineType` enum and its accelerator rules are generated
 * from this table, so a machine type or accelerator the operator cannot map is refused at admission.
 */
export const MACHINE_TYPES = {
  "n1-standard-2": n1(2, "7.5Gi"),
  "n1-standard-4": n1(4, "15Gi"),
  "n1-standard-8": n1(8, "30Gi"),
  "n1-standard-16": n1(16, "60Gi"),
  "n1-standard-32": n1(32, "120Gi"),
  "n1-highmem-2": n1(2, "13Gi"),
  "n1-highmem-4": n1(4, "26Gi"),
  "n1-highmem-8": n1(8, "52Gi"),
  "n1-highmem-16": n1(16, "104Gi"),
  "n1-highmem-32": n1(32, "208Gi"),
  "n1-highcpu-4": n1(4, "3.6Gi"),
  "n1-highcpu-8": n1(8, "7.2Gi"),
  "n1-highcpu-16": n1(16, "14.4Gi"),
  "n1-highcpu-32": n1(32, "28.8Gi"),
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
  "g2-standard-4": withGpu(4, "16Gi", "NVIDIA_L4", 1),
  "g2-standard-8": withGpu(8, "32Gi", "NVIDIA_L4", 1),
  "g2-standard-12": withGpu(12, "48Gi", "NVIDIA_L4", 1),
  "g2-standard-16": withGpu(16, "64Gi", "NVIDIA_L4", 1),
  "g2-standard-24": withGpu(24, "96Gi", "NVIDIA_L4", 2),
  "g2-standard-32": withGpu(32, "128Gi", "NVIDIA_L4", 1),
  "g2-standard-48": withGpu(48, "192Gi", "NVIDIA_L4", 4),
  "g2-standard-96": withGpu(96, "384Gi", "NVIDIA_L4", 8),
  "a2-highgpu-1g": withGpu(12, "85Gi", "NVIDIA_TESLA_A100", 1),
  "a2-highgpu-2g": withGpu(24, "170Gi", "NVIDIA_TESLA_A100", 2),
  "a2-highgpu-4g": withGpu(48, "340Gi", "NVIDIA_TESLA_A100", 4),
  "a2-highgpu-8g": withGpu(96, "680Gi", "NVIDIA_TESLA_A100", 8),
  "a2-megagpu-16g": withGpu(96, "1360Gi", "NVIDIA_TESLA_A100", 16),
  "a2-ultragpu-1g": withGpu(12, "170Gi", "NVIDIA_A100_80GB", 1),
  "a2-ultragpu-2g": withGpu(24, "340Gi", "NVIDIA_A100_80GB", 2),
  "a2-ultragpu-4g": withGpu(48, "680Gi", "NVIDIA_A100_80GB", 4),
  "a2-ultragpu-8g": withGpu(96, "1360Gi", "NVIDIA_A100_80GB", 8),
  "a3-highgpu-1g": withGpu(26, "234Gi", "NVIDIA_H100_80GB", 1),
  "a3-highgpu-2g": withGpu(52, "468Gi", "NVIDIA_H100_80GB", 2),
  "a3-highgpu-4g": withGpu(104, "936Gi", "NVIDIA_H100_80GB", 4),
  "a3-highgpu-8g": withGpu(208, "1872Gi", "NVIDIA_H100_80GB", 8),
  "a3-megagpu-8g": withGpu(208, "1872Gi", "NVIDIA_H100_MEGA_80GB", 8),
  "a3-ultragpu-8g": withGpu(224, "2952Gi", "NVIDIA_H200_141GB", 8),
  "a4-highgpu-8g": withGpu(224, "3968Gi", "NVIDIA_B200", 8),
} as const satisfies Record<string, MachineShape>;

export type MachineType = keyof typeof MACHINE_TYPES;

/** The machine types, in table order (the order of the CRD enum and of the docs). */
export const MACHINE_TYPE_NAMES = Object.keys(MACHINE_TYPES) as MachineType[];

/** The Kubernetes resource name GPUs are requested under (NVIDIA's device plugin). */
export const GPU_RESOURCE = "nvidia.com/gpu";

/** Container resources in Kubernetes' shape. */
export interface ContainerResources {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
}

export function isMachineType(name: string): name is MachineType {
  return Object.hasOwn(MACHINE_TYPES, name);
}

export function isAcceleratorType(name: string): name is AcceleratorType {
  return (ACCELERATOR_TYPES as readonly string[]).includes(name);
}

/** The shape of a machine type. */
export function machineShape(machineType: MachineType): MachineShape {
  return MACHINE_TYPES[machineType];
}

/** The GPUs built into `machineType`, if it has any. */
export function builtInGpu(machineType: MachineType): MachineShape["gpu"] {
  return machineShape(machineType).gpu;
}

/** The accelerators `machineType` takes, with the counts allowed for each (empty: none). */
export function allowedAccelerators(
  machineType: MachineType,
): Readonly<Partial<Record<AcceleratorType, readonly number[]>>> {
  const shape: MachineShape = MACHINE_TYPES[machineType];
  if (shape.gpu !== undefined) return { [shape.gpu.type]: [shape.gpu.count] };
  return shape.attachable ?? {};
}

/** "1", "1 or 2", "1, 2 or 4". */
export function orList(items: readonly (string | number)[]): string {
  const words = items.map(String);
  return words.length <= 1 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words.at(-1) ?? ""}`;
}

/** What `machineType` takes, as the admission messages say it. */
export function describeAccelerators(machineType: MachineType): string {
  const shape: MachineShape = MACHINE_TYPES[machineType];
  if (shape.gpu !== undefined) return `only its built-in ${shape.gpu.type} (${String(shape.gpu.count)})`;
  const types = Object.keys(shape.attachable ?? {});
  return types.length === 0 ? "no accelerator" : orList(types);
}

/** The counts of `type` allowed on `machineType`, as the admission messages say them. */
export function describeCounts(machineType: MachineType, type: AcceleratorType): string {
  const shape: MachineShape = MACHINE_TYPES[machineType];
  const counts = allowedAccelerators(machineType)[type] ?? [];
  return shape.gpu !== undefined
    ? `${String(shape.gpu.count)}, the GPUs built into the machine`
    : orList(counts);
}

/** A machine spec as the API holds it. */
export interface MachineSpecInput {
  readonly machineType: string;
  readonly acceleratorType?: string | undefined;
  readonly acceleratorCount?: number | undefined;
}

/**
 * The GPUs a machine spec gives one replica: the ones it names, else the ones built into its
 * machine; undefined for a machine without any. An accelerator-optimized machine's count is its
 * built-in count when the spec leaves it out.
 *
 *     {g2-standard-24}                            => NVIDIA_L4 x 2
 *     {n1-standard-8, NVIDIA_TESLA_T4, 2}         => NVIDIA_TESLA_T4 x 2
 *     {n1-standard-8}                             => undefined
 */
export function machineAccelerator(spec: MachineSpecInput | undefined): Accelerator | undefined {
  if (spec === undefined || !isMachineType(spec.machineType)) return undefined;
  const shape: MachineShape = MACHINE_TYPES[spec.machineType];
  const type = spec.acceleratorType ?? shape.gpu?.type;
  if (type === undefined || !isAcceleratorType(type)) return undefined;
  const count = spec.acceleratorCount ?? (shape.gpu?.type === type ? shape.gpu.count : undefined);
  return count === undefined ? undefined : { type, count };
}
