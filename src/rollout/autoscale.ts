/**
 * Autoscaling of a rollout chain between minReplicaCount and maxReplicaCount (Vertex AI's
 * autoscalingMetricSpecs), decided the way Kubernetes' HorizontalPodAutoscaler decides:
 *
 * - Each metric proposes `ceil(counted pods * reading / target)`; within the tolerance (10%) of the
 *   target it proposes no change. The largest proposal wins.
 * - Pods without a reading, and pods not Ready (CPU only), make the proposal cautious: they count
 *   as idle when it would scale up and as at target when it would scale down; when they would turn
 *   the direction around, nothing changes (the HPA's replica calculator).
 * - Scaling down is stabilised: the count never goes below the highest proposal of the last
 *   `scaleDownStabilizationMs` (5 minutes by default), so a dip does not remove replicas a peak
 *   needs again. Scaling up is limited to max(2 x N, N + 4) per decision (the HPA's default
 *   policies), and decisions are at least `syncPeriodMs` apart.
 * - The result is clamped to [minReplicaCount, maxReplicaCount].
 *
 * The decision is the chain's pool size N: the rolling-deployment budgets are taken from it, so a
 * scale during a rollout moves the floor and the ceiling together with N (docs/autoscaling.md).
 * Pure: the readings, the clock and the memory of earlier proposals are inputs.
 */

/** Vertex AI's metric names (pinned to the API's list by a test). */
export const CPU_UTILIZATION = "aiplatform.googleapis.com/prediction/online/cpu/utilization";
export const ACCELERATOR_DUTY_CYCLE = "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle";
export const AUTOSCALING_METRICS = [CPU_UTILIZATION, ACCELERATOR_DUTY_CYCLE] as const;
export type AutoscalingMetric = (typeof AUTOSCALING_METRICS)[number];

/** The target utilization when a metric spec gives none, and of the default metrics. */
export const DEFAULT_TARGET_PERCENT = 60;

/** How the autoscaler behaves; operator configuration. */
export interface AutoscalingPolicy {
  /** Least time between two decisions (the HPA's sync period, 15 s). */
  readonly syncPeriodMs: number;
  /** Scale down no lower than the highest proposal of this window (the HPA's 5 minutes). */
  readonly scaleDownStabilizationMs: number;
  /** A reading within this fraction of the target proposes no change (the HPA's 0.1). */
  readonly tolerance: number;
}

export const DEFAULT_AUTOSCALING_POLICY: AutoscalingPolicy = {
  syncPeriodMs: 15_000,
  scaleDownStabilizationMs: 300_000,
  tolerance: 0.1,
};

/** A metric the chain scales by. */
export interface MetricTarget {
  readonly metricName: AutoscalingMetric;
  /** Percent. */
  readonly target: number;
}

/** What is known of one pod of the chain (not terminating). */
export interface PodReading {
  readonly ready: boolean;
  /** CPU used, in millicores; undefined without a reading. */
  readonly cpuUsageMillis?: number | undefined;
  /** The pod's CPU request, in millicores; utilization needs it. */
  readonly cpuRequestMillis?: number | undefined;
  /** Accelerator duty cycle, percent; undefined without a reading. */
  readonly dutyCyclePercent?: number | undefined;
}

/** A proposal remembered for scale-down stabilisation. */
export interface Proposal {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly replicas: number;
}

export interface AutoscaleInput {
  readonly min: number;
  readonly max: number;
  readonly metrics: readonly MetricTarget[];
  /** N now: the count the last decision left. */
  readonly current: number;
  readonly pods: readonly PodReading[];
  /** Earlier proposals, oldest first (empty after a restart). */
  readonly proposals: readonly Proposal[];
  /** Milliseconds since the epoch. */
  readonly now: number;
  readonly policy: AutoscalingPolicy;
  /** Why the metrics APIs gave nothing, when known (said for a metric without readings). */
  readonly unavailable?: string | undefined;
}

/** One metric's reading, for status. */
export interface MetricReading {
  readonly metricName: AutoscalingMetric;
  readonly target: number;
  /** Average percent over the pods read; undefined without a reading. */
  readonly currentValue?: number;
  /** Why there is no reading. */
  readonly missing?: string;
}

export interface AutoscaleDecision {
  /** The new N, within [min, max]. */
  readonly desired: number;
  /** The proposals to remember for the next decision. */
  readonly proposals: readonly Proposal[];
  readonly readings: readonly MetricReading[];
  /** False when the sync period had not passed: `desired` is `current` and nothing was read. */
  readonly decided: boolean;
  /** What held the count, when something did ("scale-down stabilised", "no metric readings"). */
  readonly note?: string;
}

/** Compute that asks for autoscaling: a maxReplicaCount above its minReplicaCount. */
export function isAutoscaled(
  resources:
    | { readonly minReplicaCount?: number | undefined; readonly maxReplicaCount?: number | undefined }
    | undefined,
): boolean {
  return (resources?.maxReplicaCount ?? 0) > (resources?.minReplicaCount ?? 0);
}

/** The metrics of a chain: its own, or CPU (and duty cycle with accelerators) at 60%. */
export function resolveMetrics(
  specs: readonly { readonly metricName: string; readonly target?: number | undefined }[] | undefined,
  accelerated: boolean,
): MetricTarget[] {
  const known = (specs ?? []).flatMap((s): MetricTarget[] => {
    const name = s.metricName;
    return isMetric(name) ? [{ metricName: name, target: s.target ?? DEFAULT_TARGET_PERCENT }] : [];
  });
  if (known.length > 0) return known;
  const defaults: MetricTarget[] = [{ metricName: CPU_UTILIZATION, target: DEFAULT_TARGET_PERCENT }];
  if (accelerated) defaults.push({ metricName: ACCELERATOR_DUTY_CYCLE, target: DEFAULT_TARGET_PERCENT });
  return defaults;
}

function isMetric(name: string): name is AutoscalingMetric {
  return (AUTOSCALING_METRICS as readonly string[]).includes(name);
}

export function clamp(n: number, min: number, max: number): number {
  return Math.min(Math.max(n, min), Math.max(min, max));
}

/** The chain's next N. */
export function decideReplicas(input: AutoscaleInput): AutoscaleDecision {
  const { min, max, current, now, policy } = input;
  const held = clamp(current, min, max);
  const last = input.proposals.at(-1);
  if (last !== undefined && now - last.at < policy.syncPeriodMs && now >= last.at) {
    return { desired: held, proposals: input.proposals, readings: [], decided: false };
  }
  const proposals = input.metrics.map((m) => propose(m, input));
  const readings = proposals.map((p) => p.reading);
  const counted = proposals.flatMap((p) => (p.replicas === undefined ? [] : [p.replicas]));
  // Without any reading nothing changes but the bounds: a missing metrics pipeline must not scale
  // a loaded model down to its minimum.
  if (counted.length === 0) {
    return {
      desired: held,
      proposals: remember(input.proposals, { at: now, replicas: held }, now, policy),
      readings,
      decided: true,
      note: "no metric readings: the replica count holds",
    };
  }
  const proposal = clamp(Math.max(...counted), min, max);
  // Seeded with N after a restart, so the first decision cannot scale down before a full window.
  const seeded = input.proposals.length === 0 ? [{ at: now, replicas: held }] : input.proposals;
  const remembered = remember(seeded, { at: now, replicas: proposal }, now, policy);
  let desired = proposal;
  let note: string | undefined;
  if (proposal < held) {
    const highest = Math.max(...remembered.map((p) => p.replicas));
    desired = Math.min(held, Math.max(proposal, highest));
    if (desired > proposal) note = `scale-down stabilised: ${String(desired)} proposed within the window`;
  } else if (proposal > held) {
    const limit = Math.max(held * 2, held + 4);
    if (proposal > limit) note = `scale-up limited to ${String(limit)} in one step`;
    desired = Math.min(proposal, limit);
  }
  return {
    desired: clamp(desired, min, max),
    proposals: remembered,
    readings,
    decided: true,
    ...(note ? { note } : {}),
  };
}

/** Appends a proposal and forgets those older than the stabilisation window (keeping the newest). */
function remember(
  proposals: readonly Proposal[],
  next: Proposal,
  now: number,
  policy: AutoscalingPolicy,
): Proposal[] {
  return [...proposals.filter((p) => now - p.at <= policy.scaleDownStabilizationMs && p.at <= now), next];
}

interface MetricProposal {
  readonly replicas: number | undefined;
  readonly reading: MetricReading;
}

/**
 * One metric's proposal, as the HPA's replica calculator makes it for a resource utilization
 * (CPU: unready pods count) or a per-pod average (duty cycle: readiness does not matter).
 */
function propose(metric: MetricTarget, input: AutoscaleInput): MetricProposal {
  const cpu = metric.metricName === CPU_UTILIZATION;
  const base = { metricName: metric.metricName, target: metric.target };
  const tolerance = input.policy.tolerance;
  // As the HPA: utilization is unknown while any pod requests no CPU (a revision without a
  // machineType or resources.requests.cpu), and then nothing is proposed from it.
  const unrequested = cpu ? input.pods.filter((p) => (p.cpuRequestMillis ?? 0) <= 0).length : 0;
  if (unrequested > 0) {
    const missing = `${String(unrequested)} of ${String(input.pods.length)} pods request no CPU, so their utilization is unknown: give every revision of the chain resources.requests.cpu or a machineType`;
    return { replicas: undefined, reading: { ...base, missing } };
  }
  // Each pod: its value in percent (undefined without one), and whether it counts now.
  const read = input.pods.map((pod) => ({ pod, value: valueOf(pod, cpu) }));
  const withValue = read.filter((r) => r.value !== undefined && (!cpu || r.pod.ready));
  if (withValue.length === 0) {
    const missing = input.unavailable ?? "no reading from the cluster's metrics API yet";
    return { replicas: undefined, reading: { ...base, missing } };
  }
  const unready = cpu ? read.filter((r) => !r.pod.ready).length : 0;
  const missing = read.filter((r) => r.value === undefined && (!cpu || r.pod.ready)).length;
  const average = mean(
    withValue.map((r) => r.value ?? 0),
    withValue.map((r) => weightOf(r.pod, cpu)),
  );
  const reading: MetricReading = { ...base, currentValue: Math.round(average) };
  const ratio = average / metric.target;
  const current = input.current;
  if (unready === 0 && missing === 0) {
    if (Math.abs(ratio - 1) <= tolerance) return { replicas: current, reading };
    return { replicas: Math.ceil(ratio * withValue.length), reading };
  }
  // Cautious: pods without a value pull towards "no change".
  const up = ratio > 1;
  // As the HPA: missing CPU counts as its whole request on a scale-down, a missing average as the target.
  const assumed = up ? 0 : cpu ? 100 : metric.target;
  const values = [
    ...withValue.map((r) => r.value ?? 0),
    ...Array<number>(missing + (up ? unready : 0)).fill(assumed),
  ];
  const weights = [
    ...withValue.map((r) => weightOf(r.pod, cpu)),
    ...read
      .filter((r) => (r.value === undefined && (!cpu || r.pod.ready)) || (up && cpu && !r.pod.ready))
      .map((r) => weightOf(r.pod, cpu)),
  ];
  const newRatio = mean(values, weights) / metric.target;
  if (Math.abs(newRatio - 1) <= tolerance || (up && newRatio < 1) || (!up && newRatio > 1)) {
    return { replicas: current, reading };
  }
  const replicas = Math.ceil(newRatio * values.length);
  if ((up && replicas < current) || (!up && replicas > current)) return { replicas: current, reading };
  return { replicas, reading };
}

/** A pod's value in percent: CPU usage over its request, or its duty cycle. */
function valueOf(pod: PodReading, cpu: boolean): number | undefined {
  if (!cpu) return pod.dutyCyclePercent;
  if (pod.cpuUsageMillis === undefined || pod.cpuRequestMillis === undefined || pod.cpuRequestMillis <= 0)
    return undefined;
  return (pod.cpuUsageMillis / pod.cpuRequestMillis) * 100;
}

/** CPU utilization averages over requests (sum of usage / sum of requests); duty cycle per pod. */
function weightOf(pod: PodReading, cpu: boolean): number {
  return cpu ? (pod.cpuRequestMillis ?? 0) : 1;
}

function mean(values: readonly number[], weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return 0;
  return values.reduce((sum, v, i) => sum + v * (weights[i] ?? 0), 0) / total;
}
